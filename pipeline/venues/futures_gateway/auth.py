"""Futures-gateway request signing, both sides (pure; the simulator verifies with it).

Our design (`schemas/venues/futures_gateway.md`, "Authentication"): `X-GW-API-KEY`,
`X-GW-TIMESTAMP` (epoch ms) and `X-GW-SIGNATURE` = hex HMAC-SHA256 with the secret over
`<timestamp>\\n<METHOD>\\n<path>\\n<canonical query>\\n<hex SHA-256 of the body>`, where the
canonical query is the parameters sorted by name, RFC 3986 percent-encoded, `k=v` joined by
`&`; `path` is without the query.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from pipeline.venues.credentials import Credentials

KEY_HEADER = "X-GW-API-KEY"
TIMESTAMP_HEADER = "X-GW-TIMESTAMP"
SIGNATURE_HEADER = "X-GW-SIGNATURE"
_SAFE = "-_.~"


def canonical_query(params: Mapping[str, Any]) -> str:
    """Parameters sorted by name, `k=v` joined by `&`, RFC 3986 percent-encoded."""
    return "&".join(
        f"{quote(str(k), safe=_SAFE)}={quote(str(params[k]), safe=_SAFE)}" for k in sorted(params)
    )


def string_to_sign(
    timestamp: int | str, method: str, path: str, params: Mapping[str, Any], body: bytes = b""
) -> str:
    """The five lines the signature covers."""
    return "\n".join(
        (str(timestamp), method.upper(), path, canonical_query(params),
         hashlib.sha256(body).hexdigest())
    )  # fmt: skip


def signature(
    secret: str,
    timestamp: int | str,
    method: str,
    path: str,
    params: Mapping[str, Any],
    body: bytes = b"",
) -> str:
    """The hex HMAC-SHA256 of `string_to_sign(...)` keyed with `secret`."""
    text = string_to_sign(timestamp, method, path, params, body)
    return hmac.new(secret.encode(), text.encode(), hashlib.sha256).hexdigest()


def headers(
    credentials: Credentials,
    method: str,
    path: str,
    params: Mapping[str, Any] | None = None,
    body: bytes = b"",
    timestamp: int | None = None,
) -> dict[str, str]:
    """The three authentication headers of one request (`path` without the query)."""
    stamp = str(time.time_ns() // 1_000_000 if timestamp is None else timestamp)
    return {
        KEY_HEADER: credentials.api_key,
        TIMESTAMP_HEADER: stamp,
        SIGNATURE_HEADER: signature(
            credentials.secret_key, stamp, method, path, params or {}, body
        ),
    }


def verify(
    secret: str,
    given: str,
    timestamp: str,
    method: str,
    path: str,
    params: Mapping[str, Any],
    body: bytes,
) -> bool:
    """True when `given` is the signature of this request with `secret` (any hex case)."""
    expected = signature(secret, timestamp, method, path, params, body)
    return hmac.compare_digest(given.lower(), expected)
