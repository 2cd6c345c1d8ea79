"""faust-streaming and Quix Streams are peers of `pipeline bench` only: the `bench` extra.

Nothing outside `pipeline/bench/` may import them (the product installs without them), and
the bench skips a peer whose framework is not installed instead of failing.
"""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

import pipeline
from pipeline.bench import run

PACKAGE = Path(pipeline.__file__).parent
PYPROJECT = PACKAGE.parent / "pyproject.toml"
BENCH_ONLY = {"faust", "quixstreams"}


def imported_roots(path: Path) -> set[str]:
    roots = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            roots |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            roots.add(node.module.split(".")[0])
    return roots


def test_only_the_bench_imports_the_peer_frameworks():
    sources = [p for p in PACKAGE.rglob("*.py") if "bench" not in p.relative_to(PACKAGE).parts]
    assert len(sources) > 100
    offenders = {
        str(p.relative_to(PACKAGE)): imported_roots(p) & BENCH_ONLY
        for p in sources
        if imported_roots(p) & BENCH_ONLY
    }
    assert offenders == {}
    assert imported_roots(PACKAGE / "bench" / "peers.py") >= BENCH_ONLY  # the scan sees them


def test_faust_is_in_the_bench_extra_not_a_dependency():
    project = tomllib.loads(PYPROJECT.read_text())["project"]
    assert not [d for d in project["dependencies"] if d.startswith("faust")]
    bench = project["optional-dependencies"]["bench"]
    assert {d.split(">")[0] for d in bench} >= {"faust-streaming", "quixstreams"}


def test_a_peer_whose_framework_is_missing_is_skipped(monkeypatch):
    assert run.OPTIONAL_PEERS == {"quix": "quixstreams", "faust": "faust"}
    monkeypatch.setitem(run.OPTIONAL_PEERS, "faust", "no_such_module_for_the_bench")
    assert not run.peer_available("faust")
    assert run.peer_available("limit")  # the aiokafka peers need no extra
    assert run.peer_available("handfold")
