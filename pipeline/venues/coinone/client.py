"""Coinone's signed private REST call, the one used by ingest (polls) and cancels.

Every v2.1 private call is a POST whose JSON body carries `access_token` and a UUID v4
`nonce`, signed by the `X-COINONE-PAYLOAD` / `X-COINONE-SIGNATURE` headers
(`pipeline.venues.coinone.auth.signed`). The reply is kept raw (ingest files those exact
bytes) and parsed once; whether it failed and what its failure means is
`pipeline.venues.coinone.errors`, the same rule for both sides.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp
import orjson

from pipeline.venues.coinone import auth, errors
from pipeline.venues.credentials import Credentials
from pipeline.venues.errors import VenueError


@dataclass(frozen=True, slots=True)
class Reply:
    """One reply: HTTP status, the exact bytes, and their JSON (None when not JSON)."""

    status: int
    raw: bytes
    body: Any

    @property
    def failed(self) -> bool:
        """True unless HTTP 200 with `result: success`."""
        return errors.failed(self.status, self.body)

    def error(self, context: str | None = None) -> VenueError:
        """The classified error this failed reply stands for (transient or a refusal)."""
        return errors.classify(self.status, self.body, context)


def parse(raw: bytes) -> Any:
    """The JSON of a reply, or None when it is not JSON (an empty body included)."""
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None


def build(
    credentials: Credentials,
    base_url: str,
    path: str,
    params: Mapping[str, Any] | None = None,
    nonce: str | None = None,
) -> tuple[str, bytes, dict[str, str]]:
    """(URL, body bytes, headers) of one signed POST; the body is exactly the signed payload."""
    body, headers = auth.signed(credentials, params, nonce)
    return f"{base_url}{path}", body, headers


async def post(
    http: aiohttp.ClientSession,
    base_url: str,
    path: str,
    params: Mapping[str, Any] | None,
    credentials: Credentials,
    timeout: aiohttp.ClientTimeout | None = None,
) -> Reply:
    """Send one signed POST; its reply whatever its status (`Reply.failed` tells)."""
    url, body, headers = build(credentials, base_url, path, params)
    extra: dict[str, Any] = {} if timeout is None else {"timeout": timeout}
    async with http.post(url, data=body, headers=headers, **extra) as response:
        status, raw = response.status, await response.read()
    return Reply(status, raw, parse(raw))
