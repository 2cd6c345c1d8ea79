"""Request authentication of Coinone, SSI and the futures gateway: both sides, sign and verify.

As in `signing.py` (Binance, Upbit), the client side lives next to the check so that the
simulator and the test clients cannot drift apart.

- Coinone v2.1 (FACTS.md §3.1): the JSON body carries `access_token` and a UUID v4 `nonce`;
  `X-COINONE-PAYLOAD` = base64(body bytes), `X-COINONE-SIGNATURE` = hex HMAC-SHA512 of that
  base64 text keyed with the secret (as-is; legacy clients upper-case it: both accepted).
- SSI FastConnect v2 (FACTS.md §4.1): `X-Signature` = hex RSA PKCS#1 v1.5 SHA-256 over the
  exact JSON body bytes, checked with the account's public key.
- Futures gateway (our design, `schemas/venues/futures_gateway.md` "Authentication"):
  `X-GW-API-KEY`, `X-GW-TIMESTAMP` (epoch ms), `X-GW-SIGNATURE` = hex HMAC-SHA256 of
  `<timestamp>\\n<METHOD>\\n<path>\\n<canonical query>\\n<hex SHA-256 of the body>`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping
from urllib.parse import quote

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from pipeline.sim.signing import SignatureError

# -- Coinone ----------------------------------------------------------------------------


def coinone_payload(body: bytes) -> str:
    """`X-COINONE-PAYLOAD`: the base64 of the exact JSON body bytes."""
    return base64.b64encode(body).decode()


def coinone_signature(secret: str, payload: str) -> str:
    """`X-COINONE-SIGNATURE`: hex HMAC-SHA512(secret, base64 payload)."""
    return hmac.new(secret.encode(), payload.encode(), hashlib.sha512).hexdigest()


def coinone_verify(secret: str, payload: str, signature: str) -> bool:
    """True when `signature` signs `payload` with the secret as-is or upper-cased (legacy)."""
    given = signature.lower()
    return any(
        hmac.compare_digest(given, coinone_signature(key, payload))
        for key in dict.fromkeys((secret, secret.upper()))
    )


def coinone_headers(secret: str, body: bytes) -> dict[str, str]:
    payload = coinone_payload(body)
    return {
        "Content-Type": "application/json",
        "X-COINONE-PAYLOAD": payload,
        "X-COINONE-SIGNATURE": coinone_signature(secret, payload),
    }


# -- SSI --------------------------------------------------------------------------------


def rsa_private_key_pem(bits: int = 2048) -> str:
    """A fresh RSA private key, PKCS#8 PEM (the simulator hands one out per account)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


def rsa_public_key(private_pem: str) -> rsa.RSAPublicKey:
    key = serialization.load_pem_private_key(private_pem.encode(), password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise SignatureError("invalid_key", "not an RSA private key")
    return key.public_key()


def ssi_signature(private_pem: str, body: bytes) -> str:
    """`X-Signature`: hex RSA PKCS#1 v1.5 SHA-256 over the exact body bytes."""
    key = serialization.load_pem_private_key(private_pem.encode(), password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise SignatureError("invalid_key", "not an RSA private key")
    return key.sign(body, padding.PKCS1v15(), hashes.SHA256()).hex()


def ssi_verify(public_key: rsa.RSAPublicKey, body: bytes, signature: str) -> bool:
    try:
        raw = bytes.fromhex(signature)
    except ValueError:
        return False
    try:
        public_key.verify(raw, body, padding.PKCS1v15(), hashes.SHA256())
    except InvalidSignature:
        return False
    return True


# -- futures gateway --------------------------------------------------------------------

GATEWAY_KEY_HEADER = "X-GW-API-KEY"
GATEWAY_TIMESTAMP_HEADER = "X-GW-TIMESTAMP"
GATEWAY_SIGNATURE_HEADER = "X-GW-SIGNATURE"


def gateway_canonical_query(params: Mapping[str, str]) -> str:
    """Parameters sorted by name, `k=v` joined by `&`, RFC 3986 percent-encoded."""
    return "&".join(
        f"{quote(str(k), safe='-_.~')}={quote(str(params[k]), safe='-_.~')}" for k in sorted(params)
    )


def gateway_string_to_sign(
    timestamp: str, method: str, path: str, params: Mapping[str, str], body: bytes
) -> str:
    return "\n".join(
        (
            timestamp,
            method.upper(),
            path,
            gateway_canonical_query(params),
            hashlib.sha256(body).hexdigest(),
        )
    )


def gateway_signature(
    secret: str, timestamp: str, method: str, path: str, params: Mapping[str, str], body: bytes
) -> str:
    text = gateway_string_to_sign(timestamp, method, path, params, body)
    return hmac.new(secret.encode(), text.encode(), hashlib.sha256).hexdigest()


def gateway_headers(
    key: str,
    secret: str,
    timestamp: int,
    method: str,
    path: str,
    params: Mapping[str, str] | None = None,
    body: bytes = b"",
) -> dict[str, str]:
    """The headers a gateway client sends with one request."""
    stamp = str(timestamp)
    return {
        GATEWAY_KEY_HEADER: key,
        GATEWAY_TIMESTAMP_HEADER: stamp,
        GATEWAY_SIGNATURE_HEADER: gateway_signature(
            secret, stamp, method, path, params or {}, body
        ),
    }


def gateway_verify(
    secret: str,
    signature: str,
    timestamp: str,
    method: str,
    path: str,
    params: Mapping[str, str],
    body: bytes,
) -> bool:
    expected = gateway_signature(secret, timestamp, method, path, params, body)
    return hmac.compare_digest(signature.lower(), expected)
