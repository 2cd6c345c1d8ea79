"""The compiled hot path: which modules, when the compiled build is used, and the fallback."""

from __future__ import annotations

import importlib
import importlib.machinery
import os
import subprocess
import sys
from pathlib import Path

import pytest

import pipeline.domain.orders
from pipeline import compiled
from pipeline.compiled import (
    MANIFEST,
    PURE_ENV,
    _SourceFirstFinder,
    compiled_artifact,
    decide,
    module_name,
    native_sources,
    write_manifest,
)

SUFFIX = importlib.machinery.EXTENSION_SUFFIXES[0]


def test_native_sources_are_the_domain_the_venues_and_the_envelope_without_inits() -> None:
    names = {module_name(path) for path in native_sources()}
    assert {
        "pipeline.domain.orders",
        "pipeline.domain.ledger",
        "pipeline.domain.book",
        "pipeline.venues.base",
        "pipeline.venues.upbit.orders",
        "pipeline.venues.binance.user_stream",
        "pipeline.envelope",
    } <= names
    assert not any(name.endswith("__init__") for name in names)
    assert not any(name.startswith(("pipeline.streams", "pipeline.sim")) for name in names)
    # a venue's signing, client and registry are off the hot path: plain Python
    off_path = (".auth", ".client", ".errors", ".capabilities", ".registry", ".credentials")
    assert not any(n.startswith("pipeline.venues") and n.endswith(off_path) for n in names)
    assert "pipeline.domain.errors" in names


def test_make_reads_the_same_list_from_the_module() -> None:
    root = Path(compiled.__file__).resolve().parent.parent
    out = subprocess.run(
        [sys.executable, "pipeline/compiled.py"], cwd=root, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    expected = [str(path.relative_to(root)) for path in native_sources()]
    assert out.stdout.split() == expected


def _package(tmp_path: Path, names: list[str], built: list[str]) -> list[Path]:
    """Sources `names`; a (fake) extension and a manifest entry for each of `built`."""
    sources = []
    for name in names:
        source = tmp_path / f"{name}.py"
        source.write_text(f"X = {name!r}\n")
        sources.append(source)
    for name in built:
        (tmp_path / f"{name}{SUFFIX}").write_bytes(b"not really an extension")
    write_manifest(tmp_path / MANIFEST, [tmp_path / f"{name}.py" for name in built], tmp_path)
    return sources


def test_pure_python_when_asked(tmp_path: Path) -> None:
    sources = _package(tmp_path, ["a", "b"], ["a", "b"])
    status = decide(sources, pure_requested=True, package_root=tmp_path)
    assert not status.compiled
    assert PURE_ENV in status.reason


def test_pure_python_when_nothing_was_compiled(tmp_path: Path) -> None:
    status = decide(_package(tmp_path, ["a", "b"], []), False, package_root=tmp_path)
    assert (status.compiled, status.reason, status.stale) == (
        False,
        "plain Python (not compiled)",
        (),
    )


def test_compiled_when_every_source_is_what_was_compiled(tmp_path: Path) -> None:
    sources = _package(tmp_path, ["a", "b"], ["a", "b"])
    assert compiled_artifact(sources[0]) == tmp_path / f"a{SUFFIX}"
    for source in sources:  # a wheel install gives every file a new time: times do not matter
        os.utime(source, (source.stat().st_atime + 60, source.stat().st_mtime + 60))
    status = decide(sources, pure_requested=False, package_root=tmp_path)
    assert status.compiled, status


def test_one_edited_source_makes_all_of_them_plain_python(tmp_path: Path) -> None:
    sources = _package(tmp_path, ["a", "b"], ["a", "b"])
    sources[1].write_text("X = 'edited'\n")
    status = decide(sources, pure_requested=False, package_root=tmp_path)
    assert not status.compiled
    assert status.stale == ("b.py",)


def test_a_source_without_its_compiled_module_is_stale(tmp_path: Path) -> None:
    sources = _package(tmp_path, ["a", "b"], ["a"])
    status = decide(sources, pure_requested=False, package_root=tmp_path)
    assert not status.compiled
    assert status.stale == ("b.py",)


def test_without_the_manifest_nothing_counts_as_compiled(tmp_path: Path) -> None:
    sources = _package(tmp_path, ["a"], ["a"])
    (tmp_path / MANIFEST).unlink()
    status = decide(sources, pure_requested=False, package_root=tmp_path)
    assert not status.compiled
    assert status.stale == ("a.py",)


def test_source_first_finder_loads_the_py_file_beside_a_stale_extension(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    package = tmp_path / "hotpkg_probe"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "mod.py").write_text("ORIGIN = 'source'\n")
    (package / f"mod{SUFFIX}").write_bytes(b"stale, and not even a shared object")
    monkeypatch.syspath_prepend(str(tmp_path))
    for name in ("hotpkg_probe", "hotpkg_probe.mod"):
        monkeypatch.delitem(sys.modules, name, raising=False)
    with pytest.raises(ImportError):  # what Python does on its own: the extension wins
        importlib.import_module("hotpkg_probe.mod")
    monkeypatch.delitem(sys.modules, "hotpkg_probe.mod", raising=False)
    finder = _SourceFirstFinder({"hotpkg_probe.mod": package / "mod.py"})
    monkeypatch.setattr(sys, "meta_path", [finder, *sys.meta_path])
    assert importlib.import_module("hotpkg_probe.mod").ORIGIN == "source"


def test_the_suite_runs_the_build_it_says_it_runs() -> None:
    """`make test` tests the compiled build, and once more the domain as plain Python."""
    loader = pipeline.domain.orders.__spec__.loader
    if os.environ.get(PURE_ENV, "").strip() not in ("", "0"):
        assert not compiled.STATUS.compiled
        assert isinstance(loader, importlib.machinery.SourceFileLoader)
    else:
        assert compiled.STATUS.compiled, compiled.STATUS
        assert isinstance(loader, importlib.machinery.ExtensionFileLoader)
