"""Request signing as the venues require it (the client side; the simulator verifies).

- Upbit (FACTS.md §2.2): `Authorization: Bearer <JWT>`, HS256 over
  `{access_key, nonce[, query_hash, query_hash_alg]}` with the secret key; `query_hash` is
  the hex SHA-512 of the unencoded query string; a nonce is never reused.
- Binance (FACTS.md §1.5): every parameter but `signature`, sorted by name, joined as
  `k=v&...` (UTF-8); the signature is the hex HMAC-SHA256 of that with the secret key.

Secrets only enter `hmac`; nothing here logs or formats them.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

import orjson

from pipeline.ingest.config import Credentials


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def jwt_hs256(payload: Mapping[str, Any], secret: str) -> str:
    """A compact JWS (HS256) of `payload`, as PyJWT's `jwt.encode(payload, secret)` makes it."""
    header = _b64url(orjson.dumps({"alg": "HS256", "typ": "JWT"}))
    body = _b64url(orjson.dumps(dict(payload)))
    signature = hmac.new(secret.encode(), f"{header}.{body}".encode(), hashlib.sha256).digest()
    return f"{header}.{body}.{_b64url(signature)}"


def upbit_query(pairs: Sequence[tuple[str, Any]]) -> str:
    """The unencoded query string Upbit hashes, in the order sent (`states[]=a&states[]=b`)."""
    return "&".join(f"{key}={value}" for key, value in pairs)


def upbit_authorization(
    credentials: Credentials, query: str | None = None, nonce: str | None = None
) -> str:
    """The `Authorization` header value for one Upbit request (a fresh nonce each call)."""
    payload: dict[str, Any] = {
        "access_key": credentials.api_key,
        "nonce": nonce or str(uuid.uuid4()),
    }
    if query:
        payload["query_hash"] = hashlib.sha512(query.encode()).hexdigest()
        payload["query_hash_alg"] = "SHA512"
    return f"Bearer {jwt_hs256(payload, credentials.secret_key)}"


def binance_payload(params: Mapping[str, Any]) -> str:
    """`k=v&...` over every parameter but `signature`, sorted by name (JSON booleans lower)."""

    def text(value: Any) -> str:
        if isinstance(value, bool):
            return "true" if value else "false"
        return str(value)

    return "&".join(f"{k}={text(params[k])}" for k in sorted(params) if k != "signature")


def binance_signature(secret: str, params: Mapping[str, Any]) -> str:
    return hmac.new(secret.encode(), binance_payload(params).encode(), hashlib.sha256).hexdigest()


def binance_signed(
    credentials: Credentials,
    params: Mapping[str, Any] | None = None,
    timestamp: int | None = None,
    recv_window: int | None = None,
) -> dict[str, Any]:
    """`params` plus `apiKey`, `timestamp` (ms) [, `recvWindow`] and their `signature`."""
    signed = dict(params or {})
    signed["apiKey"] = credentials.api_key
    signed["timestamp"] = time.time_ns() // 1_000_000 if timestamp is None else timestamp
    if recv_window is not None:
        signed["recvWindow"] = recv_window
    signed["signature"] = binance_signature(credentials.secret_key, signed)
    return signed
