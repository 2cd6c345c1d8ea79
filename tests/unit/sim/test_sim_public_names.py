"""The simulator's public names, and the engine's purity (no network stack, no clock)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pipeline.sim
import pipeline.sim.engine

ENGINE = Path(pipeline.sim.engine.__file__).parent


def test_package_exports() -> None:
    assert pipeline.sim.__all__ == ["FaultPlan", "GroundTruth", "SimConfig", "Simulator", "compare"]
    namespace: dict[str, object] = {}  # a stale `__all__` entry fails the star import
    exec("from pipeline.sim import *", namespace)
    assert set(pipeline.sim.__all__) <= namespace.keys()


def test_engine_exports() -> None:
    assert set(pipeline.sim.engine.__all__) >= {
        "Exchange", "OrderBook", "HouseLiquidity", "EngineEvent", "EventKind", "OrderRequest",
        "Order", "Fill", "Instrument", "VenueRules", "IdScheme", "EngineRejection", "StpMode",
    }  # fmt: skip


def test_engine_imports_only_the_standard_library_itself_and_the_error_root() -> None:
    allowed = {"__future__", "bisect", "collections", "copy", "dataclasses", "decimal", "enum",
               "hashlib", "random", "uuid"}  # fmt: skip
    for path in ENGINE.glob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                root = (node.module or "").split(".")[0]
                module = node.module or ""
                # pipeline.errors: the root of the one exception tree, standard-library only
                assert (
                    root in allowed
                    or module.startswith("pipeline.sim.engine")
                    or (module == "pipeline.errors")
                ), f"{path.name} imports {node.module}"
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    assert alias.name.split(".")[0] in allowed, f"{path.name} imports {alias.name}"
        assert "time.time" not in path.read_text()


def test_importing_the_engine_does_not_load_the_network_stack() -> None:
    code = "import sys, pipeline.sim.engine; print('aiohttp' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "False"
