"""Coinone v2.1 request signing, both sides (pure; the simulator verifies with this code).

Coinone (FACTS.md §3.1, the v2.1 private API samples): every private call is a POST whose
JSON body carries `access_token` and a UUID v4 `nonce`; `X-COINONE-PAYLOAD` is the base64 of
the exact body bytes and `X-COINONE-SIGNATURE` the hex HMAC-SHA512 of that base64 text keyed
with the secret as-is (legacy clients upper-case the secret: the venue accepts both).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import uuid
from collections.abc import Mapping
from typing import Any

import orjson

from pipeline.venues.credentials import Credentials

PAYLOAD_HEADER = "X-COINONE-PAYLOAD"
SIGNATURE_HEADER = "X-COINONE-SIGNATURE"


def payload(body: bytes) -> str:
    """`X-COINONE-PAYLOAD`: the base64 of the exact JSON body bytes."""
    return base64.b64encode(body).decode()


def signature(secret: str, encoded: str) -> str:
    """`X-COINONE-SIGNATURE`: hex HMAC-SHA512 of the base64 payload, keyed with the secret."""
    return hmac.new(secret.encode(), encoded.encode(), hashlib.sha512).hexdigest()


def headers(secret: str, body: bytes) -> dict[str, str]:
    """The headers that sign `body` (sent as is)."""
    encoded = payload(body)
    return {
        "Content-Type": "application/json",
        PAYLOAD_HEADER: encoded,
        SIGNATURE_HEADER: signature(secret, encoded),
    }


def signed(
    credentials: Credentials, params: Mapping[str, Any] | None = None, nonce: str | None = None
) -> tuple[bytes, dict[str, str]]:
    """(body bytes, headers) of one private call: `params` + `access_token` + a fresh UUID v4
    `nonce`; the body sent must be exactly the signed payload."""
    body: dict[str, Any] = {
        "access_token": credentials.api_key,
        "nonce": nonce or str(uuid.uuid4()),
    }
    body.update(params or {})
    raw = orjson.dumps(body)
    return raw, headers(credentials.secret_key, raw)


def verify(secret: str, encoded: str, given: str) -> bool:
    """True when `given` signs `encoded` with the secret as-is or upper-cased (legacy)."""
    lowered = given.lower()
    return any(
        hmac.compare_digest(lowered, signature(key, encoded))
        for key in dict.fromkeys((secret, secret.upper()))
    )
