"""Request authentication as the venues do it: Binance HMAC-SHA256, Upbit JWT (HS256/HS512).

Both sides live here (sign and verify) so that the simulator's checks and the test clients
cannot drift apart; the verification is the code that matters. PyJWT is not a dependency,
so JWTs are built and checked with `hmac` (compact JWS, HS256 / HS512 only).

Binance (FACTS.md §1.5): every parameter except `signature`, sorted by name, joined as
`k=v&...`; hex HMAC-SHA256 with the secret (case-insensitive). Upbit (FACTS.md §2.2): a JWT
whose payload is `{access_key, nonce[, query_hash, query_hash_alg]}`; `query_hash` is the hex
SHA-512 of the unencoded query string.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Mapping
from typing import Any

from pipeline.errors import SimulatedVenueError

JWT_ALGORITHMS: dict[str, Any] = {"HS256": hashlib.sha256, "HS512": hashlib.sha512}


class SignatureError(SimulatedVenueError):
    """A credential or signature did not verify; `reason` names why (for the venue's error)."""

    def __init__(self, reason: str, message: str) -> None:
        self.reason = reason
        self.message = message
        super().__init__(f"{reason}: {message}")


# -- Binance ----------------------------------------------------------------------------


def binance_param_text(value: Any) -> str:
    """A parameter as it appears in the signed payload (JSON booleans in lower case)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def binance_payload(params: Mapping[str, Any]) -> str:
    """`k=v&...` over all parameters but `signature`, sorted by name (WebSocket API)."""
    return "&".join(
        f"{key}={binance_param_text(params[key])}" for key in sorted(params) if key != "signature"
    )


def binance_signature(secret: str, params: Mapping[str, Any]) -> str:
    return hmac.new(secret.encode(), binance_payload(params).encode(), hashlib.sha256).hexdigest()


def binance_verify(secret: str, params: Mapping[str, Any]) -> bool:
    """True when `params["signature"]` is the HMAC-SHA256 of the other parameters."""
    given = params.get("signature")
    if not isinstance(given, str):
        return False
    return hmac.compare_digest(given.lower(), binance_signature(secret, params))


# -- Upbit JWT --------------------------------------------------------------------------


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def jwt_encode(payload: Mapping[str, Any], secret: str, algorithm: str = "HS256") -> str:
    """A compact HS256/HS512 JWT, as `jwt.encode(payload, secret, algorithm)` makes it."""
    digest = JWT_ALGORITHMS[algorithm]
    header = _b64url(json.dumps({"alg": algorithm, "typ": "JWT"}, separators=(",", ":")).encode())
    body = _b64url(json.dumps(dict(payload), separators=(",", ":")).encode())
    signing_input = f"{header}.{body}".encode()
    signature = hmac.new(secret.encode(), signing_input, digest).digest()
    return f"{header}.{body}.{_b64url(signature)}"


def jwt_claims_unverified(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """(header, payload) of a compact JWT without checking it: to find the key to check with."""
    try:
        header_part, body_part, _ = token.split(".")
        header = json.loads(_unb64url(header_part))
        payload = json.loads(_unb64url(body_part))
    except (ValueError, UnicodeDecodeError) as exc:
        raise SignatureError("jwt_verification", "malformed token") from exc
    if not isinstance(header, dict) or not isinstance(payload, dict):
        raise SignatureError("jwt_verification", "malformed token")
    return header, payload


def jwt_verify(token: str, secret: str) -> dict[str, Any]:
    """The payload of `token` if its HS256/HS512 signature verifies with `secret`."""
    header, payload = jwt_claims_unverified(token)
    digest = JWT_ALGORITHMS.get(header.get("alg", ""))
    if digest is None:
        raise SignatureError("jwt_verification", f"unsupported algorithm {header.get('alg')!r}")
    header_part, body_part, signature_part = token.split(".")
    expected = hmac.new(secret.encode(), f"{header_part}.{body_part}".encode(), digest).digest()
    try:
        given = _unb64url(signature_part)
    except ValueError as exc:
        raise SignatureError("jwt_verification", "malformed signature") from exc
    if not hmac.compare_digest(expected, given):
        raise SignatureError("jwt_verification", "signature does not verify")
    return payload


def upbit_query_string(params: Mapping[str, Any]) -> str:
    """The unencoded query string Upbit hashes: `k=v&...`, lists as `k[]=a&k[]=b`."""
    parts: list[str] = []
    for key, value in params.items():
        if isinstance(value, list | tuple):
            name = key if key.endswith("[]") else f"{key}[]"
            parts.extend(f"{name}={item}" for item in value)
        else:
            parts.append(f"{key}={value}")
    return "&".join(parts)


def upbit_query_hash(query_string: str) -> str:
    return hashlib.sha512(query_string.encode()).hexdigest()


def upbit_token(
    access_key: str,
    secret: str,
    nonce: str,
    query_string: str | None = None,
    algorithm: str = "HS256",
) -> str:
    """The `Authorization: Bearer` token a client sends (query hash when there are params)."""
    payload: dict[str, Any] = {"access_key": access_key, "nonce": nonce}
    if query_string:
        payload["query_hash"] = upbit_query_hash(query_string)
        payload["query_hash_alg"] = "SHA512"
    return jwt_encode(payload, secret, algorithm)
