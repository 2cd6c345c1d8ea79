"""Every payload the simulator renders normalizes, and folding it reproduces the truth.

Offline (no sockets): a seeded flow runs on one venue's engine, each engine event is rendered
as the venue's payloads (Upbit in all four myOrder formats; Binance executionReports plus
order.place FULL / order.cancel / amend / openOrders.status replies), the pipeline's
normalizer and `TradingBook` fold them, and the result must equal `GroundTruth`.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sim_replay import fold, run_flow

from pipeline.envelope import RawEnvelope
from pipeline.sim import upbit_wire
from pipeline.sim.engine import (
    Exchange,
    IdScheme,
    OrderRequest,
    OrderType,
    Side,
    StpMode,
)
from pipeline.sim.kits import UPBIT_KIT, VENUE_KITS
from pipeline.sim.truth import GroundTruth, compare
from pipeline.venues import normalizer_for

PROFILES = {"upbit": UPBIT_KIT.flow, "binance": VENUE_KITS["binance"].flow}
# coinone, ssi and futures_gateway have their own consistency tests (test_sim_*_consistency.py)
VENUES = sorted(PROFILES)


def check(venue: str, seed: int, steps: int) -> None:
    exchange, payloads = run_flow(venue, seed, steps, PROFILES[venue])
    book = fold(venue, payloads)
    truth = GroundTruth.from_exchanges([exchange])
    result = compare(truth, book.orders(), book.positions())
    assert result.ok, result.summary() + "\n" + "\n".join(result.problems[:10])
    assert result.orders_matched == len(exchange.orders) > 100
    assert result.positions_matched == len(truth.positions)


@pytest.mark.parametrize("venue", VENUES)
def test_seeded_flow_folds_back_to_the_truth(venue: str) -> None:
    check(venue, seed=11, steps=1200)


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 100_000), venue=st.sampled_from(VENUES))
def test_any_seed_folds_back_to_the_truth(seed: int, venue: str) -> None:
    check(venue, seed, steps=300)


@pytest.mark.parametrize("venue", VENUES)
def test_every_rendered_payload_normalizes_and_duplicates_change_nothing(venue: str) -> None:
    _exchange, payloads = run_flow(venue, seed=5, steps=400, profile=PROFILES[venue])
    once = fold(venue, payloads)
    twice = fold(venue, payloads + payloads[::-1])  # redelivered, and in reverse order
    assert list(once.orders())
    assert {s.key: (s.status, s.filled_qty, s.canceled_qty) for s in once.orders()} == {
        s.key: (s.status, s.filled_qty, s.canceled_qty) for s in twice.orders()
    }
    assert {p.key: (p.qty, p.realized_pnl) for p in once.positions()} == {
        p.key: (p.qty, p.realized_pnl) for p in twice.positions()
    }


def test_ground_truth_symbols_are_the_normalizers_symbols() -> None:
    for venue in VENUES:
        exchange, payloads = run_flow(venue, seed=2, steps=60, profile=PROFILES[venue])
        book = fold(venue, payloads)
        truth = GroundTruth.from_exchanges([exchange])
        assert {s.symbol for s in book.orders()} == {row["symbol"] for row in truth.orders.values()}


def _reduce_twice_in_one_millisecond() -> tuple[Exchange, list[dict]]:
    kit = UPBIT_KIT
    exchange = Exchange("upbit", kit.instruments, kit.rules, IdScheme(kit.id_style, 1))
    frames: list[dict] = []
    exchange.subscribe(lambda events: frames.extend(
        f for e in events for f in upbit_wire.my_order_frames(e)))  # fmt: skip
    now = 1_767_225_600_000
    for price in (140_000_000, 140_001_000):
        exchange.place(
            OrderRequest("a", "KRW-BTC", Side.SELL, OrderType.LIMIT, qty=Decimal("0.1"),
                         price=Decimal(price)), now)  # fmt: skip
    taker = OrderRequest("a", "KRW-BTC", Side.BUY, OrderType.LIMIT, qty=Decimal("0.3"),
                         price=Decimal(140_001_000), stp=StpMode.DECREMENT)  # fmt: skip
    exchange.place(taker, now + 1)  # meets both own asks in one sweep: two `prevented` frames
    return exchange, frames


def test_upbit_two_reduce_reports_in_one_millisecond_stay_distinct() -> None:
    exchange, frames = _reduce_twice_in_one_millisecond()
    book = fold("upbit", [("a", "myOrder", f) for f in frames])
    result = compare(GroundTruth.from_exchanges([exchange]), book.orders(), book.positions())
    assert result.ok, result.problems


def test_upbit_rest_snapshot_of_prevented_order_keeps_the_stp_reason() -> None:
    kit = UPBIT_KIT
    exchange = Exchange("upbit", kit.instruments, kit.rules, IdScheme(kit.id_style, 1))
    frames: list[dict] = []
    exchange.subscribe(lambda events: frames.extend(
        f for e in events for f in upbit_wire.my_order_frames(e)))  # fmt: skip
    now = 1_767_225_600_000
    maker, _ = exchange.place(
        OrderRequest("a", "KRW-BTC", Side.SELL, OrderType.LIMIT, qty=Decimal("0.1"),
                     price=Decimal(140_000_000)), now)  # fmt: skip
    exchange.place(
        OrderRequest("a", "KRW-BTC", Side.BUY, OrderType.LIMIT, qty=Decimal("0.1"),
                     price=Decimal(140_000_000), stp=StpMode.CANCEL_MAKER), now + 1)  # fmt: skip
    rest_reply = upbit_wire.rest_order(maker)  # GET /v1/order later: REST says `cancel`
    book = fold("upbit", [("a", "myOrder", f) for f in frames])
    for event in normalizer_for("upbit").normalize(
        RawEnvelope("upbit", "a", "rest.order", now + 5000, rest_reply)
    ):
        book.apply(event)
    state = book.order(("upbit", "a", maker.order_id))
    assert state is not None
    assert state.cancel_reason == "self_trade_prevention"
