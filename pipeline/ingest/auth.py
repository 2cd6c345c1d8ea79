"""Request signing as the venues require it (the client side; the simulator verifies).

- Upbit (FACTS.md §2.2): `Authorization: Bearer <JWT>`, HS256 over
  `{access_key, nonce[, query_hash, query_hash_alg]}` with the secret key; `query_hash` is
  the hex SHA-512 of the unencoded query string; a nonce is never reused.
- Binance (FACTS.md §1.5): every parameter but `signature`, sorted by name, joined as
  `k=v&...` (UTF-8); the signature is the hex HMAC-SHA256 of that with the secret key.
- Coinone v2.1 (FACTS.md §3.1): the JSON body carries `access_token` and a UUID v4 `nonce`;
  `X-COINONE-PAYLOAD` = base64 of the exact body bytes, `X-COINONE-SIGNATURE` = hex
  HMAC-SHA512 of that base64 text keyed with the secret as-is (the v2.1 samples).
- SSI FastConnect v2 (FACTS.md §4.1): reads carry `Authorization: Bearer <accessToken>`;
  writes add `X-Signature` = hex RSA PKCS#1 v1.5 SHA-256 over the exact body bytes.
- Futures gateway (`schemas/venues/futures_gateway.md` "Authentication"): `X-GW-API-KEY`,
  `X-GW-TIMESTAMP` (ms) and `X-GW-SIGNATURE` = hex HMAC-SHA256 over
  `<ts>\n<METHOD>\n<path>\n<sorted, RFC 3986-encoded query>\n<hex SHA-256 of the body>`.

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
from urllib.parse import quote

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


# -- Coinone ----------------------------------------------------------------------------


def coinone_signature(secret: str, payload: str) -> str:
    """`X-COINONE-SIGNATURE`: hex HMAC-SHA512 of the base64 payload, keyed with the secret."""
    return hmac.new(secret.encode(), payload.encode(), hashlib.sha512).hexdigest()


def coinone_signed(
    credentials: Credentials, params: Mapping[str, Any] | None = None, nonce: str | None = None
) -> tuple[bytes, dict[str, str]]:
    """(body bytes, headers) of one private call: `params` + `access_token` + a fresh UUID v4
    `nonce`; the body sent must be exactly the signed payload."""
    body = {"access_token": credentials.api_key, "nonce": nonce or str(uuid.uuid4())}
    body.update(params or {})
    raw = orjson.dumps(body)
    payload = base64.b64encode(raw).decode()
    headers = {
        "Content-Type": "application/json",
        "X-COINONE-PAYLOAD": payload,
        "X-COINONE-SIGNATURE": coinone_signature(credentials.secret_key, payload),
    }
    return raw, headers


# -- SSI --------------------------------------------------------------------------------


def ssi_signature(private_pem: str, body: bytes) -> str:
    """`X-Signature`: hex RSA PKCS#1 v1.5 SHA-256 over the exact body bytes."""
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import padding, rsa

    try:
        key = serialization.load_pem_private_key(private_pem.encode(), password=None)
    except (ValueError, TypeError):
        # never echo the key material
        raise ValueError("the SSI private key is not a readable PEM private key") from None
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError("the SSI private key is not an RSA key")
    return key.sign(body, padding.PKCS1v15(), hashes.SHA256()).hex()


# -- futures gateway --------------------------------------------------------------------

GATEWAY_KEY_HEADER = "X-GW-API-KEY"
GATEWAY_TIMESTAMP_HEADER = "X-GW-TIMESTAMP"
GATEWAY_SIGNATURE_HEADER = "X-GW-SIGNATURE"


def gateway_query(params: Mapping[str, Any]) -> str:
    """Parameters sorted by name, `k=v` joined by `&`, RFC 3986 percent-encoded."""
    return "&".join(
        f"{quote(str(k), safe='-_.~')}={quote(str(params[k]), safe='-_.~')}" for k in sorted(params)
    )


def gateway_string_to_sign(
    timestamp: int | str, method: str, path: str, params: Mapping[str, Any], body: bytes = b""
) -> str:
    return "\n".join(
        (str(timestamp), method.upper(), path, gateway_query(params),
         hashlib.sha256(body).hexdigest())
    )  # fmt: skip


def gateway_headers(
    credentials: Credentials,
    method: str,
    path: str,
    params: Mapping[str, Any] | None = None,
    body: bytes = b"",
    timestamp: int | None = None,
) -> dict[str, str]:
    """The three authentication headers of one gateway request (`path` without the query)."""
    stamp = time.time_ns() // 1_000_000 if timestamp is None else timestamp
    text = gateway_string_to_sign(stamp, method, path, params or {}, body)
    return {
        GATEWAY_KEY_HEADER: credentials.api_key,
        GATEWAY_TIMESTAMP_HEADER: str(stamp),
        GATEWAY_SIGNATURE_HEADER: hmac.new(
            credentials.secret_key.encode(), text.encode(), hashlib.sha256
        ).hexdigest(),
    }
