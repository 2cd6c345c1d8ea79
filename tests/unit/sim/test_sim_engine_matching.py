"""The matching engine: priority, partial fills, order types, self-trade prevention, stops."""

from __future__ import annotations

from decimal import Decimal

import pytest

from pipeline.sim.engine import (
    EndReason,
    EngineRejection,
    EventKind,
    Exchange,
    IdScheme,
    IdStyle,
    Instrument,
    Order,
    OrderRequest,
    OrderType,
    PostOnlyPolicy,
    RejectCode,
    Side,
    Status,
    StpMode,
    TimeInForce,
    TriggerKind,
    VenueRules,
)

D = Decimal
SYMBOL = "BTCUSDT"
T0 = 1_700_000_000_000


def make_exchange(**rules: object) -> Exchange:
    instrument = Instrument(
        "binance", SYMBOL, "BTC", "USDT", D("0.01"), D("0.001"),
        maker_fee_rate=D("0.001"), taker_fee_rate=D("0.002"), fee_in_base_on_buy=True,
    )  # fmt: skip
    return Exchange("binance", [instrument], VenueRules(**rules), IdScheme(IdStyle.NUMERIC, 1))  # type: ignore[arg-type]


def limit(
    ex: Exchange, account: str, side: Side, price: str, qty: str, now: int = T0, **kw: object
) -> Order:
    request = OrderRequest(
        account,
        SYMBOL,
        side,
        OrderType.LIMIT,
        qty=D(qty),
        price=D(price),
        **kw,  # type: ignore[arg-type]
    )
    return ex.place(request, now)[0]


def market(ex: Exchange, account: str, side: Side, qty: str, now: int = T0, **kw: object) -> Order:
    request = OrderRequest(account, SYMBOL, side, OrderType.MARKET, qty=D(qty), **kw)  # type: ignore[arg-type]
    return ex.place(request, now)[0]


def test_book_price_time_priority_fills_better_price_then_earlier_order() -> None:
    ex = make_exchange()
    late_best = limit(ex, "a", Side.SELL, "100.00", "1", T0 + 2)
    early_worse = limit(ex, "b", Side.SELL, "100.01", "1", T0)
    first_at_best = limit(ex, "c", Side.SELL, "100.00", "1", T0 + 1)
    taker = market(ex, "d", Side.BUY, "2.5", T0 + 3)
    assert [f.counter_order_id for f in taker.fills] == [
        late_best.order_id,
        first_at_best.order_id,
        early_worse.order_id,
    ]
    assert [f.price for f in taker.fills] == [D("100.00"), D("100.00"), D("100.01")]
    assert early_worse.status is Status.PARTIALLY_FILLED
    assert early_worse.remaining == D("0.5")


def test_taker_limit_sweeps_levels_over_several_trades_and_rests_the_rest() -> None:
    ex = make_exchange()
    for price in ("100.00", "100.01", "100.02"):
        limit(ex, "maker", Side.SELL, price, "1")
    taker = limit(ex, "taker", Side.BUY, "100.01", "3", T0 + 1)
    assert [f.qty for f in taker.fills] == [D(1), D(1)]
    assert taker.status is Status.PARTIALLY_FILLED
    assert taker.avg_price == D("100.005")
    assert ex.books[SYMBOL].best_price(Side.BUY) == D("100.01")
    assert ex.books[SYMBOL].best_price(Side.SELL) == D("100.02")


def test_resting_order_fills_partially_over_several_takers_then_filled() -> None:
    ex = make_exchange()
    maker = limit(ex, "maker", Side.BUY, "99.00", "3")
    for step in range(3):
        market(ex, f"t{step}", Side.SELL, "1", T0 + step + 1)
    assert maker.status is Status.FILLED
    assert [f.qty for f in maker.fills] == [D(1)] * 3
    assert maker.trades_count == 3
    assert len(ex.books[SYMBOL]) == 0


def test_fees_are_charged_per_side_in_the_venue_asset() -> None:
    ex = make_exchange()
    maker = limit(ex, "maker", Side.SELL, "100.00", "2")
    taker = market(ex, "taker", Side.BUY, "2", T0 + 1)
    assert (maker.fills[0].fee, maker.fills[0].fee_asset) == (D("0.2"), "USDT")  # 200 * 0.001
    assert (taker.fills[0].fee, taker.fills[0].fee_asset) == (D("0.004"), "BTC")  # 2 * 0.002
    assert maker.fills[0].trade_id == taker.fills[0].trade_id


def test_ioc_remainder_expires_after_partial_fill() -> None:
    ex = make_exchange()
    limit(ex, "maker", Side.SELL, "100.00", "1")
    taker = limit(ex, "t", Side.BUY, "100.00", "3", T0 + 1, time_in_force=TimeInForce.IOC)
    assert taker.status is Status.EXPIRED
    assert taker.end_reason is EndReason.UNFILLED_REMAINDER
    assert (taker.filled_qty, taker.canceled_qty, taker.remaining) == (D(1), D(2), D(0))
    assert len(ex.books[SYMBOL]) == 0


def test_fok_without_enough_liquidity_expires_with_no_trade() -> None:
    ex = make_exchange()
    maker = limit(ex, "maker", Side.SELL, "100.00", "1")
    taker = limit(ex, "t", Side.BUY, "100.00", "2", T0 + 1, time_in_force=TimeInForce.FOK)
    assert taker.status is Status.EXPIRED
    assert taker.filled_qty == 0
    assert maker.remaining == D(1)


def test_fok_with_enough_liquidity_fills_completely() -> None:
    ex = make_exchange()
    limit(ex, "maker", Side.SELL, "100.00", "1")
    limit(ex, "maker", Side.SELL, "100.01", "1")
    taker = limit(ex, "t", Side.BUY, "100.01", "2", T0 + 1, time_in_force=TimeInForce.FOK)
    assert taker.status is Status.FILLED


def test_post_only_that_would_take_is_rejected_and_leaves_no_trace() -> None:
    ex = make_exchange()
    limit(ex, "maker", Side.SELL, "100.00", "1")
    before = len(ex.log)
    with pytest.raises(EngineRejection) as caught:
        limit(ex, "t", Side.BUY, "100.00", "1", post_only=True)
    assert caught.value.code is RejectCode.POST_ONLY_WOULD_TAKE
    assert len(ex.log) == before


def test_post_only_that_would_take_is_canceled_under_cancel_policy() -> None:
    ex = make_exchange(post_only=PostOnlyPolicy.CANCEL)
    limit(ex, "maker", Side.SELL, "100.00", "1")
    order = limit(ex, "t", Side.BUY, "100.00", "1", post_only=True)
    assert order.status is Status.CANCELED
    assert order.end_reason is EndReason.EXCHANGE
    assert order.filled_qty == 0


def test_market_order_without_liquidity_expires_unfilled() -> None:
    order = market(make_exchange(), "a", Side.BUY, "1")
    assert order.status is Status.EXPIRED
    assert order.canceled_qty == D(1)


def test_quote_sized_market_buy_spends_its_amount_on_whole_lots() -> None:
    ex = make_exchange()
    limit(ex, "maker", Side.SELL, "100.00", "1")
    limit(ex, "maker", Side.SELL, "200.00", "1")
    request = OrderRequest("t", SYMBOL, Side.BUY, OrderType.MARKET, quote_qty=D("150.19"))
    order, _ = ex.place(request, T0 + 1)
    assert order.filled_qty == D("1.250")  # 1 @ 100, then 0.250 @ 200 (whole 0.001 lots)
    assert order.filled_quote == D("150.000")
    assert order.quote_qty - order.filled_quote == D("0.19")  # dust: less than a lot
    assert order.status is Status.FILLED
    assert order.qty == order.filled_qty


@pytest.mark.parametrize(
    ("mode", "maker_status", "taker_status", "taker_filled"),
    [
        (StpMode.CANCEL_MAKER, Status.CANCELED, Status.FILLED, D(1)),
        (StpMode.CANCEL_TAKER, Status.OPEN, Status.CANCELED, D(0)),
        (StpMode.CANCEL_BOTH, Status.CANCELED, Status.CANCELED, D(0)),
    ],
)
def test_self_trade_prevention_cancels_by_the_takers_mode(
    mode: StpMode, maker_status: Status, taker_status: Status, taker_filled: Decimal
) -> None:
    ex = make_exchange()
    own = limit(ex, "a", Side.SELL, "100.00", "1")
    limit(ex, "b", Side.SELL, "100.01", "1")
    taker = limit(ex, "a", Side.BUY, "100.01", "1", T0 + 1, stp=mode)
    assert (own.status, taker.status, taker.filled_qty) == (
        maker_status,
        taker_status,
        taker_filled,
    )
    prevented = [e for e in ex.log if e.kind is EventKind.PREVENTED]
    assert prevented
    assert all(e.order.end_reason is EndReason.SELF_TRADE_PREVENTION for e in prevented)
    assert not [f for f in ex.fills if f.counter_order_id == own.order_id]


def test_decrement_shrinks_both_orders_and_keeps_the_larger_one_live() -> None:
    ex = make_exchange()
    own = limit(ex, "a", Side.SELL, "100.00", "3")
    taker = limit(ex, "a", Side.BUY, "100.00", "1", T0 + 1, stp=StpMode.DECREMENT)
    assert taker.status is Status.CANCELED
    assert (taker.prevented_qty, taker.filled_qty) == (D(1), D(0))
    assert own.status is Status.OPEN
    assert (own.prevented_qty, own.canceled_qty, own.remaining) == (D(1), D(1), D(2))
    assert own.filled_qty + own.canceled_qty + own.remaining == own.qty


def test_without_stp_an_account_trades_with_itself() -> None:
    ex = make_exchange()
    own = limit(ex, "a", Side.SELL, "100.00", "1")
    taker = market(ex, "a", Side.BUY, "1", T0 + 1)
    assert own.status is taker.status is Status.FILLED


def test_stop_loss_sell_waits_then_triggers_when_price_falls_and_fills() -> None:
    ex = make_exchange()
    limit(ex, "mm", Side.BUY, "95.00", "5")
    limit(ex, "mm", Side.SELL, "100.00", "1")
    market(ex, "x", Side.BUY, "1", T0 + 1)  # last = 100.00
    stop = ex.place(
        OrderRequest("a", SYMBOL, Side.SELL, OrderType.MARKET, qty=D(1),
                     trigger=TriggerKind.STOP_LOSS, stop_price=D("96.00")),
        T0 + 2,
    )[0]  # fmt: skip
    assert stop.status is Status.UNTRIGGERED
    market(ex, "y", Side.SELL, "1", T0 + 3)  # trades at 95.00 <= 96.00: the stop wakes
    assert stop.status is Status.FILLED
    kinds = [e.kind for e in ex.log if e.order_id == stop.order_id]
    assert kinds == [EventKind.ACCEPTED, EventKind.TRIGGERED, EventKind.TRADE]


def test_take_profit_buy_limit_triggers_when_price_falls_to_stop() -> None:
    ex = make_exchange()
    limit(ex, "mm", Side.BUY, "90.00", "1")
    market(ex, "x", Side.SELL, "1", T0)  # last = 90.00 (above the stop? no: below)
    order = ex.place(
        OrderRequest("a", SYMBOL, Side.BUY, OrderType.LIMIT, qty=D(1), price=D("80.00"),
                     trigger=TriggerKind.TAKE_PROFIT, stop_price=D("85.00")),
        T0 + 1,
    )[0]  # fmt: skip
    assert order.status is Status.UNTRIGGERED
    limit(ex, "mm", Side.BUY, "84.00", "1", T0 + 2)
    market(ex, "y", Side.SELL, "1", T0 + 3)  # last = 84.00 <= 85.00
    assert order.status is Status.OPEN
    assert ex.books[SYMBOL].best_price(Side.BUY) == D("80.00")


def test_stop_that_would_trigger_now_is_rejected_when_the_venue_says_so() -> None:
    ex = make_exchange(reject_stop_triggering_now=True)
    limit(ex, "mm", Side.SELL, "100.00", "1")
    market(ex, "x", Side.BUY, "1")
    request = OrderRequest("a", SYMBOL, Side.BUY, OrderType.MARKET, qty=D(1),
                           trigger=TriggerKind.STOP_LOSS, stop_price=D("99.00"))  # fmt: skip
    with pytest.raises(EngineRejection) as caught:
        ex.place(request, T0 + 1)
    assert caught.value.code is RejectCode.STOP_WOULD_TRIGGER


def test_validation_rejects_off_grid_quantity_price_and_unsupported_stp() -> None:
    ex = make_exchange(stp_modes=frozenset({StpMode.CANCEL_MAKER}))
    cases = [
        ({"qty": D("0.0005"), "price": D(100)}, RejectCode.INVALID_QUANTITY),
        ({"qty": D(1), "price": D("100.001")}, RejectCode.INVALID_PRICE),
        ({"qty": D(1), "price": D(100), "stp": StpMode.DECREMENT}, RejectCode.UNSUPPORTED),
    ]
    for fields, code in cases:
        with pytest.raises(EngineRejection) as caught:
            ex.place(OrderRequest("a", SYMBOL, Side.BUY, OrderType.LIMIT, **fields), T0)  # type: ignore[arg-type]
        assert caught.value.code is code
    with pytest.raises(EngineRejection) as unknown:
        ex.place(OrderRequest("a", "NOPE", Side.BUY, OrderType.MARKET, qty=D(1)), T0)
    assert unknown.value.code is RejectCode.UNKNOWN_SYMBOL
