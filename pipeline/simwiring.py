"""How `pipeline run` (and the tests) wire the pipeline to a running simulator: the ingest
and cancel configurations made from its endpoints and the keys it generated.

Part of the composition root, with `pipeline.roles` and the CLIs: the only place where the
pipeline's own configuration meets the simulator. Ingest and commands never import the
simulator, and the simulator never imports them; this module knows both (the simulator by
its duck type: `endpoints()`, `exchanges`, `credentials(venue)`, `base_url(venue)`).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pipeline.commands.auth import KeyRing, parse_grants
from pipeline.commands.clients.base import VenueAccount
from pipeline.commands.config import CancelConfig, load_keys_file, local_operator
from pipeline.errors import ConfigError
from pipeline.ingest.config import AccountConfig, IngestConfig
from pipeline.ingest.service import INGESTORS
from pipeline.sim.ssi import ANY_PIN
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
    for venue, endpoints in simulator.endpoints().items():
        if venue not in wanted:
            continue
        symbols = tuple(simulator.exchanges[venue].instruments)
        ws_url = endpoints.get("ws") or endpoints.get("ws_api") or endpoints.get("stream")
        base_url = endpoints.get("rest") or simulator.base_url(venue)
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
