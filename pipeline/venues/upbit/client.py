"""Upbit's signed REST call, the one used by ingest (snapshots, history) and cancels.

Every private request carries `Authorization: Bearer <JWT>` whose `query_hash` covers the
unencoded query (`pipeline.venues.upbit.auth`); parameters travel in the URL (GET, DELETE).
A failed reply is classified by `pipeline.venues.upbit.errors`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from urllib.parse import urlencode

import aiohttp

from pipeline.venues.credentials import Credentials
from pipeline.venues.upbit import auth


async def signed_request(
    http: aiohttp.ClientSession,
    method: str,
    base_url: str,
    path: str,
    pairs: Sequence[tuple[str, Any]],
    credentials: Credentials,
    timeout: aiohttp.ClientTimeout | None = None,
) -> tuple[int, bytes]:
    """(HTTP status, raw body) of one signed request; `pairs` in the order sent."""
    headers = {"Authorization": auth.authorization(credentials, auth.query(pairs))}
    url = f"{base_url}{path}?{urlencode(list(pairs))}"
    extra: dict[str, Any] = {} if timeout is None else {"timeout": timeout}
    async with http.request(method, url, headers=headers, **extra) as response:
        return response.status, await response.read()
