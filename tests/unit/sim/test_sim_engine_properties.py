"""Invariants of any seeded flow: books never cross, quantities are conserved, runs repeat."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline.sim.clock import ManualClock
from pipeline.sim.engine import EventKind, Exchange, HouseLiquidity, IdScheme, Status
from pipeline.sim.flow import FlowConfig, OrderFlow, VenueFlow
from pipeline.sim.kits import VENUE_KITS


def build(seed: int, venue: str) -> tuple[OrderFlow, Exchange]:
    kit = VENUE_KITS[venue]
    exchange = Exchange(venue, kit.instruments, kit.rules, IdScheme(kit.id_style, seed))
    house = HouseLiquidity(exchange, kit.reference_prices, kit.house)
    flow = OrderFlow({venue: VenueFlow(exchange, house, kit.flow)}, FlowConfig(seed=seed))
    return flow, exchange


def assert_invariants(exchange: Exchange) -> None:
    for book in exchange.books.values():
        assert not book.is_crossed()
        for order in book.orders():
            assert order.is_live
            assert order.remaining > 0
    for order in exchange.orders.values():
        remaining = order.remaining
        assert order.filled_qty + order.canceled_qty + remaining == order.qty
        assert min(order.filled_qty, order.canceled_qty, remaining) >= 0
        assert order.filled_qty == sum((f.qty for f in order.fills), Decimal(0))
        if order.status.is_terminal:
            assert remaining == 0
            assert order.order_id not in exchange.live_orders
        if order.status is Status.FILLED and not order.quote_sized:
            assert order.filled_qty + order.prevented_qty <= order.qty


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000), venue=st.sampled_from(sorted(VENUE_KITS)))
def test_any_seeded_flow_keeps_books_uncrossed_and_quantities_conserved(
    seed: int, venue: str
) -> None:
    flow, exchange = build(seed, venue)
    clock = ManualClock(step_ms=0)
    for _ in range(250):
        flow.step(clock.advance(7))
        assert_invariants(exchange)
    exchange.complete_pending(clock.advance(1))
    assert_invariants(exchange)


@settings(max_examples=8, deadline=None)
@given(seed=st.integers(0, 10_000), venue=st.sampled_from(sorted(VENUE_KITS)))
def test_every_trade_is_two_fills_of_opposite_sides_at_one_price(seed: int, venue: str) -> None:
    flow, exchange = build(seed, venue)
    clock = ManualClock()
    for _ in range(150):
        flow.step(clock.advance(5))
    by_trade: dict[str, list] = {}
    for fill in exchange.fills:
        by_trade.setdefault(fill.trade_id, []).append(fill)
    for fills in by_trade.values():
        assert len(fills) == 2
        maker, taker = fills
        assert (maker.side, maker.price, maker.qty) == (taker.side.opposite, taker.price, taker.qty)
        assert {maker.liquidity.value, taker.liquidity.value} == {"maker", "taker"}


def test_same_seed_and_clock_reproduce_the_same_run() -> None:
    def run(seed: int) -> list[tuple[object, ...]]:
        flow, exchange = build(seed, "binance")
        clock = ManualClock()
        for _ in range(300):
            flow.step(clock.advance(3))
        return [(e.kind, e.order_id, e.time, e.fill and e.fill.trade_id) for e in exchange.log]

    assert run(42) == run(42)
    assert run(42) != run(43)


def test_flow_produces_partial_fills_over_several_trades_and_every_order_kind() -> None:
    flow, exchange = build(3, "binance")
    clock = ManualClock()
    for _ in range(1500):
        flow.step(clock.advance(4))
    kinds = {e.kind for e in exchange.log}
    assert kinds >= {
        EventKind.ACCEPTED, EventKind.TRADE, EventKind.CANCELED, EventKind.EXPIRED,
        EventKind.PREVENTED, EventKind.AMENDED, EventKind.TRIGGERED,
    }  # fmt: skip
    flow_accounts = set(flow.config.accounts)
    multi = [
        o for o in exchange.orders.values() if o.account in flow_accounts and o.trades_count > 2
    ]
    assert multi, "crossing flow should fill some orders over several trades"
    assert {o.status for o in exchange.orders.values()} >= {
        Status.FILLED, Status.CANCELED, Status.EXPIRED, Status.OPEN,
    }  # fmt: skip
