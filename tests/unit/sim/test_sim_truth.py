"""Ground truth: canonical statuses, average-cost positions, and the comparison report."""

from __future__ import annotations

import re
from decimal import Decimal
from types import SimpleNamespace

from pipeline.domain.events import OrderStatus
from pipeline.sim.engine import (
    EndReason,
    Exchange,
    Fill,
    IdScheme,
    IdStyle,
    Instrument,
    Liquidity,
    OrderRequest,
    OrderType,
    Side,
    StpMode,
    TimeInForce,
    VenueRules,
)
from pipeline.sim.truth import GroundTruth, canonical_status, compare, fold_positions

D = Decimal
T0 = 1_700_000_000_000


def exchange(venue: str = "binance") -> Exchange:
    symbol = "BTCUSDT" if venue == "binance" else "KRW-BTC"
    instrument = Instrument(venue, symbol, "BTC", "USDT" if venue == "binance" else "KRW",
                            D("0.01"), D("0.01"))  # fmt: skip
    return Exchange(venue, [instrument], VenueRules(), IdScheme(IdStyle.NUMERIC, 1))


def place(ex: Exchange, account: str, side: Side, qty: str, price: str | None = None, **kw: object):  # type: ignore[no-untyped-def]
    symbol = next(iter(ex.instruments))
    kind = OrderType.LIMIT if price else OrderType.MARKET
    request = OrderRequest(account, symbol, side, kind, qty=D(qty),
                           price=D(price) if price else None, **kw)  # type: ignore[arg-type]  # fmt: skip
    return ex.place(request, T0)[0]


def fill(side: Side, qty: str, price: str, trade: str, fee: str = "0", asset: str = "USDT") -> Fill:
    return Fill("v", "a", "BTC/USDT", "BTCUSDT", "o", trade, side, D(price), D(qty), D(fee),
                asset, Liquidity.TAKER, T0, "x")  # fmt: skip


def test_canonical_status_follows_the_pipelines_rules() -> None:
    ex = exchange()
    resting = place(ex, "m", Side.SELL, "1", "100")
    assert canonical_status(resting) == ("open", None)
    ioc = place(ex, "t", Side.BUY, "2", "100", time_in_force=TimeInForce.IOC)
    assert canonical_status(resting) == ("filled", None)
    assert canonical_status(ioc) == ("expired", "unfilled_remainder")
    upbit = exchange("upbit")
    market = place(upbit, "t", Side.BUY, "1")
    assert canonical_status(market) == ("canceled", "unfilled_remainder")  # Upbit: no "expired"


def test_decremented_order_that_then_fills_the_rest_is_canonically_canceled() -> None:
    ex = exchange()
    own = place(ex, "a", Side.SELL, "3", "100")
    place(ex, "a", Side.BUY, "1", "100", stp=StpMode.DECREMENT)
    place(ex, "b", Side.BUY, "2", "100")
    assert own.status.value == "filled"
    assert canonical_status(own) == ("canceled", None)


def test_positions_fold_average_cost_long_short_and_through_zero() -> None:
    fills = [
        fill(Side.BUY, "2", "100", "1", fee="0.002", asset="BTC"),
        fill(Side.BUY, "2", "110", "2"),
        fill(Side.SELL, "1", "120", "3", fee="0.12"),
        fill(Side.SELL, "5", "90", "4", fee="0.45"),
    ]
    position = fold_positions(fills)[("v", "a", "BTC/USDT")]
    # avg 105 after two buys; sell 1 @120 realizes 15; sell 5 @90 closes 3 (-45), opens -2 @90
    assert position["qty"] == D(-2)
    assert position["avg_price"] == D(90)
    assert position["realized_pnl"] == D(15) - D(45)
    assert position["fees"] == {"BTC": D("0.002"), "USDT": D("0.57")}
    assert position["fill_count"] == 4


def test_positions_use_the_canonical_fill_order_not_arrival_order() -> None:
    fills = [fill(Side.SELL, "1", "120", "2"), fill(Side.BUY, "1", "100", "1")]
    forward = fold_positions(fills)
    backward = fold_positions(list(reversed(fills)))
    assert forward == backward
    assert forward[("v", "a", "BTC/USDT")]["realized_pnl"] == D(20)


def test_compare_reports_each_difference_and_a_summary() -> None:
    ex = exchange()
    place(ex, "m", Side.SELL, "1", "100")
    place(ex, "t", Side.BUY, "0.4")
    truth = GroundTruth.from_exchanges([ex])
    orders = [dict(row) for row in truth.orders.values()]
    positions = [dict(row) for row in truth.positions.values()]
    assert compare(truth, orders, positions).summary() == "orders 2/2 match, positions 2/2 match"

    orders[0]["filled_qty"] = "0.3"
    positions[0]["qty"] = "9"
    result = compare(truth, [*orders[:1], {**orders[1], "order_id": "ghost"}], positions)
    assert not result.ok
    assert result.summary() == "orders 0/2 match, positions 1/2 match"
    text = "\n".join(result.problems)
    assert re.search(r"filled_qty: expected [0-9.]+, stored 0\.3\b", text), text
    assert "qty: expected" in text
    assert ", stored 9" in text
    assert "missing from the pipeline" in text
    assert "not in the truth" in text
    assert "position" in text


def test_compare_accepts_pipeline_objects_with_enums_and_trailing_zeros() -> None:
    ex = exchange()
    place(ex, "m", Side.SELL, "1", "100")
    truth = GroundTruth.from_exchanges([ex])
    row = next(iter(truth.orders.values()))
    # like OrderState: attributes, an enum status, decimals at wire precision
    state = SimpleNamespace(**{**row, "status": OrderStatus.OPEN, "qty": D("1.00000000")})
    assert compare(truth, [state], []).orders_matched == 1


def test_truth_json_has_plain_decimal_strings_and_an_account_filter() -> None:
    ex = exchange()
    place(ex, "m", Side.SELL, "1.50", "100.10")
    place(ex, "t", Side.BUY, "0.5")
    everything = GroundTruth.from_exchanges([ex]).to_json()
    order = everything["orders"][0]
    assert (order["qty"], order["filled_qty"], order["avg_fill_price"]) == ("1.5", "0.5", "100.1")
    only_t = GroundTruth.from_exchanges([ex], accounts=["t"])
    assert {key[1] for key in only_t.orders} == {"t"}
    assert "orders 1 (filled 1)" in only_t.summary()


def test_stp_prevented_order_carries_its_reason() -> None:
    ex = exchange()
    own = place(ex, "a", Side.SELL, "1", "100")
    place(ex, "a", Side.BUY, "1", "100", stp=StpMode.CANCEL_MAKER)
    assert own.end_reason is EndReason.SELF_TRADE_PREVENTION
    assert canonical_status(own) == ("canceled", "self_trade_prevention")
