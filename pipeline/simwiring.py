"""How `pipeline run` (and the tests) wire the pipeline to a running simulator: the ingest
and cancel configurations made from its endpoints and the keys it generated.

Part of the composition root, with `pipeline.roles` and the CLIs: the only place where the
pipeline's own configuration meets the simulator. Ingest and commands never import the
simulator, and the simulator never imports them; this module knows both (the simulator by
its duck type: `endpoints()`, `exchanges`, `credentials(venue)`, `base_url(venue)`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from pipeline.commands.auth import KeyRing, parse_grants
from pipeline.commands.clients.base import VenueAccount
from pipeline.commands.config import CancelConfig, load_keys_file, local_operator
from pipeline.errors import ConfigError
from pipeline.ingest.config import AccountConfig, IngestConfig
from pipeline.ingest.service import INGESTORS
from pipeline.sim.faults import FaultPlan
from pipeline.sim.kits import VENUE_KITS
from pipeline.sim.server import SimConfig, Simulator
from pipeline.sim.ssi import ANY_PIN
from pipeline.sim.truth import compare
from pipeline.sim.worker_configs import endpoint_urls
from pipeline.sink.store import Store
from pipeline.venues import registry
from pipeline.venues.credentials import Credentials
from pipeline.venues.registry import VENUES

WIRE_FORMATS: dict[str, tuple[str, str]] = {
    venue: formats for venue in VENUES if (formats := registry.wire_formats(venue)) is not None
}
"""The two WebSocket spellings of the venues that have two: (default long keys, short keys)."""


def ingest_config(
    simulator: Any,
    accounts: Sequence[str] | None = None,
    venues: Sequence[str] | None = None,
    wire_formats: str = "mixed",
    **tunables: Any,
) -> IngestConfig:
    """An `IngestConfig` for a running `pipeline.sim.Simulator` (tests, demos): its endpoints,
    every instrument as a symbol and the keys it generated (handed over in memory). `venues`
    defaults to the simulated venues that have an ingestor.

    `wire_formats` picks the WebSocket spelling each Upbit and Coinone account subscribes
    with (`WIRE_FORMATS`), so a run exercises what the real venues send: `mixed` (the
    default) alternates the venue's default long-key format and its short one account by
    account, so every run sees both; `default` or `short` asks every account for one."""
    if wire_formats not in ("mixed", "default", "short"):
        raise ConfigError("wire_formats", wire_formats, "expected mixed, default or short")
    wanted = tuple(INGESTORS) if venues is None else tuple(venues)
    entries: list[AccountConfig] = []
    for venue in simulator.endpoints():
        if venue not in wanted:
            continue
        symbols = tuple(simulator.exchanges[venue].instruments)
        base_url, ws_url = endpoint_urls(simulator, venue)
        for index, credential in enumerate(simulator.credentials(venue)):
            if accounts is not None and credential.account not in accounts:
                continue
            account_tunables = dict(tunables)
            if venue in WIRE_FORMATS:
                short = wire_formats == "short" or (wire_formats == "mixed" and index % 2 == 1)
                account_tunables["options"] = {
                    **tunables.get("options", {}),
                    "format": WIRE_FORMATS[venue][1 if short else 0],
                }
            entries.append(
                AccountConfig(
                    venue=venue,
                    account=credential.account,
                    base_url=base_url,
                    ws_url=ws_url,
                    symbols=symbols,
                    credentials=Credentials(
                        credential.key,
                        credential.secret,
                        getattr(credential, "private_key", None) or None,
                        ANY_PIN if venue == "ssi" else None,
                    ),
                    **account_tunables,
                )
            )
    return IngestConfig(tuple(entries), source="simulator")


def cancel_config(simulator: Any, keys_path: Path, venues: tuple[str, ...]) -> CancelConfig:
    """The cancel role's configuration for a running simulator: its accounts and keys, the
    local operator allowed everything."""
    accounts = tuple(
        VenueAccount(
            entry.venue,
            entry.account,
            entry.base_url,
            entry.credentials,  # type: ignore[arg-type]
            ws_url=entry.ws_url,
            private_key=getattr(entry.credentials, "private_key", None),
            pin=getattr(entry.credentials, "pin", None),
        )
        for entry in ingest_config(simulator, venues=venues).accounts
    )
    grants = parse_grants([{"issuer": local_operator(), "venue": "*", "accounts": ["*"]}])
    return CancelConfig(
        accounts=accounts,
        grants=tuple(grants),
        keys=KeyRing(file_keys=load_keys_file(keys_path)),
    )


GATEWAY_ACCOUNTS = ("EXCHANGE_1", "EXCHANGE_2", "EXCHANGE_3")
"""The futures gateway's accounts are the exchanges behind it."""

TRUTH_ORDER_COLUMNS = (
    "venue, account, order_id, status, cancel_reason, symbol, side, qty, filled_qty, "
    "remaining_qty, canceled_qty, fee, client_order_id, avg_fill_price"
)
TRUTH_POSITION_COLUMNS = "venue, account, symbol, qty, fill_count, avg_price, realized_pnl, fees"


def simulator_config(
    seed: int, rate: float | None, faults: str | None, data_dir: Path | None
) -> SimConfig:
    """The `SimConfig` of `pipeline run`'s simulated venues (with `data_dir`: kept there)."""
    venues = tuple(v for v in INGESTORS if v in VENUE_KITS)
    plan = FaultPlan.parse(faults) if faults else None
    return SimConfig(
        seed=seed,
        rate=rate or 0.0,
        venues=venues,
        venue_accounts={"futures_gateway": GATEWAY_ACCOUNTS},
        faults=dict.fromkeys(venues, plan) if plan else {},
        # the venues keep their books and id sequences across runs, as real ones do
        state_dir=None if data_dir is None else data_dir / "sim",
    )


def truth_rows(
    query: Callable[[str], Any], database: str = "trading"
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The stored orders and positions (`FINAL`) as `compare` reads them; `query(sql)` is a
    store's query or a running stack's endpoint (anything returning `.columns`, `.rows`)."""
    orders = query(f"SELECT {TRUTH_ORDER_COLUMNS} FROM {database}.orders FINAL")
    positions = query(f"SELECT {TRUTH_POSITION_COLUMNS} FROM {database}.positions FINAL")
    return (
        [dict(zip(orders.columns, row, strict=True)) for row in orders.rows],
        [dict(zip(positions.columns, row, strict=True)) for row in positions.rows],
    )


def truth_report(simulator: Simulator, store: Store) -> tuple[bool, str]:
    """Whether the store matches the simulator's ground truth, and the lines that say so.

    Every order and every position of every venue is compared: the polled venues recover
    what happened between polls from their order history and trade lists."""
    result = compare(simulator.truth(), *truth_rows(store.query, store.database))
    names = ", ".join(sorted(simulator.servers))
    lines = [f"vs simulator ground truth ({names}): {result.summary()}"]
    lines += [f"  {problem}" for problem in result.problems[:10]]
    if len(result.problems) > 10:
        lines.append(f"  ... and {len(result.problems) - 10} more")
    return result.ok, "\n".join(lines)
