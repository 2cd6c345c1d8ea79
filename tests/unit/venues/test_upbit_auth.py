"""Upbit's one signer (`pipeline.venues.upbit.auth`, PyJWT on both sides): the HS256 example
token of RFC 7519's jwt.io sample, the claims Upbit documents (FACTS.md §2.2), the query hash
over the unencoded query string, HS512 (the current docs' example header) and refusals."""

from __future__ import annotations

import hashlib

import jwt
import pytest

from pipeline.venues.credentials import Credentials, SignatureError
from pipeline.venues.upbit import auth

JWT_IO_TOKEN = (
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9."
    "eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ."
    "SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"
)
KEYS = Credentials("access", "upbit-secret-key-0123456789abcdef0123")


def test_verify_accepts_the_jwt_io_example_token() -> None:
    claims = {"sub": "1234567890", "name": "John Doe", "iat": 1516239022}
    assert auth.verify(JWT_IO_TOKEN, "your-256-bit-secret") == claims


def test_authorization_carries_key_and_a_fresh_nonce_without_query() -> None:
    first, second = auth.authorization(KEYS), auth.authorization(KEYS)
    assert first.startswith("Bearer ")
    claims = auth.verify(first.removeprefix("Bearer "), KEYS.secret_key)
    assert claims["access_key"] == "access"
    assert "query_hash" not in claims
    assert claims["nonce"] != auth.verify(second.removeprefix("Bearer "), KEYS.secret_key)["nonce"]


def test_query_hash_is_sha512_of_the_unencoded_query_in_both_spellings() -> None:
    pairs = [("market", "KRW-BTC"), ("states[]", "wait"), ("states[]", "watch"), ("page", 1)]
    text = auth.query(pairs)
    assert text == "market=KRW-BTC&states[]=wait&states[]=watch&page=1"
    assert text == auth.query_string({"market": "KRW-BTC", "states": ["wait", "watch"], "page": 1})
    header = auth.authorization(KEYS, text, nonce="n-1")
    assert auth.verify(header.removeprefix("Bearer "), KEYS.secret_key) == {
        "access_key": "access",
        "nonce": "n-1",
        "query_hash": hashlib.sha512(text.encode()).hexdigest(),
        "query_hash_alg": "SHA512",
    }


@pytest.mark.parametrize("algorithm", ["HS256", "HS512"])
def test_token_round_trips_and_a_wrong_secret_is_refused(algorithm: str) -> None:
    token = auth.token("ak", KEYS.secret_key, "n-1", "uuid=x", algorithm)
    header, claims = auth.unverified(token)
    assert header["alg"] == algorithm
    assert claims["query_hash"] == auth.query_hash("uuid=x")
    assert auth.verify(token, KEYS.secret_key) == claims
    with pytest.raises(SignatureError) as caught:
        auth.verify(token, "another-secret-of-sufficient-length-000")
    assert caught.value.reason == "jwt_verification"


def test_unsigned_and_malformed_tokens_are_refused() -> None:
    unsigned = jwt.encode({"access_key": "ak", "nonce": "n"}, None, algorithm="none")
    with pytest.raises(SignatureError):
        auth.verify(unsigned, KEYS.secret_key)
    for garbage in ("not-a-token", "a.b.c"):
        with pytest.raises(SignatureError):
            auth.verify(garbage, KEYS.secret_key)
        with pytest.raises(SignatureError):
            auth.unverified(garbage)
