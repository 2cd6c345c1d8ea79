"""The live terminal view of `pipeline run`: what flows, and what the tables say now.

Every few seconds: venue messages per second per venue (from the ingestors), the processing
lag (published but not yet processed), this run's new orders and fills, and from the store
(every run's rows): open orders, fills, and realized PnL and fees per account. On a
terminal the view redraws in place; into a file or a pipe it prints one block per refresh,
so logs stay readable.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from pipeline.errors import StoreError
from pipeline.sink.store import Store

CLEAR = "\x1b[H\x1b[2J"


@dataclass
class Rates:
    """Per-venue counters turned into per-second rates between two looks."""

    last: dict[str, int] = field(default_factory=dict)
    at: float = field(default_factory=time.monotonic)

    def update(self, counts: dict[str, int]) -> dict[str, float]:
        now = time.monotonic()
        elapsed = max(now - self.at, 1e-6)
        rates = {k: (v - self.last.get(k, 0)) / elapsed for k, v in counts.items()}
        self.last, self.at = dict(counts), now
        return rates


#: Amounts on screen: to 8 decimal places (PnL at average cost carries 28 significant digits:
#: -1219999.999999999999999999 is -1220000 to anyone reading it). The tables keep them exact.
SHOWN_PLACES = Decimal("1e-8")


def amount(value: Decimal) -> str:
    """`value` rounded to `SHOWN_PLACES`, without trailing zeros or an exponent."""
    shown = value.quantize(SHOWN_PLACES).normalize()
    return format(shown if shown else Decimal(0), "f")


@dataclass(frozen=True)
class StoreCounts:
    """Orders and fills in the store: taken when a run starts, the view shows what this run
    added (the store keeps every earlier run's rows)."""

    orders: int
    fills: int

    @classmethod
    def of(cls, store: Store) -> StoreCounts:
        db = store.database
        orders = store.query(f"SELECT count() FROM {db}.orders FINAL").rows[0][0]
        fills = store.query(f"SELECT count() FROM {db}.fills FINAL WHERE qty > 0").rows[0][0]
        return cls(int(orders), int(fills))


def store_picture(store: Store, baseline: StoreCounts | None = None) -> list[str]:
    """This run's new orders and fills (against `baseline`), then open orders, fills and
    PnL per account as the tables say now (every run's)."""
    db = store.database
    try:
        now = StoreCounts.of(store)
        open_orders = store.query(
            f"SELECT venue, count() FROM {db}.open_orders GROUP BY venue ORDER BY venue"
        ).rows
        # PnL is in each symbol's quote currency and fees in their own assets: never add
        # across currencies
        pnl = store.query(
            "SELECT venue, account, "
            "splitByChar(':', splitByChar('/', symbol)[2])[1] AS quote, "
            "sum(realized_pnl), count() "
            f"FROM {db}.positions FINAL GROUP BY venue, account, quote ORDER BY ALL"
        ).rows
        fee_rows = store.query(
            f"SELECT venue, account, sumMap(fees) FROM {db}.positions FINAL GROUP BY venue, account"
        ).rows
        fees = {(venue, account): paid for venue, account, paid in fee_rows}
        latency = store.query(
            "SELECT count(), quantileExact(0.5)(ms), quantileExact(0.99)(ms) FROM (SELECT "
            "dateDiff('millisecond', received_at, written_at) AS ms "
            f"FROM {db}.order_events WHERE written_at >= now64(3) - INTERVAL 60 SECOND)"
        ).rows[0]
    except StoreError as exc:
        return [f"store: {exc}"]
    lines = []
    if baseline is not None:
        lines.append(
            f"this run: {now.orders - baseline.orders} new orders, "
            f"{now.fills - baseline.fills} new fills in the store"
        )
    if latency[0]:
        lines.append(
            f"latency raw -> row (last 60 s, {latency[0]} events): p50 {int(latency[1])} ms, "
            f"p99 {int(latency[2])} ms"
        )
    lines.append(
        "store, all runs: open orders "
        + (", ".join(f"{venue} {n}" for venue, n in open_orders) or "none")
        + f"; orders {now.orders}; fills {now.fills}"
    )
    for venue, account, quote, realized, symbols in pnl:
        paid = fees.get((venue, account)) or {}
        fee_text = ", ".join(f"{amount(Decimal(v))} {k}" for k, v in sorted(paid.items()))
        lines.append(
            f"  {venue:<16} {account:<12} realized {amount(Decimal(realized)):>20} {quote:<5}"
            f" ({symbols} symbols); fees {fee_text or '0'}"
        )
    return lines


def render(
    roles: Any, rates: Rates, store: Store | None, baseline: StoreCounts | None = None
) -> list[str]:
    """The view's lines for the roles of one run (see `pipeline.roles.Roles`); the counters
    above the store's lines are this run's (they start at zero in every run)."""
    lines = [time.strftime("%H:%M:%S")]
    # where everything is stays on screen after the first redraw
    lines += list(getattr(roles.ctx, "endpoints", None) or ()) if hasattr(roles, "ctx") else []
    ingest = roles.ingest_stats
    if ingest is not None:
        per_venue = {name: s.received for name, s in ingest.venues.items()}
        speed = rates.update(per_venue)
        lines.append(
            "venue msgs/s: "
            + (", ".join(f"{v} {speed[v]:.0f}" for v in sorted(speed)) or "none yet")
            + f"; reconnects {ingest.total('reconnects')}"
        )
    if roles.process is not None:
        p = roles.process.stats
        # the group's lag (committed offsets vs high watermarks), every worker's work counted
        lag = getattr(roles, "process_lag", None)
        ingest_letters = ingest.total("dead_letters") if ingest is not None else 0
        lines.append(
            f"processed {p.records} raw ({p.normalized} events, {p.duplicates} duplicates, "
            f"{p.late} late, {p.dead_letters + ingest_letters} dead letters"
            + (f" of which {ingest_letters} at ingest" if ingest_letters else "")
            + f"); reorder buffer {p.reorder_depth}"
            + (f"; lag {max(lag, 0)}" if lag is not None else "")
        )
    if roles.sink is not None:
        s = roles.sink.stats
        lines.append(f"rows written {s.rows_written}; store errors {s.errors}")
    restarts = getattr(roles, "restarts", None)
    if restarts:
        lines.append(
            "broker errors, roles restarted: "
            + ", ".join(f"{name} {n}x" for name, n in sorted(restarts.items()))
            + f" (last: {roles.last_error[max(restarts, key=restarts.get)]})"
        )
    if store is not None:
        lines += store_picture(store, baseline)
    return lines
