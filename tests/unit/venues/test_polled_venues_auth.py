"""The one signer of Coinone, SSI and the futures gateway (`pipeline.venues.<venue>.auth`),
used by ingest, cancels and the simulator: the documented schemes (FACTS.md §3.1, §4.1;
`schemas/venues/futures_gateway.md` "Authentication") and verifiers that refuse tampering."""

from __future__ import annotations

import base64
import hashlib
import hmac
import uuid

import orjson
import pytest

from pipeline.venues.coinone import auth as coinone
from pipeline.venues.credentials import Credentials, KeyMaterialError, SignatureError
from pipeline.venues.futures_gateway import auth as gateway
from pipeline.venues.ssi import auth as ssi

PEM = ssi.private_key_pem(1024)
KEYS = Credentials("AK-polled-abcdef", "S3CRET-polled-0123456789", PEM, "246810")
BODY = orjson.dumps({"access_token": "key", "nonce": "5c8b7d6e-1f2a-4b3c-8d9e-0a1b2c3d4e5f"})


def test_coinone_signature_is_hmac_sha512_of_the_base64_payload() -> None:
    encoded = coinone.payload(BODY)
    assert base64.b64decode(encoded) == BODY
    expected = hmac.new(b"secret", encoded.encode(), hashlib.sha512).hexdigest()
    assert coinone.signature("secret", encoded) == expected
    assert coinone.headers("secret", BODY)[coinone.SIGNATURE_HEADER] == expected


def test_coinone_signed_body_is_the_payload_with_key_and_uuid4_nonce() -> None:
    raw, headers = coinone.signed(KEYS, {"quote_currency": "KRW", "target_currency": "BTC"})
    body = orjson.loads(raw)
    assert body["access_token"] == KEYS.api_key
    assert uuid.UUID(body["nonce"]).version == 4
    assert base64.b64decode(headers[coinone.PAYLOAD_HEADER]) == raw
    assert coinone.verify(KEYS.secret_key, headers[coinone.PAYLOAD_HEADER],
                          headers[coinone.SIGNATURE_HEADER].upper())  # fmt: skip
    assert coinone.signed(KEYS)[0] != coinone.signed(KEYS)[0]  # a fresh nonce each call


def test_coinone_verify_takes_an_upper_cased_secret_and_refuses_others() -> None:
    encoded = coinone.payload(BODY)
    assert coinone.verify("secret", encoded, coinone.signature("SECRET", encoded))
    assert not coinone.verify("secret", encoded, coinone.signature("other", encoded))
    assert not coinone.verify("secret", coinone.payload(BODY + b" "),
                              coinone.signature("secret", encoded))  # fmt: skip


def test_ssi_signature_verifies_only_the_exact_body_with_the_public_key() -> None:
    public = ssi.public_key(PEM)
    signed = ssi.signature(PEM, BODY)
    assert ssi.verify(public, BODY, signed)
    assert not ssi.verify(public, BODY + b" ", signed)
    assert not ssi.verify(public, BODY, "zz")
    assert not ssi.verify(ssi.public_key(ssi.private_key_pem(1024)), BODY, signed)


def test_ssi_unreadable_key_is_a_key_error_that_never_shows_the_key() -> None:
    with pytest.raises(KeyMaterialError, match="not a readable PEM") as caught:
        ssi.signature("-----BEGIN PRIVATE KEY-----\nnot a key\n", BODY)
    assert "not a key" not in str(caught.value)
    assert not isinstance(caught.value, SignatureError)


def test_gateway_string_to_sign_matches_the_documented_example() -> None:
    params = {"symbol": "BTCUSDT", "exchange": "EXCHANGE_2"}
    assert gateway.canonical_query(params) == "exchange=EXCHANGE_2&symbol=BTCUSDT"
    assert gateway.string_to_sign(
        1732000000000, "get", "/trade/api/v2/futures/open_orders", params
    ) == (
        "1732000000000\nGET\n/trade/api/v2/futures/open_orders\nexchange=EXCHANGE_2&symbol=BTCUSDT\n"
        + hashlib.sha256(b"").hexdigest()
    )
    assert gateway.canonical_query({"a b": "x/y"}) == "a%20b=x%2Fy"


def test_gateway_headers_verify_and_tampering_fails() -> None:
    path, params, body = "/trade/api/v2/futures/order", {"order_id": "9"}, b'{"a":1}'
    headers = gateway.headers(KEYS, "POST", path, params, body, timestamp=1732000000000)
    assert headers[gateway.KEY_HEADER] == KEYS.api_key
    assert headers[gateway.TIMESTAMP_HEADER] == "1732000000000"
    sign = headers[gateway.SIGNATURE_HEADER]
    assert gateway.verify(KEYS.secret_key, sign.upper(), "1732000000000", "POST", path, params,
                          body)  # fmt: skip
    for stamp, method, sent in (("1732000000001", "POST", body), ("1732000000000", "GET", body),
                                ("1732000000000", "POST", b'{"a":2}')):  # fmt: skip
        assert not gateway.verify(KEYS.secret_key, sign, stamp, method, path, params, sent)
    now = int(gateway.headers(KEYS, "GET", path)[gateway.TIMESTAMP_HEADER])
    assert now > 1_700_000_000_000
