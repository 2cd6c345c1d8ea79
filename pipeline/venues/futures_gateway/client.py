"""The futures gateway's signed REST call, the one used by ingest (GET polls) and cancels
(`DELETE /order`, `POST /cancel_all`).

Every request carries `X-GW-API-KEY`, `X-GW-TIMESTAMP` and `X-GW-SIGNATURE`
(`pipeline.venues.futures_gateway.auth.headers`) over the method, the path under `PREFIX`,
the query parameters and the exact body bytes. Parameters travel in the query; a JSON body
(POST) is sent as the signed bytes with `Content-Type: application/json`. The reply is kept
raw (ingest files those exact bytes); a non-200 reply is classified by
`pipeline.venues.futures_gateway.errors`, the same rule for both sides.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import aiohttp
import orjson

from pipeline.venues.credentials import Credentials
from pipeline.venues.errors import VenueError
from pipeline.venues.futures_gateway import auth, errors

PREFIX = "/trade/api/v2/futures"


@dataclass(frozen=True, slots=True)
class Request:
    """One signed request, ready to send."""

    method: str
    url: str
    data: bytes | None  # the signed body bytes, None without a body
    headers: dict[str, str]


@dataclass(frozen=True, slots=True)
class Reply:
    """One reply: HTTP status and the exact bytes."""

    status: int
    raw: bytes

    @property
    def ok(self) -> bool:
        """HTTP 200: the gateway states failures by status."""
        return self.status == 200

    def json(self) -> Any:
        """The parsed reply, or None when it is not JSON (an empty body included)."""
        try:
            return orjson.loads(self.raw)
        except orjson.JSONDecodeError:
            return None

    def error(self, context: str | None = None) -> VenueError:
        """The classified error of a non-200 reply (429 and 5xx transient, else a refusal)."""
        return errors.classify_raw(self.status, self.raw, context)


def build(
    credentials: Credentials,
    method: str,
    base_url: str,
    path: str,
    params: Mapping[str, Any] | None = None,
    body: Mapping[str, Any] | None = None,
    timestamp: int | None = None,
) -> Request:
    """Sign `method PREFIX+path?params` with `body` (JSON, when given); `timestamp` epoch ms,
    now when None."""
    query = dict(params or {})
    raw = b"" if body is None else orjson.dumps(dict(body))
    full = PREFIX + path
    headers = auth.headers(credentials, method, full, query, raw, timestamp)
    if raw:
        headers["Content-Type"] = "application/json"
    url = base_url + full + ("?" + urlencode(query) if query else "")
    return Request(method, url, raw or None, headers)


async def request(
    http: aiohttp.ClientSession,
    credentials: Credentials,
    method: str,
    base_url: str,
    path: str,
    params: Mapping[str, Any] | None = None,
    body: Mapping[str, Any] | None = None,
    timestamp: int | None = None,
    timeout: aiohttp.ClientTimeout | None = None,
) -> Reply:
    """Send one signed request; its reply whatever its status (`Reply.ok` tells)."""
    signed = build(credentials, method, base_url, path, params, body, timestamp)
    extra: dict[str, Any] = {} if timeout is None else {"timeout": timeout}
    async with http.request(
        signed.method, signed.url, data=signed.data, headers=signed.headers, **extra
    ) as response:
        return Reply(response.status, await response.read())
