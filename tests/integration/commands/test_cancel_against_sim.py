"""Cancel commands end to end against the simulated venues (real protocols, real signing).

STUB: the StateView is fed from the simulator's truth (`simstate.py`), not by the pipeline."""

from __future__ import annotations

import asyncio
import time
import uuid
from decimal import Decimal

import pytest
from cancel_rig import BOOK, KEY, VENUES, Rig

from pipeline.commands.auth import sign_command
from pipeline.schemas import validate
from pipeline.sim.engine import Side, Status


def command(venue: str, **extra) -> dict:
    raw = {
        "command_id": str(uuid.uuid4()),
        "venue": venue,
        "issued_by": "ops",
        "issued_at": int(time.time() * 1000),
        **extra,
    }
    return sign_command(raw, KEY)


@pytest.mark.parametrize("venue", VENUES)
async def test_whole_order_cancel_cancels_it_at_the_venue(rig: Rig, venue: str):
    order_id = rig.place(venue)
    other = rig.place(venue)
    symbol = BOOK[venue][0]
    result = await rig.executor.handle(command(venue, symbol=symbol, order_id=order_id))
    assert result["status"] == "completed", result
    assert [o["outcome"] for o in result["outcomes"]] == ["canceled"]
    assert rig.order(venue, order_id).status is Status.CANCELED
    assert rig.order(venue, other).status is Status.OPEN
    for published in rig.published:
        validate("command_result", published)


@pytest.mark.parametrize("venue", VENUES)
async def test_symbol_scope_cancels_every_open_order_of_the_symbol(rig: Rig, venue: str):
    ids = [rig.place(venue) for _ in range(3)]
    bob = rig.place(venue, account="bob")
    result = await rig.executor.handle(command(venue, account="alice", symbol=BOOK[venue][0]))
    assert result["status"] == "completed", result
    assert {o["order_id"] for o in result["outcomes"] if o["outcome"] == "canceled"} >= set(ids)
    assert all(rig.order(venue, i).status is Status.CANCELED for i in ids)
    assert rig.order(venue, bob).status is Status.OPEN


async def test_venue_scope_cancels_all_accounts(rig: Rig):
    ids = [rig.place("binance", account=a) for a in ("alice", "bob")]
    ids.append(rig.place("binance", symbol="ETHUSDT", price="2000", qty="0.1"))
    result = await rig.executor.handle(command("binance"))
    assert result["status"] == "completed", result
    assert all(rig.order("binance", i).status is Status.CANCELED for i in ids)


async def test_binance_partial_cancel_amends_keeping_priority(rig: Rig):
    order_id = rig.place("binance", qty="0.01")
    result = await rig.executor.handle(
        command("binance", symbol="BTC/USDT", order_id=order_id, qty="0.004")
    )
    outcome = result["outcomes"][0]
    assert outcome["outcome"] == "partially_canceled", result
    assert rig.order("binance", order_id).qty == Decimal("0.006")
    assert rig.order("binance", order_id).status is Status.OPEN


async def test_coinone_partial_cancel_is_cancel_and_replace(rig: Rig):
    order_id = rig.place("coinone", qty="0.01")
    result = await rig.executor.handle(
        command("coinone", symbol="BTC/KRW", order_id=order_id, qty="0.004")
    )
    outcome = result["outcomes"][0]
    assert outcome["outcome"] == "replaced", result
    assert rig.order("coinone", order_id).status is Status.CANCELED
    new = rig.order("coinone", outcome["new_order_id"])
    assert new.qty == Decimal("0.006")
    assert new.price == Decimal(BOOK["coinone"][1])
    assert "priority lost" in outcome["note"]


async def test_upbit_partial_cancel_falls_back_to_the_whole_remainder(rig: Rig):
    order_id = rig.place("upbit", qty="0.01")
    result = await rig.executor.handle(
        command("upbit", symbol="BTC/KRW", order_id=order_id, qty="0.004")
    )
    outcome = result["outcomes"][0]
    assert outcome["outcome"] == "canceled"
    assert "qty ignored" in outcome["note"]
    assert rig.order("upbit", order_id).status is Status.CANCELED


async def test_gateway_eleventh_cancel_all_in_a_minute_goes_order_by_order(rig: Rig):
    server = rig.sim.servers["futures_gateway"]
    for n in range(11):
        ids = [rig.place("futures_gateway"), rig.place("futures_gateway")]
        result = await rig.executor.handle(command("futures_gateway", account="alice"))
        assert result["status"] == "completed", (n, result)
        assert all(rig.order("futures_gateway", i).status is Status.CANCELED for i in ids)
    now = rig.sim.clock()
    assert server.limits.used("cancel_all", "alice", now) == 10  # never a 429
    assert "budget exhausted" in (result["reason"] or "")


async def test_cancel_racing_a_fill_reports_it_honestly(rig: Rig):
    order_id = rig.place("binance", qty="0.01")
    rig.feed.paused = True  # the canonical state lags: it still shows the order open
    rig.place("binance", account="bob", side=Side.SELL, qty="0.01")  # fills alice's order
    task = asyncio.ensure_future(
        rig.executor.handle(command("binance", symbol="BTCUSDT", order_id=order_id))
    )
    await asyncio.sleep(0.3)  # the cancel reached the venue: -2011, the order is filled
    rig.feed.paused = False
    result = await task
    outcome = result["outcomes"][0]
    assert outcome["outcome"] == "already_terminal", result
    assert outcome["filled_qty"] == "0.01"
    assert outcome["venue_error_code"] == "-2011"
    assert "filled before the cancel" in outcome["note"]


async def test_duplicate_command_executes_once(rig: Rig):
    order_id = rig.place("ssi")
    raw = command("ssi", symbol="HPG", order_id=order_id)
    first = await rig.executor.handle(raw)
    second = await rig.executor.handle(dict(raw))
    assert first == second
    assert rig.executor.executions == 1


@pytest.mark.parametrize(
    "mutate",
    [
        lambda c: {k: v for k, v in c.items() if k != "signature"},
        lambda c: {**c, "signature": "ab" * 32},
        lambda c: {**c, "qty": "-1"},
    ],
)
async def test_bad_commands_touch_nothing(rig: Rig, mutate):
    order_id = rig.place("upbit")
    raw = mutate(command("upbit", symbol="KRW-BTC", order_id=order_id))
    result = await rig.executor.handle(raw)
    assert result["status"] == "rejected"
    assert result["reason"]
    assert rig.order("upbit", order_id).status is Status.OPEN


async def test_ssi_refused_cancel_fails_with_the_stream_order_error(rig: Rig):
    order_id = rig.place("ssi")
    rig.feed.paused = True  # the canonical state keeps showing the order open
    rig.place("ssi", account="bob", side=Side.SELL)  # fills alice's order at the venue
    started = time.monotonic()
    result = await rig.executor.handle(command("ssi", symbol="HPG", order_id=order_id))
    assert time.monotonic() - started < 4  # learned from the stream, not the 5 s timeout
    assert result["status"] == "failed", result
    outcome = result["outcomes"][0]
    assert outcome["outcome"] == "failed"
    assert outcome["venue_error_code"] == "ORD011"
    assert outcome["venue_error"] == "Invalid Order Transition Error!"
    for published in rig.published:
        validate("command_result", published)


async def test_ssi_refusal_of_a_filled_order_is_already_terminal(rig: Rig):
    order_id = rig.place("ssi")
    rig.feed.paused = True  # the canonical state lags: it still shows the order open
    rig.place("ssi", account="bob", side=Side.SELL)  # fills alice's order
    task = asyncio.ensure_future(
        rig.executor.handle(command("ssi", symbol="HPG", order_id=order_id))
    )
    await asyncio.sleep(0.3)  # the cancel reached the venue: orderError ORD011
    rig.feed.paused = False
    result = await task
    outcome = result["outcomes"][0]
    assert outcome["outcome"] == "already_terminal", result
    assert outcome["venue_error_code"] == "ORD011"
    assert "filled before the cancel" in outcome["note"]


async def test_upbit_scope_above_300_orders_splits_scope_and_single_cancels(rig: Rig):
    ids = [rig.place("upbit", qty="0.0001") for _ in range(305)]
    result = await rig.executor.handle(command("upbit", account="alice"))
    assert result["status"] == "completed", result["reason"]
    assert all(rig.order("upbit", i).status is Status.CANCELED for i in ids)
    assert "305 orders exceed the scope cancel's 300" in result["reason"]
    notes = [o["note"] or "" for o in result["outcomes"]]
    assert sum("canceled order by order" in n for n in notes) == 5
