"""Request signing as the venues document it: Binance HMAC-SHA256, Upbit JWT HS256/HS512."""

from __future__ import annotations

import hashlib

import pytest

from pipeline.sim.signing import (
    SignatureError,
    binance_payload,
    binance_signature,
    binance_verify,
    jwt_claims_unverified,
    jwt_encode,
    jwt_verify,
    upbit_query_hash,
    upbit_query_string,
    upbit_token,
)

# Binance's own cross-check (FACTS.md §1.5; the key as printed in seed 004).
DOC_API_KEY = "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A"
DOC_SECRET = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j"
DOC_PARAMS = {
    "symbol": "BTCUSDT", "side": "SELL", "type": "LIMIT", "timeInForce": "GTC",
    "quantity": "0.01000000", "price": "52000.00", "recvWindow": 100,
    "timestamp": 1645423376532, "apiKey": DOC_API_KEY,
}  # fmt: skip
DOC_SIGNATURE = "aa1b5712c094bc4e57c05a1a5c1fd8d88dcd628338ea863fec7b88e59fe2db24"

# The HS256 example token of RFC 7519's well-known jwt.io sample.
JWT_IO_TOKEN = (
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9."
    "eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ."
    "SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"
)


def test_binance_payload_sorts_parameters_and_skips_signature() -> None:
    payload = binance_payload({**DOC_PARAMS, "signature": "x"})
    assert payload == (
        f"apiKey={DOC_API_KEY}&price=52000.00&quantity=0.01000000&recvWindow=100&side=SELL"
        "&symbol=BTCUSDT&timeInForce=GTC&timestamp=1645423376532&type=LIMIT"
    )


def test_binance_signature_matches_the_documented_example() -> None:
    assert binance_signature(DOC_SECRET, DOC_PARAMS) == DOC_SIGNATURE


def test_binance_verify_accepts_any_case_and_refuses_tampering() -> None:
    assert binance_verify(DOC_SECRET, {**DOC_PARAMS, "signature": DOC_SIGNATURE.upper()})
    assert not binance_verify(
        DOC_SECRET, {**DOC_PARAMS, "price": "52000.01", "signature": DOC_SIGNATURE}
    )
    assert not binance_verify("other", {**DOC_PARAMS, "signature": DOC_SIGNATURE})
    assert not binance_verify(DOC_SECRET, DOC_PARAMS)


def test_binance_booleans_are_signed_in_lower_case() -> None:
    assert binance_payload({"b": True, "a": False}) == "a=false&b=true"


def test_jwt_hs256_matches_the_jwt_io_example() -> None:
    claims = {"sub": "1234567890", "name": "John Doe", "iat": 1516239022}
    assert jwt_encode(claims, "your-256-bit-secret") == JWT_IO_TOKEN
    assert jwt_verify(JWT_IO_TOKEN, "your-256-bit-secret") == claims


@pytest.mark.parametrize("algorithm", ["HS256", "HS512"])
def test_jwt_round_trip_and_wrong_secret_refused(algorithm: str) -> None:
    token = jwt_encode({"access_key": "ak", "nonce": "n-1"}, "secret", algorithm)
    header, payload = jwt_claims_unverified(token)
    assert header["alg"] == algorithm
    assert jwt_verify(token, "secret") == payload == {"access_key": "ak", "nonce": "n-1"}
    with pytest.raises(SignatureError) as caught:
        jwt_verify(token, "wrong")
    assert caught.value.reason == "jwt_verification"


def test_jwt_refuses_unsupported_algorithms_and_garbage() -> None:
    token = jwt_encode({"a": 1}, "s")
    forged = token.replace(token.split(".")[0], "eyJhbGciOiJub25lIn0")  # {"alg":"none"}
    with pytest.raises(SignatureError):
        jwt_verify(forged, "s")
    with pytest.raises(SignatureError):
        jwt_verify("not-a-token", "s")


def test_upbit_query_string_and_hash_follow_the_unencoded_form() -> None:
    query = upbit_query_string({"market": "KRW-BTC", "uuids": ["a", "b"], "states[]": ["wait"]})
    assert query == "market=KRW-BTC&uuids[]=a&uuids[]=b&states[]=wait"
    assert upbit_query_hash(query) == hashlib.sha512(query.encode()).hexdigest()


def test_upbit_token_carries_access_key_nonce_and_query_hash() -> None:
    token = upbit_token("ak", "sk", "nonce-1", "uuid=x", algorithm="HS512")
    header, payload = jwt_claims_unverified(token)
    assert header["alg"] == "HS512"
    assert payload == {
        "access_key": "ak",
        "nonce": "nonce-1",
        "query_hash": upbit_query_hash("uuid=x"),
        "query_hash_alg": "SHA512",
    }
    assert "query_hash" not in jwt_claims_unverified(upbit_token("ak", "sk", "n"))[1]
