from __future__ import annotations

import logging

import orjson
import pytest

from pipeline.commands.auth import Authenticator, Grant, KeyRing, key_env_name, sign_command
from pipeline.commands.executor import CancelExecutor
from pipeline.commands.model import CommandRejected, parse_command
from pipeline.commands.state_view import StateView

KEY = "s3cr3t-key-value-0123456789"
NOW = 1_700_000_000_000


def auth(**kw) -> Authenticator:
    keys = KeyRing(env={key_env_name("ops-alice"): KEY}, file_keys={"ops-bob": "bob-key-999"})
    grants = [Grant("ops-alice", "binance", ("alice",)), Grant("ops-bob")]
    return Authenticator(keys, grants, **kw)


def signed(key: str = KEY, **extra):
    raw = {
        "command_id": "c1",
        "venue": "binance",
        "account": "alice",
        "issued_by": "ops-alice",
        "issued_at": NOW,
        **extra,
    }
    return sign_command(raw, key)


def check(raw, now=NOW, **kw):
    auth(**kw).check(raw, parse_command(raw), now)


def test_key_env_name_is_normalised():
    assert key_env_name("ops-alice") == "PIPELINE_COMMAND_KEY_OPS_ALICE"


def test_signed_command_is_accepted():
    check(signed())


def test_keys_file_issuer_is_accepted_everywhere():
    check(signed("bob-key-999", issued_by="ops-bob", venue="upbit"))


UNAUTHENTIC = [
    ({k: v for k, v in signed().items() if k != "signature"}, "unsigned"),
    ({**signed(), "signature": "00" * 32}, "bad signature"),
    (signed("wrong-key"), "bad signature"),
    ({**signed(), "symbol": "BTCUSDT"}, "bad signature"),  # tampered after signing
    (signed(issued_by="ops-eve"), "no key for issuer"),
    ({k: v for k, v in signed().items() if k != "account"} | {}, "bad signature"),
    ({**signed(), "signature": "é" * 64}, "bad signature"),  # not even ASCII
]


@pytest.mark.parametrize(("raw", "detail"), UNAUTHENTIC)
def test_every_authentication_failure_is_published_as_one_reason(raw, detail):
    """Which issuers have keys is nobody's business before they authenticate: unsigned, no
    key and bad signature all read `not authenticated`; only the log detail differs."""
    with pytest.raises(CommandRejected) as caught:
        check(raw)
    assert caught.value.reason == "not authenticated"
    assert detail in (caught.value.detail or "")


@pytest.mark.parametrize(
    ("raw", "reason"),
    [(signed(account="bob"), "not allowed"), (signed(venue="upbit"), "not allowed")],
)
def test_authenticated_commands_get_the_precise_reason(raw, reason):
    with pytest.raises(CommandRejected, match=reason):
        check(raw)


def test_all_accounts_command_needs_an_all_accounts_grant():
    raw = sign_command({k: v for k, v in signed().items() if k != "account"}, KEY)
    with pytest.raises(CommandRejected, match="all accounts"):
        check(raw)


def test_stale_command_is_rejected_as_replay():
    with pytest.raises(CommandRejected, match="stale"):
        check(signed(), now=NOW + 301_000)


def test_future_command_is_rejected():
    with pytest.raises(CommandRejected, match="future"):
        check(signed(issued_at=NOW + 60_000))


def test_repr_never_shows_keys():
    ring = auth().keys
    assert KEY not in repr(ring)
    assert "bob-key-999" not in repr(ring)


async def test_rejections_never_leak_the_key_in_results_or_logs(caplog):
    caplog.set_level(logging.DEBUG)
    published = []

    async def publish(result):
        published.append(result)

    executor = CancelExecutor(StateView(), {}, auth(), clock=lambda: NOW, publish=publish)
    for raw in (signed("wrong-key"), signed(account="bob"), signed(issued_at=NOW - 10**9)):
        result = await executor.handle(raw)
        assert result["status"] == "rejected"
    text = repr(published) + caplog.text
    assert KEY not in text
    assert "bob-key-999" not in text
    assert executor.executions == 0


def _executor(published: list) -> CancelExecutor:
    async def publish(result):
        published.append(result)

    class Client:  # an account configured for binance: its existence must not leak
        calls: list = []

    return CancelExecutor(
        StateView(), {("binance", "alice"): Client()}, auth(), clock=lambda: NOW, publish=publish
    )  # type: ignore[dict-item]


async def test_nobody_without_a_key_learns_accounts_issuers_or_used_command_ids():
    published: list = []
    executor = _executor(published)
    executor.results["c-used"] = {"command_id": "c-used", "command_digest": "x", "final": True}
    probes = [
        signed("wrong-key", account="mallory"),  # an account that does not exist
        signed("wrong-key", account="alice"),  # one that does
        signed(issued_by="ops-eve"),  # an issuer without a key
        signed("wrong-key"),  # an issuer with one
        signed("wrong-key", command_id="c-used"),  # a command id used before
        {k: v for k, v in signed().items() if k != "signature"},
    ]
    for raw in probes:
        result = await executor.handle(raw)
        assert result["status"] == "rejected"
        assert result["reason"] == "not authenticated", raw
    assert executor.executions == 0
    # and an authenticated issuer does get told
    result = await executor.handle(signed(account="mallory", command_id="c9"))
    assert "not allowed" in result["reason"] or "unknown account" in result["reason"]


async def test_a_huge_or_hostile_command_is_rejected_and_echoed_bounded():
    published: list = []
    executor = _executor(published)
    huge = signed("wrong-key", symbol="X" * 1_000_000, account="a" * 1_000_000)
    result = await executor.handle(huge)
    assert result["status"] == "rejected"
    assert "longer than 128" in result["reason"]
    assert len(orjson.dumps(result)) < 2_000
    escape = await executor.handle(signed(account="al\x1b[31mice", command_id="c-esc"))
    assert "control" in escape["reason"]
    assert escape["account"] is None
