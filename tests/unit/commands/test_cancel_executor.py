from __future__ import annotations

import asyncio

from cancel_helpers import FakeClient, state

from pipeline.commands.auth import Authenticator, Grant, KeyRing, key_env_name, sign_command
from pipeline.commands.capabilities import Window
from pipeline.commands.clients.base import BusinessError, TransientError
from pipeline.commands.executor import CancelExecutor
from pipeline.commands.ratelimit import RateLimiter
from pipeline.commands.state_view import StateView
from pipeline.domain.events import OrderStatus
from pipeline.schemas import validate

KEY = "k-123"
NOW = 1_700_000_000_000


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> int:
        self.now += 1  # time passes a little on every read
        return self.now


def setup(venue, *states, accounts=("alice",), confirm=True, timeout=0.5):
    view = StateView()
    view.apply_all(states)
    clients = {(venue, a): FakeClient(venue, a, view, confirm) for a in accounts}
    auth = Authenticator(KeyRing(env={key_env_name("ops"): KEY}), [Grant("ops")])
    published: list[dict] = []

    async def publish(result):
        published.append(result)

    clock = Clock()
    executor = CancelExecutor(
        view, clients, auth, RateLimiter(clock), clock, confirm_timeout_s=timeout, publish=publish
    )
    return executor, clients, published, view


def cmd(venue, cid="c1", **extra):
    return sign_command(
        {"command_id": cid, "venue": venue, "issued_by": "ops", "issued_at": NOW, **extra}, KEY
    )


async def test_whole_order_cancel_is_confirmed_by_the_state():
    executor, _clients, published, _ = setup("binance", state("binance", "1"))
    result = await executor.handle(cmd("binance", symbol="BTCUSDT", order_id="1"))
    assert result["status"] == "completed"
    assert result["final"]
    assert result["outcomes"][0]["outcome"] == "canceled"
    assert result["outcomes"][0]["canceled_qty"] == "1"
    for r in published:
        validate("command_result", r)


async def test_duplicate_command_executes_once_and_resends_the_result():
    executor, clients, published, _ = setup("binance", state("binance", "1"))
    first = await executor.handle(cmd("binance", symbol="BTCUSDT", order_id="1"))
    second = await executor.handle(cmd("binance", symbol="BTCUSDT", order_id="1"))
    assert first == second
    assert executor.executions == 1
    assert clients[("binance", "alice")].calls == [("cancel", "1")]
    assert published[-1] == first


async def test_concurrent_duplicates_share_one_execution():
    executor, _clients, _, _ = setup("binance", state("binance", "1"))
    raw = cmd("binance", symbol="BTCUSDT", order_id="1")
    a, b = await asyncio.gather(executor.handle(raw), executor.handle(dict(raw)))
    assert a == b
    assert executor.executions == 1


async def test_reused_command_id_with_other_content_is_rejected():
    executor, *_ = setup("binance", state("binance", "1"), state("binance", "2"))
    await executor.handle(cmd("binance", symbol="BTCUSDT", order_id="1"))
    result = await executor.handle(cmd("binance", symbol="BTCUSDT", order_id="2"))
    assert result["status"] == "rejected"
    assert "different command" in result["reason"]


async def test_remembered_result_is_resent_after_a_restart():
    executor, _clients, _published, _ = setup("binance", state("binance", "1"))
    first = await executor.handle(cmd("binance", symbol="BTCUSDT", order_id="1"))
    again, clients2, _published2, _ = setup("binance", state("binance", "1"))
    again.remember(first)
    assert await again.handle(cmd("binance", symbol="BTCUSDT", order_id="1")) == first
    assert clients2[("binance", "alice")].calls == []
    assert again.executions == 0


async def test_transient_errors_are_retried_business_errors_are_not():
    executor, clients, _, _ = setup("binance", state("binance", "1"), state("binance", "2"))
    client = clients[("binance", "alice")]
    client.fail_with = [TransientError("timeout", "t"), TransientError("-1003", "busy", 10)]
    result = await executor.handle(cmd("binance", symbol="BTCUSDT", order_id="1"))
    assert result["outcomes"][0]["outcome"] == "canceled"
    assert client.calls == [("cancel", "1")] * 3
    client.calls.clear()
    client.fail_with = [BusinessError("-2011", "Unknown order sent.")]
    result = await executor.handle(cmd("binance", "c2", symbol="BTCUSDT", order_id="2"))
    assert client.calls == [("cancel", "2")]
    assert result["outcomes"][0]["outcome"] == "failed"
    assert result["outcomes"][0]["venue_error_code"] == "-2011"
    assert result["status"] == "failed"


async def test_cancel_racing_a_fill_reports_already_terminal():
    executor, clients, _, view = setup(
        "binance", state("binance", "1", qty="2", filled="0.5", status=OrderStatus.PARTIALLY_FILLED)
    )
    client = clients[("binance", "alice")]
    client.fail_with = [BusinessError("-2011", "Unknown order sent.")]
    client.on_call = lambda: view.apply(
        state("binance", "1", qty="2", filled="2", status=OrderStatus.FILLED, version=2)
    )
    result = await executor.handle(cmd("binance", symbol="BTCUSDT", order_id="1"))
    outcome = result["outcomes"][0]
    assert outcome["outcome"] == "already_terminal"
    assert outcome["filled_qty"] == "2"
    assert "filled before the cancel" in outcome["note"]


async def test_unconfirmed_cancel_times_out_with_pending_outcome():
    executor, _, published, _ = setup("ssi", state("ssi", "1"), confirm=False, timeout=0.2)
    result = await executor.handle(cmd("ssi", symbol="HPG", order_id="1"))
    assert result["status"] == "timed_out"
    assert result["final"]
    assert result["outcomes"][0]["outcome"] == "pending"
    assert published[0]["status"] == "in_progress"
    assert not published[0]["final"]


async def test_binance_amend_is_partially_canceled():
    executor, clients, _, _ = setup("binance", state("binance", "1", qty="1"))
    result = await executor.handle(cmd("binance", symbol="BTCUSDT", order_id="1", qty="0.4"))
    assert clients[("binance", "alice")].calls[0][0] == "amend"
    outcome = result["outcomes"][0]
    assert outcome["outcome"] == "partially_canceled"
    assert outcome["canceled_qty"] == "0.4"
    assert outcome["remaining_qty"] == "0.6"


async def test_coinone_replace_reports_new_order_id():
    executor, _, _, _ = setup("coinone", state("coinone", "c1", qty="1"))
    result = await executor.handle(cmd("coinone", symbol="BTC/KRW", order_id="c1", qty="0.5"))
    outcome = result["outcomes"][0]
    assert outcome["outcome"] == "replaced"
    assert outcome["new_order_id"] == "new-1"


async def test_gateway_eleventh_scope_cancel_in_a_minute_goes_order_by_order():
    executor, clients, _, view = setup("futures_gateway", accounts=("EX1",), timeout=0.2)
    client = clients[("futures_gateway", "EX1")]
    for n in range(11):
        view.apply(state("futures_gateway", f"o{n}", account="EX1"))
        view.apply(state("futures_gateway", f"p{n}", account="EX1"))
        await executor.handle(cmd("futures_gateway", f"c{n}", account="EX1"))
    scope_calls = [c for c in client.calls if c[0] == "scope"]
    assert len(scope_calls) == 10
    assert client.calls[-2:] == [("cancel", "o10"), ("cancel", "p10")]
    executor.clock.now += 60_001  # type: ignore[attr-defined]
    view.apply(state("futures_gateway", "late", account="EX1"))
    view.apply(state("futures_gateway", "late2", account="EX1"))
    issued = executor.clock.now  # type: ignore[attr-defined]
    await executor.handle(cmd("futures_gateway", "c-late", account="EX1", issued_at=issued))
    assert client.calls[-1][0] == "scope"


async def test_unknown_account_is_rejected_and_nothing_sent():
    executor, clients, _, _ = setup("binance", state("binance", "1"))
    result = await executor.handle(cmd("binance", account="mallory"))
    assert result["status"] == "rejected"
    assert "unknown account" in result["reason"]
    assert clients[("binance", "alice")].calls == []


async def test_rate_limiter_sliding_window():
    clock = Clock()
    limiter = RateLimiter(clock)
    window = Window(2, 1000)
    assert limiter.try_acquire("v", "g", "a", window)
    assert limiter.try_acquire("v", "g", "a", window)
    assert not limiter.try_acquire("v", "g", "a", window)
    assert 995 <= limiter.wait_ms("v", "g", "a", window) <= 1001
    clock.now += 1001
    assert limiter.available("v", "g", "a", window) == 2
    limiter.penalize("v", "g", "a", 5000)
    assert limiter.available("v", "g", "a", window) == 0


async def test_exhausted_local_budget_fails_the_outcome_without_sending():
    """A 429 penalty longer than the limiter will wait: the outcome fails naming the budget
    (nothing is sent), and the command still gets its final result."""
    executor, clients, published, _ = setup("binance", state("binance", "1"))
    executor.limiter.penalize("binance", "order", "alice", 3_600_000)  # an hour
    result = await executor.handle(cmd("binance", symbol="BTCUSDT", order_id="1"))
    assert clients[("binance", "alice")].calls == []
    assert result["final"]
    assert result["status"] == "failed"
    assert result["outcomes"][0]["outcome"] == "failed"
    assert result["outcomes"][0]["venue_error_code"] == "rate_limited"
    assert "budget unavailable" in result["outcomes"][0]["venue_error"]
    assert published[-1] == result
