"""The Upbit status table, symbols, numbers and the registry."""

from __future__ import annotations

import pytest
from upbit_cases import (
    D,
    load,
    one,
)

from pipeline.domain.events import (
    CancelReason,
    OrderStatus,
)
from pipeline.errors import NormalizationError
from pipeline.venues import normalizer_for
from pipeline.venues.upbit import (
    CHANNEL_MY_ORDER,
    STATUS_MAP,
    UpbitNormalizer,
    split_market,
    to_symbol,
)

# --- the status table ------------------------------------------------------------------------


def test_status_map_covers_exactly_the_documented_states() -> None:
    assert set(STATUS_MAP) == {"wait", "watch", "trade", "done", "cancel", "prevented"}


@pytest.mark.parametrize(
    ("state", "status", "reason"),
    [
        ("wait", OrderStatus.OPEN, None),
        ("watch", OrderStatus.UNTRIGGERED, None),
        ("trade", OrderStatus.PARTIALLY_FILLED, None),
        ("done", OrderStatus.FILLED, None),
        ("cancel", OrderStatus.CANCELED, CancelReason.USER),
        ("prevented", OrderStatus.CANCELED, CancelReason.SELF_TRADE_PREVENTION),
    ],
)
def test_status_map_row_yields_canonical_status(
    state: str, status: OrderStatus, reason: CancelReason | None
) -> None:
    payload = load("fixture_myOrder_limit_2_trade.json")
    payload["state"] = state
    if state != "trade":
        payload.update(volume=0.01, trade_uuid=None, trade_fee=None)
    if state == "prevented":  # ends the order only when nothing remains (Upbit's SMP guide)
        payload.update(remaining_volume=0.0)
    got = one(CHANNEL_MY_ORDER, payload)
    assert STATUS_MAP[state] is status
    assert (got.status, got.venue_status, got.cancel_reason) == (status, state, reason)


@pytest.mark.parametrize(
    ("time_in_force", "reason"),
    [(None, CancelReason.USER), ("ioc", CancelReason.UNFILLED_REMAINDER)],
)
def test_cancel_of_limit_order_reason_depends_on_time_in_force(
    time_in_force: str | None, reason: CancelReason
) -> None:
    payload = load("fixture_myOrder_ask_cancel_partial.json")
    payload["time_in_force"] = time_in_force
    assert one(CHANNEL_MY_ORDER, payload).cancel_reason == reason


# --- symbols, numbers, registry ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "symbol", "quote"),
    [
        ("KRW-BTC", "BTC/KRW", "KRW"),
        ("BTC-ETH", "ETH/BTC", "BTC"),
        ("USDT-XRP", "XRP/USDT", "USDT"),
        ("SGD-XRP", "XRP/SGD", "SGD"),
        ("KRW-1INCH", "1INCH/KRW", "KRW"),
    ],
)
def test_market_code_converts_to_unified_symbol(code: str, symbol: str, quote: str) -> None:
    assert to_symbol(code) == symbol
    assert split_market(code, "code") == (symbol, quote)


@pytest.mark.parametrize("code", ["KRWBTC", "KRW-", "-BTC", "KRW-BTC-X", "krw-btc"])
def test_malformed_market_code_raises(code: str) -> None:
    with pytest.raises(NormalizationError) as info:
        to_symbol(code)
    assert (info.value.field, info.value.value) == ("code", code)


def test_json_doubles_become_shortest_decimals() -> None:
    payload = load("fixture_myOrder_limit_1_wait.json")
    payload.update(volume=0.1, remaining_volume=0.1, price=0.3)
    got = one(CHANNEL_MY_ORDER, payload)
    assert (got.qty, got.price) == (D("0.1"), D("0.3"))


def test_registry_returns_upbit_normalizer() -> None:
    normalizer = normalizer_for("upbit")
    assert isinstance(normalizer, UpbitNormalizer)
    assert normalizer.venue == "upbit"
