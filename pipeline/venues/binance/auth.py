"""Binance request signing, both sides (pure; the simulator verifies with the same code).

Binance's WebSocket API (FACTS.md §1.5, "SIGNED request security"): every parameter but
`signature`, sorted by name, joined as `k=v&...` (UTF-8, JSON booleans in lower case); the
signature is the hex HMAC-SHA256 of that text keyed with the secret. Binance compares it
case-insensitively. Secrets only enter `hmac`; nothing here logs or formats them.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Mapping
from typing import Any

from pipeline.venues.credentials import Credentials


def param_text(value: Any) -> str:
    """A parameter as it appears in the signed payload (JSON booleans in lower case)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def payload(params: Mapping[str, Any]) -> str:
    """`k=v&...` over every parameter but `signature`, sorted by name."""
    return "&".join(f"{k}={param_text(params[k])}" for k in sorted(params) if k != "signature")


def signature(secret: str, params: Mapping[str, Any]) -> str:
    """The hex HMAC-SHA256 of `payload(params)` keyed with `secret`."""
    return hmac.new(secret.encode(), payload(params).encode(), hashlib.sha256).hexdigest()


def signed(
    credentials: Credentials,
    params: Mapping[str, Any] | None = None,
    timestamp: int | None = None,
    recv_window: int | None = None,
) -> dict[str, Any]:
    """`params` plus `apiKey`, `timestamp` (ms) [, `recvWindow`] and their `signature`."""
    out = dict(params or {})
    out["apiKey"] = credentials.api_key
    out["timestamp"] = time.time_ns() // 1_000_000 if timestamp is None else timestamp
    if recv_window is not None:
        out["recvWindow"] = recv_window
    out["signature"] = signature(credentials.secret_key, out)
    return out


def verify(secret: str, params: Mapping[str, Any]) -> bool:
    """True when `params["signature"]` is the HMAC-SHA256 of the other parameters."""
    given = params.get("signature")
    if not isinstance(given, str):
        return False
    return hmac.compare_digest(given.lower(), signature(secret, params))
