"""Which build of the hot path runs: mypyc-compiled or plain Python.

The domain core, the venue normalizers and the envelope decoder (`native_sources`) are
compiled with mypyc when the project is installed (setup.py): the same source, about twice
as fast (BENCHMARKS.md). The compiled extension sits next to its `.py` file and Python
prefers it, so an edited source would silently run its old compiled code. This module,
called from `pipeline/__init__.py` before any hot module is imported, prevents that: the
build records the SHA-256 of every source it compiled (`MANIFEST`, beside the extensions);
unless every hot source still has that digest and its compiled module, *all* hot modules
load from source (all or none: compiled modules call each other natively, so a mix would
still run stale code), with a warning that says how to rebuild (`make venv`, or any make
target). Digests, not file times: a wheel install gives every file the time of install.

`PIPELINE_PURE_PYTHON=1` forces plain Python at run time, and at install time skips the
compilation (for machines without a C compiler).
"""

from __future__ import annotations

import hashlib
import importlib.abc
import importlib.machinery
import importlib.util
import json
import os
import sys
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

PURE_ENV = "PIPELINE_PURE_PYTHON"
PACKAGE_ROOT = Path(__file__).resolve().parent
#: Packages whose modules (not their `__init__`) are compiled, and single hot modules.
NATIVE_PACKAGES: tuple[str, ...] = ("domain", "venues")
NATIVE_MODULES: tuple[str, ...] = ("envelope.py",)
#: Modules of `venues` that are not on the hot path and stay plain Python: a venue's signing,
#: wire client, error classification and capabilities, and the venue registry (they do I/O or
#: use libraries mypyc gains nothing on; the parsing they sit beside is hot).
NATIVE_SKIPPED: dict[str, frozenset[str]] = {
    "venues": frozenset(
        {"auth.py", "client.py", "errors.py", "capabilities.py", "credentials.py", "registry.py"}
    )
}
#: mypyc's shared library for the group: `pipeline/hotpath__mypyc.<abi>.so`.
GROUP_NAME = "pipeline.hotpath"
#: Written by the build beside the extensions: {source relative to the package: SHA-256}.
MANIFEST = "hotpath.sources.json"


def native_sources(package_root: Path = PACKAGE_ROOT) -> list[Path]:
    """The `.py` files compiled by setup.py, sorted (also the list setup.py compiles)."""
    found = [package_root / name for name in NATIVE_MODULES]
    for package in NATIVE_PACKAGES:
        found.extend(
            path
            for path in (package_root / package).rglob("*.py")
            if path.name != "__init__.py" and path.name not in NATIVE_SKIPPED.get(package, ())
        )
    return sorted(found)


def module_name(source: Path, package_root: Path = PACKAGE_ROOT) -> str:
    """`.../pipeline/domain/orders.py` -> `pipeline.domain.orders`."""
    relative = source.relative_to(package_root.parent).with_suffix("")
    return ".".join(relative.parts)


def compiled_artifact(source: Path) -> Path | None:
    """The extension module built from `source` for this interpreter, if there is one."""
    for suffix in importlib.machinery.EXTENSION_SUFFIXES:
        candidate = source.with_name(source.stem + suffix)
        if candidate.exists():
            return candidate
    return None


@dataclass(frozen=True, slots=True)
class BuildStatus:
    """What `decide` found: `compiled` is true when the compiled modules are used."""

    compiled: bool
    reason: str
    stale: tuple[str, ...] = ()


def source_digest(source: Path) -> str:
    return hashlib.sha256(source.read_bytes()).hexdigest()


def write_manifest(target: Path, sources: Sequence[Path], package_root: Path) -> None:
    """Record what the build compiled (setup.py calls this after building the extensions)."""
    digests = {
        source.relative_to(package_root).as_posix(): source_digest(source) for source in sources
    }
    target.write_text(json.dumps(digests, indent=1, sort_keys=True) + "\n")


def decide(
    sources: Sequence[Path], pure_requested: bool, package_root: Path = PACKAGE_ROOT
) -> BuildStatus:
    """Compiled only when every source has its compiled module and the digest it was built
    from (the manifest); plain Python otherwise, naming the sources that changed."""
    if pure_requested:
        return BuildStatus(False, f"plain Python ({PURE_ENV} is set)")
    artifacts = {source: compiled_artifact(source) for source in sources}
    if not any(artifacts.values()):
        return BuildStatus(False, "plain Python (not compiled)")
    try:
        recorded = json.loads((package_root / MANIFEST).read_text())
    except (OSError, ValueError):
        recorded = {}
    stale = []
    for source, artifact in artifacts.items():
        name = source.relative_to(package_root).as_posix()
        if artifact is None or recorded.get(name) != source_digest(source):
            stale.append(name)
    if stale:
        return BuildStatus(False, "plain Python (sources changed since compiled)", tuple(stale))
    return BuildStatus(True, "compiled with mypyc")


class _SourceFirstFinder(importlib.abc.MetaPathFinder):
    """Loads the listed modules from their `.py` source even where an extension exists."""

    def __init__(self, sources: dict[str, Path]) -> None:
        self.sources = sources

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        source = self.sources.get(fullname)
        if source is None:
            return None
        return importlib.util.spec_from_file_location(fullname, source)


def _pure_requested() -> bool:
    return os.environ.get(PURE_ENV, "").strip() not in ("", "0")


STATUS: BuildStatus = BuildStatus(False, "not decided yet")


def install() -> BuildStatus:
    """Decide once per process which build runs; route imports to the sources if plain."""
    global STATUS
    sources = native_sources()
    STATUS = decide(sources, _pure_requested())
    if not STATUS.compiled and any(compiled_artifact(s) for s in sources):
        sys.meta_path.insert(0, _SourceFirstFinder({module_name(s): s for s in sources}))
    if STATUS.stale:
        warnings.warn(
            f"pipeline: {', '.join(STATUS.stale[:5])}{' ...' if len(STATUS.stale) > 5 else ''} "
            "changed after the hot path was compiled; running it as plain Python (slower). "
            "Rebuild with `make venv` (every make target does it).",
            RuntimeWarning,
            stacklevel=2,
        )
    return STATUS


if __name__ == "__main__":  # `make` asks which sources the compiled build depends on
    root = PACKAGE_ROOT.parent
    print(" ".join(str(path.relative_to(root)) for path in native_sources()))
