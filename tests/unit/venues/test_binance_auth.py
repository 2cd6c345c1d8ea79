"""Binance's one signer (`pipeline.venues.binance.auth`), used by ingest, cancels and the
simulator: the worked HMAC-SHA256 example of Binance's WebSocket API docs (FACTS.md §1.5,
seed 004), parameter order, booleans, and a verifier that refuses tampering."""

from __future__ import annotations

from pipeline.venues.binance import auth
from pipeline.venues.credentials import Credentials

# Binance's worked example ("SIGNED request example (HMAC)"), key and secret as printed.
DOC_API_KEY = "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A"
DOC_SECRET = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j"
DOC_PARAMS = {
    "symbol": "BTCUSDT", "side": "SELL", "type": "LIMIT", "timeInForce": "GTC",
    "quantity": "0.01000000", "price": "52000.00", "recvWindow": 100,
    "timestamp": 1645423376532, "apiKey": DOC_API_KEY,
}  # fmt: skip
DOC_PAYLOAD = (
    f"apiKey={DOC_API_KEY}&price=52000.00&quantity=0.01000000&recvWindow=100&side=SELL"
    "&symbol=BTCUSDT&timeInForce=GTC&timestamp=1645423376532&type=LIMIT"
)
DOC_SIGNATURE = "aa1b5712c094bc4e57c05a1a5c1fd8d88dcd628338ea863fec7b88e59fe2db24"


def test_payload_sorts_parameters_and_skips_the_signature() -> None:
    assert auth.payload({**DOC_PARAMS, "signature": "x"}) == DOC_PAYLOAD


def test_signature_matches_the_documented_example_whatever_the_order() -> None:
    assert auth.signature(DOC_SECRET, DOC_PARAMS) == DOC_SIGNATURE
    shuffled = dict(reversed(list(DOC_PARAMS.items())))
    assert auth.signature(DOC_SECRET, {**shuffled, "signature": "old"}) == DOC_SIGNATURE


def test_signed_request_reproduces_the_documented_example() -> None:
    params = {k: v for k, v in DOC_PARAMS.items() if k not in ("apiKey", "timestamp", "recvWindow")}
    signed = auth.signed(
        Credentials(DOC_API_KEY, DOC_SECRET), params, timestamp=1645423376532, recv_window=100
    )
    assert signed["signature"] == DOC_SIGNATURE
    assert signed["apiKey"] == DOC_API_KEY


def test_booleans_are_signed_in_lower_case() -> None:
    assert auth.payload({"b": True, "a": False}) == "a=false&b=true"


def test_verify_accepts_any_hex_case_and_refuses_tampering() -> None:
    assert auth.verify(DOC_SECRET, {**DOC_PARAMS, "signature": DOC_SIGNATURE.upper()})
    assert not auth.verify(DOC_SECRET, {**DOC_PARAMS, "price": "52000.01",
                                        "signature": DOC_SIGNATURE})  # fmt: skip
    assert not auth.verify("other", {**DOC_PARAMS, "signature": DOC_SIGNATURE})
    assert not auth.verify(DOC_SECRET, DOC_PARAMS)  # no signature at all
    assert not auth.verify(DOC_SECRET, {**DOC_PARAMS, "signature": 5})


def test_signed_without_a_timestamp_takes_the_clock() -> None:
    signed = auth.signed(Credentials("k", "s"), {"a": 1})
    assert isinstance(signed["timestamp"], int)
    assert signed["timestamp"] > 1_600_000_000_000
    assert auth.verify("s", signed)
