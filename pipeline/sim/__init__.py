"""The exchange simulator: venues that cannot be reached from here, served on loopback.

- `engine/`: a pure, deterministic matching engine per venue (`Exchange`, `OrderBook`,
  `HouseLiquidity`), whose `EngineEvent` log the protocol adapters render;
- `flow.py`: the seeded order-flow generator (`OrderFlow`);
- `upbit.py`, `binance.py` (+ `*_wire.py`, `binance_methods.py`): the venues' real protocols
  with their authentication and errors; `venue.py` is what every venue protocol shares and
  `kits.py` registers them;
- `faults.py`, `channel.py`: fault injection on outgoing traffic;
- `truth.py`: the ground truth export and its comparison with what the pipeline computed;
- `server.py`: `Simulator`, everything assembled, with the control API of `control.py`;
- `cli.py`: `pipeline sim`; `probe.py`: minimal clients for tests.

`Simulator`, `SimConfig`, `GroundTruth`, `compare` and `FaultPlan` are importable from here;
they load lazily so that `pipeline.sim.engine` stays free of the network stack.
"""

from __future__ import annotations

import importlib
from typing import Any

_LAZY = {
    "Simulator": "pipeline.sim.server",
    "SimConfig": "pipeline.sim.server",
    "GroundTruth": "pipeline.sim.truth",
    "compare": "pipeline.sim.truth",
    "FaultPlan": "pipeline.sim.faults",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'pipeline.sim' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
