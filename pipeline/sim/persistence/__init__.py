"""The simulated venues' state kept across runs: a snapshot plus a journal in a directory.

`StateKeeper` (keeper.py) is the whole story; `files.py` is the on-disk format and why it
survives SIGKILL, `journal.py` what is recorded and how it is replayed, `codec.py` the
engine's records as JSON.
"""

from pipeline.sim.persistence.files import SimStateError, StateFiles
from pipeline.sim.persistence.journal import (
    Journal,
    JournaledExchange,
    JournaledFlow,
    ReplayError,
)
from pipeline.sim.persistence.keeper import COMPACT_BYTES, Opened, StateKeeper

__all__ = [
    "COMPACT_BYTES",
    "Journal",
    "JournaledExchange",
    "JournaledFlow",
    "Opened",
    "ReplayError",
    "SimStateError",
    "StateFiles",
    "StateKeeper",
]
