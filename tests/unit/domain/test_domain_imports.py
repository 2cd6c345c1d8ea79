"""The domain imports only the standard library, itself and `pipeline.errors` (the root of the
one exception tree, itself standard-library only): proven by reading every module."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

import pipeline.domain
import pipeline.errors

DOMAIN_DIR = Path(pipeline.domain.__file__).parent
MODULES = sorted(DOMAIN_DIR.rglob("*.py"))


def imported_modules(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            names.append("." if node.level else (node.module or ""))
    return names


def test_domain_modules_found():
    assert {p.name for p in MODULES} >= {"events.py", "orders.py", "positions.py", "book.py"}


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.name)
def test_domain_module_imports_only_stdlib_or_domain(path: Path):
    for name in imported_modules(path):
        if name == "." or name == "pipeline.domain" or name.startswith("pipeline.domain."):
            continue
        if name == "pipeline.errors":
            continue
        top = name.split(".")[0]
        assert top in sys.stdlib_module_names or top == "__future__", (
            f"{path.name} imports {name!r}, which is not in the standard library"
        )


def test_errors_module_the_domain_imports_is_stdlib_only():
    path = Path(pipeline.errors.__file__)
    for name in imported_modules(path):
        top = name.split(".")[0]
        assert top in sys.stdlib_module_names or top == "__future__", (
            f"pipeline/errors.py imports {name!r}: the domain imports it, so it must stay pure"
        )


def test_domain_import_scan_detects_third_party(tmp_path: Path):
    module = tmp_path / "bad.py"
    module.write_text("import orjson\nfrom pipeline.errors import PipelineError\n")
    assert imported_modules(module) == ["orjson", "pipeline.errors"]
