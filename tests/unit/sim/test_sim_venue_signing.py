"""Signing of Coinone, SSI and the futures gateway: client and simulator agree, tampering fails."""

from __future__ import annotations

import hashlib
import hmac

import orjson

from pipeline.sim.venue_signing import (
    coinone_headers,
    coinone_payload,
    coinone_signature,
    coinone_verify,
    gateway_canonical_query,
    gateway_headers,
    gateway_string_to_sign,
    gateway_verify,
    rsa_private_key_pem,
    rsa_public_key,
    ssi_signature,
    ssi_verify,
)

BODY = orjson.dumps({"access_token": "key", "nonce": "5c8b7d6e-1f2a-4b3c-8d9e-0a1b2c3d4e5f"})


def test_coinone_signature_is_hmac_sha512_of_the_base64_payload() -> None:
    payload = coinone_payload(BODY)
    expected = hmac.new(b"secret", payload.encode(), hashlib.sha512).hexdigest()
    assert coinone_signature("secret", payload) == expected
    headers = coinone_headers("secret", BODY)
    assert headers["X-COINONE-PAYLOAD"] == payload
    assert coinone_verify("secret", payload, headers["X-COINONE-SIGNATURE"].upper())


def test_coinone_accepts_an_upper_cased_secret_and_refuses_another() -> None:
    payload = coinone_payload(BODY)
    assert coinone_verify("secret", payload, coinone_signature("SECRET", payload))
    assert not coinone_verify("secret", payload, coinone_signature("other", payload))
    assert not coinone_verify("secret", coinone_payload(BODY + b" "), coinone_signature(
        "secret", payload))  # fmt: skip


def test_ssi_rsa_signature_verifies_only_the_exact_body() -> None:
    private = rsa_private_key_pem(1024)
    public = rsa_public_key(private)
    signature = ssi_signature(private, BODY)
    assert ssi_verify(public, BODY, signature)
    assert not ssi_verify(public, BODY.replace(b"key", b"kex"), signature)
    assert not ssi_verify(public, BODY, "zz")
    assert not ssi_verify(rsa_public_key(rsa_private_key_pem(1024)), BODY, signature)


def test_gateway_string_to_sign_and_headers() -> None:
    params = {"symbol": "BTCUSDT", "exchange": "EXCHANGE_2"}
    assert gateway_canonical_query(params) == "exchange=EXCHANGE_2&symbol=BTCUSDT"
    text = gateway_string_to_sign("1732000000000", "get", "/p", params, b"")
    assert text.split("\n") == [
        "1732000000000", "GET", "/p", "exchange=EXCHANGE_2&symbol=BTCUSDT",
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    ]  # fmt: skip
    headers = gateway_headers("k", "s", 1732000000000, "POST", "/p", None, b'{"a":1}')
    signature = headers["X-GW-SIGNATURE"]
    assert gateway_verify("s", signature, "1732000000000", "POST", "/p", {}, b'{"a":1}')
    assert not gateway_verify("s", signature, "1732000000001", "POST", "/p", {}, b'{"a":1}')
    assert not gateway_verify("s", signature, "1732000000000", "POST", "/p", {}, b'{"a":2}')
    assert gateway_canonical_query({"a b": "x/y"}) == "a%20b=x%2Fy"
