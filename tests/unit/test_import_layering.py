"""The package's layering, proven by reading every module's imports (lazy ones included):

- the pipeline never imports the simulator: `pipeline.domain`, `venues`, `ingest`, `commands`,
  `streams`, `sink` and the envelope are free of `pipeline.sim` (only the composition root,
  `pipeline.roles`, `pipeline.simwiring` and the CLIs, starts one);
- ingest and commands do not import each other (what both need lives in `pipeline.venues`);
- one venue's package never imports another venue's package.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import pipeline
from pipeline.venues.registry import VENUES

ROOT = Path(pipeline.__file__).parent
NO_SIMULATOR = ("domain", "venues", "ingest", "commands", "streams", "sink", "envelope.py")
APART = {"ingest": "pipeline.commands", "commands": "pipeline.ingest"}


def module_name(path: Path, root: Path = ROOT) -> str:
    relative = path.relative_to(root.parent).with_suffix("")
    parts = relative.parts[:-1] if relative.name == "__init__" else relative.parts
    return ".".join(parts)


def imported_modules(path: Path, root: Path = ROOT) -> list[str]:
    """Every module `path` imports, anywhere in it, relative imports resolved."""
    tree = ast.parse(path.read_text(), filename=str(path))
    name = module_name(path, root)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1])
                target = f"{base}.{node.module}" if node.module else base
            else:
                target = node.module or ""
            names.append(target)
            # `from pipeline import sim` names the module in the alias
            names.extend(f"{target}.{alias.name}" for alias in node.names)
    return names


def within(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


def violations(path: Path, root: Path = ROOT) -> list[str]:
    """What `path` imports against the layering rules (empty when it keeps them)."""
    name = module_name(path, root)
    layer = name.split(".")[1] if name.count(".") else ""
    guarded = layer in NO_SIMULATOR or (path.parent == root and path.name in NO_SIMULATOR)
    found: list[str] = []
    for imported in imported_modules(path, root):
        if guarded and within(imported, "pipeline.sim"):
            found.append(f"{name} imports the simulator ({imported})")
        other = APART.get(layer)
        if other is not None and within(imported, other):
            found.append(f"{name} imports {imported} ({layer} and {other} stay apart)")
        if layer == "venues" and name.count(".") >= 2:
            own = name.split(".")[2]
            for venue in VENUES:
                if own in VENUES and venue != own and within(imported, f"pipeline.venues.{venue}"):
                    found.append(f"{name} imports another venue's package ({imported})")
    return found


MODULES = sorted(ROOT.rglob("*.py"))


def test_every_layer_and_venue_package_is_scanned() -> None:
    names = {module_name(p) for p in MODULES}
    for package in ("domain", "venues", "ingest", "commands", "streams", "sink"):
        assert any(within(n, f"pipeline.{package}") for n in names), package
    for venue in VENUES:
        assert f"pipeline.venues.{venue}.auth" in names, venue


@pytest.mark.parametrize("path", MODULES, ids=lambda p: module_name(p))
def test_module_keeps_the_layering(path: Path) -> None:
    assert violations(path) == []


def test_the_scan_catches_each_kind_of_violation(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_root = tmp_path / "pipeline"
    files = {
        "streams/worker.py": "def f():\n    from pipeline.sim.server import Simulator\n",
        "envelope.py": "from pipeline import sim\n",
        "ingest/poller.py": "import pipeline.commands.clients.base\n",
        "commands/planner.py": "from pipeline.ingest.config import Credentials\n",
        "venues/upbit/client.py": "from pipeline.venues.binance import auth\n",
        "venues/upbit/ok.py": "from pipeline.venues.upbit import auth\nfrom . import mapping\n",
        "venues/binance/rel.py": "from ..coinone import auth\n",
    }
    for relative, text in files.items():
        target = fake_root / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
    found = {relative: violations(fake_root / relative, fake_root) for relative in files}
    expected = {
        "streams/worker.py": "imports the simulator",
        "envelope.py": "imports the simulator",
        "ingest/poller.py": "stay apart",
        "commands/planner.py": "stay apart",
        "venues/upbit/client.py": "another venue's package",
        "venues/binance/rel.py": "another venue's package (pipeline.venues.coinone",
    }
    assert found["venues/upbit/ok.py"] == []
    for relative, kind in expected.items():
        assert found[relative], relative
        assert all(kind in problem for problem in found[relative]), found[relative]
