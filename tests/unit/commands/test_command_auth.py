from __future__ import annotations

import logging

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


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ({k: v for k, v in signed().items() if k != "signature"}, "unsigned"),
        ({**signed(), "signature": "00" * 32}, "bad signature"),
        (signed("wrong-key"), "bad signature"),
        ({**signed(), "symbol": "BTCUSDT"}, "bad signature"),  # tampered after signing
        (signed(issued_by="ops-eve"), "no key for issuer"),
        (signed(account="bob"), "not allowed"),
        (signed(venue="upbit"), "not allowed"),
        ({k: v for k, v in signed().items() if k != "account"} | {}, "bad signature"),
    ],
)
def test_bad_commands_are_rejected(raw, reason):
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
