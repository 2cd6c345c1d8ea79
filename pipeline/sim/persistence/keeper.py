"""`StateKeeper`: the simulated venues keep their books and id sequences in a directory.

A real venue does not forget its resting orders or hand out an order id twice because a
client restarted. `pipeline run` points the simulator at `<data dir>/sim`, so that orders
left resting in one run are still there in the next (and fill or get cancelled there), new
orders never reuse an old id, and the ground truth after run N covers runs 1..N.

On `open()` the keeper loads the snapshot, replays the journal that continues it (what ran
after the snapshot, up to the last unit before a SIGKILL), then writes a new snapshot with
this run counted and starts an empty journal. While the simulator runs every unit is
journaled before a client can see it (`Journal`); `compact()` folds the journal into a new
snapshot (when it grows large, and at a clean stop), so a restart replays little.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipeline.sim.engine import Exchange, HouseLiquidity
from pipeline.sim.flow import OrderFlow
from pipeline.sim.persistence.codec import (
    decode_engine,
    decode_prices,
    encode_engine,
    encode_prices,
)
from pipeline.sim.persistence.files import Header, SimStateError, StateFiles
from pipeline.sim.persistence.journal import (
    Journal,
    JournaledExchange,
    JournaledFlow,
    ReplayError,
    replay,
)

if TYPE_CHECKING:
    from pipeline.sim.venue import VenueServer

#: Fold the journal into a new snapshot once it holds this much (a restart replays it all).
COMPACT_BYTES = 8 << 20


@dataclass(frozen=True)
class Opened:
    """What `StateKeeper.open()` found: runs before this one, orders kept, records replayed."""

    earlier_runs: int
    orders: int
    replayed: int

    def describe(self) -> str:
        if not self.earlier_runs:
            return "new simulated venues"
        return (
            f"simulated venues kept from {self.earlier_runs} earlier run(s): "
            f"{self.orders} orders, {self.replayed} journal records replayed"
        )


class StateKeeper:
    """Loads, journals and snapshots one simulator's venues (see the module docstring).

    The engines must be `JournaledExchange`s and the flow a `JournaledFlow`, all fresh
    (nothing placed yet): the keeper wires the journal into them and the servers.
    """

    def __init__(
        self,
        directory: Path,
        identity: Mapping[str, Any],
        exchanges: Mapping[str, Exchange],
        houses: Mapping[str, HouseLiquidity],
        flow: OrderFlow,
        servers: Mapping[str, VenueServer],
    ) -> None:
        self.files = StateFiles(directory)
        self.identity = dict(identity)
        self.exchanges = exchanges
        self.houses = houses
        self.flow = flow
        self.servers = servers
        self.journal = Journal(self.files, exchanges)
        self.generation = 0
        self.runs = 0
        for exchange in exchanges.values():
            if not isinstance(exchange, JournaledExchange):
                raise TypeError(f"{exchange.venue}: a kept venue needs a JournaledExchange")
            exchange.journal = self.journal
        if not isinstance(flow, JournaledFlow):
            raise TypeError("a kept simulator needs a JournaledFlow")
        flow.journal = self.journal
        for server in servers.values():
            server.journal = self.journal

    @property
    def directory(self) -> Path:
        return self.files.directory

    def open(self) -> Opened:
        """Load what the directory holds (nothing on a first run), then begin this run."""
        replayed = 0
        loaded = self.files.read_snapshot()
        if loaded is not None:
            header, body = loaded
            self._check_identity(header)
            try:
                self._restore(body)
            except (KeyError, ValueError, TypeError) as exc:
                raise SimStateError(self.files.snapshot_path, f"unreadable state ({exc})") from None
            self.generation = header.generation
            replayed = self._replay_journal()
        self.journal.resync()
        earlier = self.runs
        self.runs += 1
        self.compact()
        orders = sum(len(exchange.orders) for exchange in self.exchanges.values())
        return Opened(earlier, orders, replayed)

    def compact(self) -> int:
        """Write everything into a new snapshot and start an empty journal; its size.

        Synchronous, between two units (the simulator runs in one event loop), so the
        snapshot is one consistent state. Killed between the snapshot and the new journal,
        the old journal belongs to an older generation and is not applied again.
        """
        body = self._export()
        self.generation += 1
        size = self.files.write_snapshot(Header(self.generation, self.identity), body)
        self.files.start_journal(self.generation)
        self.journal.resync()
        return size

    def maybe_compact(self) -> bool:
        """Compact when the journal has grown past `COMPACT_BYTES`."""
        if self.files.journal_bytes < COMPACT_BYTES:
            return False
        self.compact()
        return True

    def close(self) -> None:
        """At a clean stop: one last snapshot, so the next run replays nothing."""
        self.compact()
        self.files.close_journal()

    # -- helpers --------------------------------------------------------------------------

    def _check_identity(self, header: Header) -> None:
        if header.identity == self.identity:
            return
        differs = sorted(
            key
            for key in {*header.identity, *self.identity}
            if header.identity.get(key) != self.identity.get(key)
        )
        detail = ", ".join(
            f"{key} {header.identity.get(key)!r} there, {self.identity.get(key)!r} now"
            for key in differs
        )
        raise SimStateError(
            self.files.snapshot_path,
            f"kept by a simulator set up otherwise ({detail}); run with that setup or "
            "another --data-dir",
        )

    def _replay_journal(self) -> int:
        count = 0
        self.journal.replaying = True
        try:
            for record in self.files.read_journal(self.generation):
                count += 1
                replay(record, self.exchanges, self.flow, self.servers)
        except (ReplayError, KeyError, ValueError, TypeError) as exc:
            raise SimStateError(
                self.files.journal_path, f"record {count} does not replay ({exc})"
            ) from None
        finally:
            self.journal.replaying = False
        return count

    def _export(self) -> dict[str, Any]:
        return {
            "runs": self.runs,
            "engines": {v: encode_engine(ex.export_state()) for v, ex in self.exchanges.items()},
            "houses": {v: encode_prices(house.reference) for v, house in self.houses.items()},
            "flow": self.flow.export_state(),
            "servers": {v: server.export_state() for v, server in self.servers.items()},
        }

    def _restore(self, body: Mapping[str, Any]) -> None:
        engines = body["engines"]
        if set(engines) != set(self.exchanges):
            raise ValueError(f"venues {sorted(engines)}, expected {sorted(self.exchanges)}")
        for venue, exchange in self.exchanges.items():
            exchange.restore_state(decode_engine(engines[venue], exchange.instruments))
        for venue, house in self.houses.items():
            house.reference = decode_prices(body["houses"][venue])
        self.flow.restore_state(body["flow"])
        for venue, server in self.servers.items():
            server.import_state(body["servers"].get(venue, {}))
        self.runs = int(body["runs"])
