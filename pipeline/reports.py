"""One-shot reports, as trading tools offer them: `pipeline status` and `pipeline report
orders|fills|positions`.

Both read the store through `pipeline.local.query.run_query`, so they work while a run owns
the embedded store (through its ClickHouse endpoint, read-only) and after it, and against a
ClickHouse server; filters reach ClickHouse as bound parameters, never spliced into SQL.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from pipeline.config import Settings
from pipeline.errors import ConfigError, PipelineError
from pipeline.local.query import run_query
from pipeline.sink.store import QueryResult

#: What each report shows, its time column (for --since) and its order.
REPORTS: dict[str, tuple[str, str, str]] = {
    "orders": (
        "venue, account, symbol, order_id, side, order_type, status, qty, filled_qty, "
        "remaining_qty, price, avg_fill_price, fee, fee_asset, created_at, updated_at",
        "updated_at",
        "FROM {db}.orders FINAL",
    ),
    "fills": (
        "venue, account, symbol, order_id, trade_id, side, price, qty, fee, fee_asset, "
        "liquidity, trade_time",
        "trade_time",
        "FROM {db}.fills FINAL",
    ),
    "positions": (
        "venue, account, symbol, qty, avg_price, realized_pnl, fees, fill_count, updated_at",
        "updated_at",
        "FROM {db}.positions FINAL",
    ),
}

_DURATION_RE = re.compile(r"^(\d+(?:\.\d+)?)([smhdw])$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_since(text: str, now: datetime | None = None) -> datetime:
    """`--since`: a duration back from now (`90m`, `6h`, `7d`) or an ISO time (UTC if no
    zone)."""
    now = now or datetime.now(UTC)
    duration = _DURATION_RE.match(text.strip())
    if duration is not None:
        return now - timedelta(seconds=float(duration.group(1)) * _UNITS[duration.group(2)])
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ConfigError(
            "--since", text, "use a duration (30m, 6h, 7d) or an ISO time (2026-03-01T09:00)"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def report(
    settings: Settings, kind: str, venue: str | None = None, account: str | None = None,
    since: datetime | None = None,
) -> QueryResult:  # fmt: skip
    """The rows of report `kind`, newest last, filtered by venue, account and time."""
    columns, time_column, source = REPORTS[kind]
    conditions: list[str] = []
    parameters: dict[str, str | int] = {}
    if kind == "fills":
        conditions.append("qty > 0")  # voids: retracted derived fills
    if venue:
        conditions.append("venue = {venue:String}")
        parameters["venue"] = venue
    if account:
        conditions.append("account = {account:String}")
        parameters["account"] = account
    if since is not None:
        conditions.append(f"{time_column} >= fromUnixTimestamp64Milli({{since:Int64}}, 'UTC')")
        parameters["since"] = int(since.timestamp() * 1000)
    sql = f"SELECT {columns} " + source.format(db=settings.store.database)
    if conditions:
        sql += " WHERE " + " AND ".join(conditions)
    sql += f" ORDER BY {time_column}, venue, account, symbol"
    return run_query(settings, sql, parameters=parameters)


@dataclass
class Status:
    """What `pipeline status` prints: who runs, the groups' lag, and the store's picture."""

    lines: list[str]
    running: bool


def status(settings: Settings) -> Status:
    from pipeline.local.statefile import await_ready, store_owner

    lines: list[str] = []
    state = await_ready(settings.data_dir, timeout=5) if not settings.kafka_bootstrap else None
    bootstrap = settings.kafka_bootstrap or (state.broker if state is not None else None)
    if state is not None:
        if state.roles:
            roles = "roles " + ", ".join(state.roles)
        else:
            roles = "broker only" if state.broker else "store only"
        lines.append(f"pipeline pid {state.pid}: {roles}")
        lines.append(f"  broker: {state.broker or '(configured elsewhere)'}")
        owner = store_owner(state)
        if owner is not None:
            lines.append(f"  store: {state.store_path} owned by pid {owner}, ClickHouse HTTP "
                         f"endpoint {state.query_url}")  # fmt: skip
    elif settings.kafka_bootstrap:
        lines.append(f"broker: {settings.kafka_bootstrap} (configured)")
    else:
        lines.append(f"no pipeline running in {settings.data_dir.resolve()}")
    if bootstrap:
        lines += _lag_lines(bootstrap)
    lines += _store_lines(settings)
    return Status(lines, state is not None or bool(settings.kafka_bootstrap))


def _lag_lines(bootstrap: str) -> list[str]:
    from pipeline.grouplag import GroupLag
    from pipeline.kafka import RAW_TOPICS
    from pipeline.streams.outputs import OUTPUT_TOPICS

    async def measure() -> tuple[int | None, int | None]:
        probe = GroupLag(bootstrap)
        try:
            return (
                await probe.lag("pipeline-processor", RAW_TOPICS),
                await probe.lag("pipeline-sink", OUTPUT_TOPICS),
            )
        finally:
            await probe.close()

    process, sink = asyncio.run(measure())
    shown = [
        f"{name} {'unknown (broker did not answer)' if lag is None else lag}"
        for name, lag in (("process", process), ("sink", sink))
    ]
    return [f"lag (records not yet committed by the group): {', '.join(shown)}"]


def _store_lines(settings: Settings) -> list[str]:
    db = settings.store.database
    sql = f"""
        SELECT venue, e.last_event, o.open_orders, p.positions, d.letters
        FROM (SELECT DISTINCT venue FROM {db}.orders) AS v
        LEFT JOIN (SELECT venue, max(event_time) AS last_event FROM {db}.order_events
                   GROUP BY venue) AS e USING (venue)
        LEFT JOIN (SELECT venue, count() AS open_orders FROM {db}.open_orders
                   GROUP BY venue) AS o USING (venue)
        LEFT JOIN (SELECT venue, countIf(qty != 0) AS positions FROM {db}.positions FINAL
                   GROUP BY venue) AS p USING (venue)
        LEFT JOIN (SELECT venue, count() AS letters FROM {db}.dead_letters FINAL
                   WHERE failed_at >= now64(3) - INTERVAL 1 HOUR GROUP BY venue) AS d
                  USING (venue)
        ORDER BY venue
    """
    try:
        rows = run_query(settings, sql).rows
    except PipelineError as exc:
        return [f"store: {exc}"]
    if not rows:
        return ["store: no orders yet"]
    lines = ["venue            last event (UTC)          open orders  positions  "
             "dead letters (1 h)"]  # fmt: skip
    for venue, last, open_orders, positions, letters in rows:
        known = last is not None and last.timestamp() > 0  # a venue without events: epoch
        when = last.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3] if known else "-"
        lines.append(f"{venue:<16} {when:<25} {open_orders:>11}  {positions:>9}  {letters:>18}")
    return lines
