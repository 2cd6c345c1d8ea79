"""Upbit request authentication, both sides: the client encodes a JWT, the simulator decodes
and verifies it (PyJWT on both sides; pure functions).

Upbit (FACTS.md §2.2, "Authentication"): `Authorization: Bearer <JWT>`, HS256 (HS512 also
accepted) over `{access_key, nonce[, query_hash, query_hash_alg]}` signed with the secret
key; `query_hash` is the hex SHA-512 of the *unencoded* query string (`k=v&...`, arrays as
`k[]=a&k[]=b`); a nonce is never reused.
"""

from __future__ import annotations

import hashlib
import uuid
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import jwt

from pipeline.venues.credentials import Credentials, SignatureError

ALGORITHMS: tuple[str, ...] = ("HS256", "HS512")
_REASON = "jwt_verification"  # Upbit's error name for every token problem
# The venue issues the secret: a 40-character Upbit key is below RFC 7518's recommended
# HS512 key size, and PyJWT warns on every call about a length we cannot choose.
_KEY_LENGTH_WARNING = "The HMAC key is"


def query(pairs: Sequence[tuple[str, Any]]) -> str:
    """The unencoded query string Upbit hashes, in the order sent (`states[]=a&states[]=b`)."""
    return "&".join(f"{key}={value}" for key, value in pairs)


def query_string(params: Mapping[str, Any]) -> str:
    """The same from a mapping: `k=v&...`, lists as `k[]=a&k[]=b`."""
    pairs: list[tuple[str, Any]] = []
    for key, value in params.items():
        if isinstance(value, list | tuple):
            name = key if key.endswith("[]") else f"{key}[]"
            pairs.extend((name, item) for item in value)
        else:
            pairs.append((key, value))
    return query(pairs)


def query_hash(text: str) -> str:
    """The hex SHA-512 of the unencoded query string."""
    return hashlib.sha512(text.encode()).hexdigest()


def token(
    access_key: str,
    secret: str,
    nonce: str,
    query_text: str | None = None,
    algorithm: str = "HS256",
) -> str:
    """The JWT a client sends (with the query hash when the request has parameters)."""
    claims: dict[str, Any] = {"access_key": access_key, "nonce": nonce}
    if query_text:
        claims["query_hash"] = query_hash(query_text)
        claims["query_hash_alg"] = "SHA512"
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=_KEY_LENGTH_WARNING)
        return jwt.encode(claims, secret, algorithm=algorithm)


def authorization(
    credentials: Credentials, query_text: str | None = None, nonce: str | None = None
) -> str:
    """The `Authorization` header value for one request (a fresh UUID nonce each call)."""
    encoded = token(
        credentials.api_key, credentials.secret_key, nonce or str(uuid.uuid4()), query_text
    )
    return f"Bearer {encoded}"


def unverified(encoded: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """(header, claims) of a token without checking it: to find the key to check it with."""
    try:
        header = jwt.get_unverified_header(encoded)
        claims = jwt.decode(encoded, options={"verify_signature": False})
    except jwt.PyJWTError as exc:
        raise SignatureError(_REASON, "malformed token") from exc
    return dict(header), dict(claims)


def verify(encoded: str, secret: str) -> dict[str, Any]:
    """The claims of `encoded` if its HS256/HS512 signature verifies with `secret`."""
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=_KEY_LENGTH_WARNING)
            return dict(jwt.decode(encoded, secret, algorithms=list(ALGORITHMS)))
    except jwt.InvalidAlgorithmError as exc:
        raise SignatureError(_REASON, "unsupported algorithm") from exc
    except jwt.InvalidSignatureError as exc:
        raise SignatureError(_REASON, "signature does not verify") from exc
    except jwt.PyJWTError as exc:
        raise SignatureError(_REASON, "malformed token") from exc
