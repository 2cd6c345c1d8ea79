"""The configuration files that point separately started workers at a running simulator.

`pipeline run` wires the simulator to its roles in memory. To run each role as its own process
(`pipeline worker --role ingest|cancel`), as a deployment does and as the role-kill tests do,
`pipeline sim --ingest-config-out F --cancel-config-out G` writes the files those workers
read (`PIPELINE_INGEST_CONFIG`, `PIPELINE_CANCEL_CONFIG`): the simulator's endpoints, every
instrument, and `secrets_file` naming the keys file of `--secrets-out`. No key is written
into them; the formats are the documented ones (README "Venue ingestors", the cancel
worker's configuration).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import orjson

from pipeline.venues import registry


def endpoint_urls(simulator: Any, venue: str) -> tuple[str, str | None]:
    """(base URL, WebSocket URL or None) a worker of `venue` connects to: the one choice both
    the written files and `pipeline run`'s in-memory wiring (`pipeline.simwiring`) make."""
    endpoints = simulator.endpoints()[venue]
    ws_url = endpoints.get("ws") or endpoints.get("ws_api") or endpoints.get("stream")
    return endpoints.get("rest") or simulator.base_url(venue), ws_url


def ingest_config_document(simulator: Any, secrets_file: Path) -> dict[str, Any]:
    """One ingestor per simulated account, with the venue's instruments as symbols."""
    entries: list[dict[str, Any]] = []
    for venue in simulator.endpoints():
        base_url, ws_url = endpoint_urls(simulator, venue)
        symbols = list(simulator.exchanges[venue].instruments)
        for index, credential in enumerate(simulator.credentials(venue)):
            entry: dict[str, Any] = {"venue": venue, "account": credential.account,
                                     "base_url": base_url, "symbols": symbols}  # fmt: skip
            if ws_url is not None:
                entry["ws_url"] = ws_url
            formats = registry.wire_formats(venue)
            if formats is not None:  # the accounts alternate them, as in `pipeline run`
                entry["options"] = {"format": formats[index % 2]}
            entries.append(entry)
    return {"secrets_file": str(secrets_file), "ingestors": entries}


def cancel_config_document(simulator: Any, secrets_file: Path, issuer: str) -> dict[str, Any]:
    """Every simulated account, `issuer` allowed to cancel on all of them; the issuer's key
    comes from `PIPELINE_COMMAND_KEY_<ISSUER>` or `PIPELINE_COMMAND_KEYS`, as always."""
    accounts: list[dict[str, Any]] = []
    for venue in simulator.endpoints():
        base_url, ws_url = endpoint_urls(simulator, venue)
        for credential in simulator.credentials(venue):
            account: dict[str, Any] = {"venue": venue, "account": credential.account,
                                       "base_url": base_url}  # fmt: skip
            if ws_url is not None:
                account["ws_url"] = ws_url
            accounts.append(account)
    return {
        "secrets_file": str(secrets_file),
        "accounts": accounts,
        "allow": [{"issuer": issuer, "venue": "*", "accounts": ["*"]}],
    }


def write_json(path: Path, document: dict[str, Any]) -> None:
    """Write `document` readable by its owner only (it names where the keys are)."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(orjson.dumps(document, option=orjson.OPT_INDENT_2))
