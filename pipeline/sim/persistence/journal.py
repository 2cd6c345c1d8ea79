"""The journal: every operation that changed a venue, recorded before a client can see it.

The simulated venues are deterministic: the same operations on the same state give the same
state, ids and payloads. So what is journaled is the *operation* (a unit), not its effects:

- `op`: one engine operation a client, the house or the simulator asked of one venue
  (`place`, `cancel`, `request_cancel`, `amend`, `cancel_all`, `tick`, `complete_pending`),
  with its arguments;
- `flow`: one step of the seeded order flow (its random choices and every engine operation
  it made, the house's re-quoting included, are replayed by stepping again);
- `server`: a change a venue server makes to its own state (SSI's write requests).

A unit is recorded when it changed something (an engine's event counter `seq` moved), and
always when it is a flow step (which draws from the flow's random stream either way) or a
server unit; after it ran and before control returns to the event loop: the engine and the
servers queue their frames synchronously and the channels send them only later, and
replies are returned after the unit, so nothing a client sees can be missing from the
journal. A record also carries what happened *between* units without being one:
an id counter a server drew outside an operation, or an engine clock moved further by a
tick that changed nothing (`pre`), and the engines' `seq` after the unit (`post`). Replay
restores `pre`, redoes the unit and checks `post`: a journal that does not replay to the
same state (another simulator version) is refused, never silently misread.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator, Mapping
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from pipeline.errors import SimulatedVenueError
from pipeline.sim.engine import EngineEvent, EngineRejection, Exchange, Order, OrderRequest, Side
from pipeline.sim.flow import OrderFlow
from pipeline.sim.persistence.codec import dec, decode_request, encode_request, undec
from pipeline.sim.persistence.files import StateFiles

if TYPE_CHECKING:
    from pipeline.sim.venue import VenueServer

Args = Callable[[], dict[str, Any]]


class ReplayError(SimulatedVenueError, ValueError):
    """A journal record that does not replay to what was recorded."""


class Journal:
    """Records units into a `StateFiles` journal; passes everything through while replaying."""

    def __init__(self, files: StateFiles, exchanges: Mapping[str, Exchange]) -> None:
        self.files = files
        self.exchanges = exchanges
        self.replaying = False
        self.records = 0
        self._depth = 0
        self._ids = {venue: ex.ids.state() for venue, ex in exchanges.items()}

    def resync(self) -> None:
        """Take the engines' id counters as recorded (after loading or compacting)."""
        self._ids = {venue: ex.ids.state() for venue, ex in self.exchanges.items()}

    @contextlib.contextmanager
    def unit(
        self,
        kind: str,
        venue: str | None,
        name: str,
        args: Args,
        now: int,
        always: bool = False,
    ) -> Iterator[None]:
        """Run the body as one unit of `kind` on `venue` (None: any venue) and record it if
        it changed anything. Nested units belong to the outer one."""
        if self.replaying or self._depth:
            yield
            return
        involved = list(self.exchanges) if venue is None else [venue]
        pre = self._pre(involved, now)
        seqs = {v: self.exchanges[v].seq for v in involved}
        self._depth += 1
        try:
            yield
        finally:
            self._depth -= 1
            post = {v: self.exchanges[v].seq for v in involved if self.exchanges[v].seq != seqs[v]}
            if post or always:
                record: dict[str, Any] = {"u": kind, "n": name, "now": now, "a": args()}
                if venue is not None:
                    record["v"] = venue
                if pre:
                    record["pre"] = pre
                record["post"] = post
                self.files.append(record)
                self.records += 1
                for v in involved:
                    self._ids[v] = self.exchanges[v].ids.state()

    def _pre(self, involved: Iterable[str], now: int) -> dict[str, dict[str, Any]]:
        """What moved outside units since the last record: id counters drawn outside an
        operation, and an engine clock ahead of `now` (a tick that changed nothing)."""
        pre: dict[str, dict[str, Any]] = {}
        for venue in involved:
            exchange = self.exchanges[venue]
            ids = exchange.ids.state()
            moved: dict[str, Any] = {}
            if ids != self._ids[venue]:
                moved["ids"] = ids
            if exchange.now > now:
                moved["now"] = exchange.now
            if moved:
                pre[venue] = moved
        return pre


class JournaledExchange(Exchange):
    """An `Exchange` whose every operation is a journal unit (`journal` set after creation).

    Every public operation of `Exchange` that can change it is overridden here; a test
    checks that no new one is left out.
    """

    journal: Journal | None = None

    def _unit(self, name: str, args: Args, now: int) -> contextlib.AbstractContextManager[None]:
        if self.journal is None:
            return contextlib.nullcontext()
        return self.journal.unit("op", self.venue, name, args, now)

    def place(self, request: OrderRequest, now: int) -> tuple[Order, list[EngineEvent]]:
        with self._unit("place", lambda: {"request": encode_request(request)}, now):
            return super().place(request, now)

    def cancel(
        self,
        order_id: str,
        now: int,
        qty: Decimal | None = None,
        request_id: str | None = None,
        account: str | None = None,
    ) -> list[EngineEvent]:
        args = {"order_id": order_id, "qty": dec(qty), "request_id": request_id,
                "account": account}  # fmt: skip
        with self._unit("cancel", lambda: args, now):
            return super().cancel(order_id, now, qty, request_id, account)

    def request_cancel(
        self, order_id: str, now: int, request_id: str | None = None, account: str | None = None
    ) -> list[EngineEvent]:
        args = {"order_id": order_id, "request_id": request_id, "account": account}
        with self._unit("request_cancel", lambda: args, now):
            return super().request_cancel(order_id, now, request_id, account)

    def amend(
        self,
        order_id: str,
        new_qty: Decimal,
        now: int,
        new_client_order_id: str | None = None,
        account: str | None = None,
    ) -> list[EngineEvent]:
        args = {"order_id": order_id, "new_qty": dec(new_qty),
                "new_client_order_id": new_client_order_id, "account": account}  # fmt: skip
        with self._unit("amend", lambda: args, now):
            return super().amend(order_id, new_qty, now, new_client_order_id, account)

    def cancel_all(
        self,
        account: str,
        now: int,
        venue_symbols: Iterable[str] | None = None,
        side: Side | None = None,
        include_untriggered: bool = True,
        deferred: bool = False,
        limit: int | None = None,
        newest_first: bool = False,
    ) -> tuple[list[Order], list[EngineEvent]]:
        symbols = None if venue_symbols is None else list(venue_symbols)
        args = {"account": account, "venue_symbols": symbols,
                "side": None if side is None else side.value,
                "include_untriggered": include_untriggered, "deferred": deferred,
                "limit": limit, "newest_first": newest_first}  # fmt: skip
        with self._unit("cancel_all", lambda: args, now):
            return super().cancel_all(
                account, now, symbols, side, include_untriggered, deferred, limit, newest_first
            )

    def tick(self, now: int) -> list[EngineEvent]:
        with self._unit("tick", dict, now):
            return super().tick(now)

    def complete_pending(self, now: int) -> list[EngineEvent]:
        with self._unit("complete_pending", dict, now):
            return super().complete_pending(now)


#: The operations `replay` can redo, by name, from their journaled arguments.
def _replay_op(exchange: Exchange, name: str, a: Mapping[str, Any], now: int) -> None:
    if name == "place":
        exchange.place(decode_request(a["request"]), now)
    elif name == "cancel":
        exchange.cancel(a["order_id"], now, undec(a["qty"]), a["request_id"], a["account"])
    elif name == "request_cancel":
        exchange.request_cancel(a["order_id"], now, a["request_id"], a["account"])
    elif name == "amend":
        new_qty = undec(a["new_qty"])
        assert new_qty is not None
        exchange.amend(a["order_id"], new_qty, now, a["new_client_order_id"], a["account"])
    elif name == "cancel_all":
        side = None if a["side"] is None else Side(a["side"])
        exchange.cancel_all(
            a["account"], now, a["venue_symbols"], side, a["include_untriggered"],
            a["deferred"], a["limit"], a["newest_first"],
        )  # fmt: skip
    elif name == "tick":
        exchange.tick(now)
    elif name == "complete_pending":
        exchange.complete_pending(now)
    else:
        raise ReplayError(f"unknown operation {name!r}")


JOURNALED_OPERATIONS = frozenset(
    {"place", "cancel", "request_cancel", "amend", "cancel_all", "tick", "complete_pending"}
)


class JournaledFlow(OrderFlow):
    """An `OrderFlow` whose every step is one journal unit (`journal` set after creation)."""

    journal: Journal | None = None

    def step(self, now: int) -> str:
        if self.journal is None:
            return super().step(now)
        # always recorded: a step that changed nothing still drew from the flow's random
        # stream, and replay must draw the same
        with self.journal.unit("flow", None, "step", dict, now, always=True):
            return super().step(now)


def replay(
    record: Mapping[str, Any],
    exchanges: Mapping[str, Exchange],
    flow: OrderFlow,
    servers: Mapping[str, VenueServer],
) -> None:
    """Redo one journal record on the loaded state (the journal must be `replaying`)."""
    kind, name, now, args = record["u"], record["n"], int(record["now"]), record["a"]
    before = {venue: exchange.seq for venue, exchange in exchanges.items()}
    for venue, moved in record.get("pre", {}).items():
        exchange = _venue(exchanges, venue)
        if "ids" in moved:
            exchange.ids.restore(moved["ids"])
        if "now" in moved:
            exchange.tick(int(moved["now"]))  # changed nothing when it first happened
    if kind == "op":
        if name not in JOURNALED_OPERATIONS:
            raise ReplayError(f"unknown operation {name!r}")
        with contextlib.suppress(EngineRejection):
            _replay_op(_venue(exchanges, record["v"]), name, args, now)
    elif kind == "flow":
        flow.step(now)
    elif kind == "server":
        server = servers.get(record["v"])
        if server is None:
            raise ReplayError(f"unknown venue {record['v']!r}")
        server.replay(name, args, now)
    else:
        raise ReplayError(f"unknown unit {kind!r}")
    moved_seq = {v: ex.seq for v, ex in exchanges.items() if ex.seq != before[v]}
    expected = {str(v): int(seq) for v, seq in record["post"].items()}
    if moved_seq != expected:
        raise ReplayError(
            f"{kind} {name} at {now} replayed to event counters {moved_seq}, recorded {expected}"
        )


def _venue(exchanges: Mapping[str, Exchange], venue: str) -> Exchange:
    exchange = exchanges.get(venue)
    if exchange is None:
        raise ReplayError(f"unknown venue {venue!r}")
    return exchange
