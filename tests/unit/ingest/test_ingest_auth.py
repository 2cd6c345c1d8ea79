"""Request signing against documented vectors and the simulator's verifier."""

from __future__ import annotations

import hashlib

from pipeline.ingest.auth import (
    binance_payload,
    binance_signature,
    binance_signed,
    jwt_hs256,
    upbit_authorization,
    upbit_query,
)
from pipeline.ingest.config import Credentials
from pipeline.sim.signing import binance_verify, jwt_verify, upbit_query_string

# FACTS.md §1.5, from Binance's docs
DOC_SECRET = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j"
DOC_PARAMS = {
    "symbol": "BTCUSDT",
    "side": "SELL",
    "type": "LIMIT",
    "timeInForce": "GTC",
    "quantity": "0.01000000",
    "price": "52000.00",
    "recvWindow": 100,
    "timestamp": 1645423376532,
    "apiKey": "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A",
}
DOC_SIGNATURE = "aa1b5712c094bc4e57c05a1a5c1fd8d88dcd628338ea863fec7b88e59fe2db24"


def test_binance_signature_matches_the_documented_example() -> None:
    assert binance_payload(DOC_PARAMS).startswith("apiKey=vmPUZE6")
    assert binance_payload(DOC_PARAMS).endswith("timestamp=1645423376532&type=LIMIT")
    assert binance_signature(DOC_SECRET, DOC_PARAMS) == DOC_SIGNATURE


def test_binance_signature_ignores_parameter_order_and_the_signature_itself() -> None:
    shuffled = dict(reversed(list(DOC_PARAMS.items())))
    shuffled["signature"] = "whatever"
    assert binance_signature(DOC_SECRET, shuffled) == DOC_SIGNATURE


def test_binance_signed_request_verifies_on_the_simulator() -> None:
    keys = Credentials("k" * 64, "s" * 88)
    signed = binance_signed(keys, {"symbol": "BTCUSDT", "flag": True}, timestamp=1, recv_window=50)
    assert signed["apiKey"] == keys.api_key
    assert signed["recvWindow"] == 50
    assert "flag=true" in binance_payload(signed)
    assert binance_verify(keys.secret_key, signed)
    assert not binance_verify("other", signed)


def test_jwt_hs256_matches_the_rfc_style_jwt_io_example() -> None:
    token = jwt_hs256(
        {"sub": "1234567890", "name": "John Doe", "iat": 1516239022}, "your-256-bit-secret"
    )
    assert token == (
        "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9"
        ".eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ"
        ".SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"
    )


def test_upbit_authorization_without_query_carries_key_and_fresh_nonce() -> None:
    keys = Credentials("access", "secret-key")
    first, second = upbit_authorization(keys), upbit_authorization(keys)
    assert first.startswith("Bearer ")
    claims = jwt_verify(first.removeprefix("Bearer "), "secret-key")
    assert claims["access_key"] == "access"
    assert "query_hash" not in claims
    assert claims["nonce"] != jwt_verify(second.removeprefix("Bearer "), "secret-key")["nonce"]


def test_upbit_authorization_hashes_the_unencoded_query_as_upbit_documents() -> None:
    pairs = [("market", "KRW-BTC"), ("states[]", "wait"), ("states[]", "watch"), ("page", 1)]
    query = upbit_query(pairs)
    assert query == "market=KRW-BTC&states[]=wait&states[]=watch&page=1"
    assert query == upbit_query_string(
        {"market": "KRW-BTC", "states": ["wait", "watch"], "page": 1}
    )
    header = upbit_authorization(Credentials("access", "secret-key"), query, nonce="n-1")
    claims = jwt_verify(header.removeprefix("Bearer "), "secret-key")
    assert claims == {
        "access_key": "access",
        "nonce": "n-1",
        "query_hash": hashlib.sha512(query.encode()).hexdigest(),
        "query_hash_alg": "SHA512",
    }
