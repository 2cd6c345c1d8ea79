"""SSI FastConnect's AccessToken login, the one used by ingest (reads, the stream) and
cancels (writes): `POST /api/v2/Trading/AccessToken` with the consumer id and secret and the
PIN as the two-factor `code`; the token then goes in `Authorization: Bearer`."""

from __future__ import annotations

from typing import Any

import aiohttp
import orjson

from pipeline.venues.ssi import errors

ACCESS_TOKEN_PATH = "/api/v2/Trading/AccessToken"
_JSON = {"Content-Type": "application/json"}


async def access_token(
    http: aiohttp.ClientSession,
    base_url: str,
    consumer_id: str,
    consumer_secret: str,
    pin: str,
    timeout: aiohttp.ClientTimeout | None = None,
) -> str:
    """A fresh access token; the classified `VenueError` when the venue refuses."""
    body = {
        "consumerID": consumer_id,
        "consumerSecret": consumer_secret,
        "twoFactorType": 0,  # PIN
        "code": pin,
        "isSave": True,
    }
    extra: dict[str, Any] = {} if timeout is None else {"timeout": timeout}
    url = f"{base_url}{ACCESS_TOKEN_PATH}"
    async with http.post(url, data=orjson.dumps(body), headers=_JSON, **extra) as response:
        status, raw = response.status, await response.read()
    try:
        reply = orjson.loads(raw)
    except orjson.JSONDecodeError:
        reply = None
    data = reply.get("data") if isinstance(reply, dict) else None
    token = data.get("accessToken") if isinstance(data, dict) else None
    if status != 200 or not isinstance(token, str) or not token or errors.failed(status, reply):
        raise errors.login_refused(status, reply)
    return token
