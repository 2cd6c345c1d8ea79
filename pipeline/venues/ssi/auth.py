"""SSI FastConnect v2 request signing, both sides (pure; the simulator verifies with it).

SSI (FACTS.md §4.1): reads carry `Authorization: Bearer <accessToken>` (the token the
AccessToken call returns; opaque to the client); writes add `X-Signature`, the hex RSA
PKCS#1 v1.5 SHA-256 signature over the exact JSON body bytes with the account's private key,
which the venue checks with the public key registered for the account.
"""

from __future__ import annotations

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from pipeline.venues.credentials import KeyMaterialError

SIGNATURE_HEADER = "X-Signature"


def _private_key(private_pem: str) -> rsa.RSAPrivateKey:
    try:
        key = serialization.load_pem_private_key(private_pem.encode(), password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        # never echo the key material
        raise KeyMaterialError("the SSI private key is not a readable PEM private key") from None
    if not isinstance(key, rsa.RSAPrivateKey):
        raise KeyMaterialError("the SSI private key is not an RSA key")
    return key


def signature(private_pem: str, body: bytes) -> str:
    """`X-Signature`: hex RSA PKCS#1 v1.5 SHA-256 over the exact body bytes."""
    return _private_key(private_pem).sign(body, padding.PKCS1v15(), hashes.SHA256()).hex()


def public_key(private_pem: str) -> rsa.RSAPublicKey:
    """The public half the venue keeps for the account (checks `X-Signature`)."""
    return _private_key(private_pem).public_key()


def private_key_pem(bits: int = 2048) -> str:
    """A fresh RSA private key, PKCS#8 PEM (the account's key pair, as SSI's portal makes)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


def verify(key: rsa.RSAPublicKey, body: bytes, given: str) -> bool:
    """True when `given` is the hex signature of exactly `body` under `key`'s private half."""
    try:
        raw = bytes.fromhex(given)
    except ValueError:
        return False
    try:
        key.verify(raw, body, padding.PKCS1v15(), hashes.SHA256())
    except InvalidSignature:
        return False
    return True
