"""The Binance status table, execution types and expiry reasons, symbols and the registry."""

from __future__ import annotations

import pytest
from binance_cases import (
    T0,
    load,
    one,
)

from pipeline.domain.events import (
    CancelReason,
    OrderStatus,
)
from pipeline.errors import NormalizationError
from pipeline.venues import normalizer_for
from pipeline.venues.binance import (
    CHANNEL_ORDER_PLACE,
    CHANNEL_USER_DATA,
    STATUS_MAP,
    BinanceNormalizer,
    to_symbol,
)

# --- the status table -------------------------------------------------------------------------

STATUS_ROWS = [
    ("NEW", OrderStatus.OPEN, None),
    ("PARTIALLY_FILLED", OrderStatus.PARTIALLY_FILLED, None),
    ("FILLED", OrderStatus.FILLED, None),
    ("CANCELED", OrderStatus.CANCELED, CancelReason.USER),
    ("PENDING_CANCEL", OrderStatus.PENDING_CANCEL, None),
    ("REJECTED", OrderStatus.REJECTED, None),
    ("EXPIRED", OrderStatus.EXPIRED, None),
    ("EXPIRED_IN_MATCH", OrderStatus.CANCELED, CancelReason.SELF_TRADE_PREVENTION),
    ("PENDING_NEW", OrderStatus.UNTRIGGERED, None),
]


def test_status_map_covers_exactly_the_documented_statuses() -> None:
    assert set(STATUS_MAP) == {row[0] for row in STATUS_ROWS}


@pytest.mark.parametrize(("label", "status", "reason"), STATUS_ROWS)
def test_status_map_row_yields_canonical_status_on_stream_and_response(
    label: str, status: OrderStatus, reason: CancelReason | None
) -> None:
    stream = load("fixture_executionReport_NEW.json")
    stream["event"]["X"] = label
    got = one(CHANNEL_USER_DATA, stream)
    assert STATUS_MAP[label] is status
    assert (got.status, got.venue_status, got.cancel_reason) == (status, label, reason)
    response = load("seed004_wsapi_order.place_RESULT.json")
    response["result"]["status"] = label
    got = one(CHANNEL_ORDER_PLACE, response)
    assert (got.status, got.venue_status, got.cancel_reason) == (status, label, reason)


@pytest.mark.parametrize(
    "execution", ["NEW", "CANCELED", "REPLACED", "REJECTED", "EXPIRED", "TRADE_PREVENTION"]
)
def test_every_non_trade_execution_type_yields_event_without_fill(execution: str) -> None:
    payload = load("fixture_executionReport_NEW.json")
    payload["event"]["x"] = execution
    got = one(CHANNEL_USER_DATA, payload)
    assert got.fill is None
    assert got.event_id == f"binance:ETHUSDC:9400000001:{execution}:NEW::100:{T0}"


@pytest.mark.parametrize(
    ("expiry_reason", "tif", "reason"),
    [
        ("UNFILLED_IOC_QUANTITY_EXPIRED", "IOC", CancelReason.UNFILLED_REMAINDER),
        ("UNFILLED_FOK_ORDER_EXPIRED", "FOK", CancelReason.UNFILLED_REMAINDER),
        ("INSUFFICIENT_LIQUIDITY", "GTC", CancelReason.UNFILLED_REMAINDER),
        ("EXCHANGE_CANCELED", "GTC", CancelReason.EXCHANGE),
        ("EXECUTION_RULE_PRICE_RANGE_EXCEEDED", "GTC", CancelReason.EXCHANGE),
        ("OCO_TRIGGER", "GTC", CancelReason.EXCHANGE),
        (None, "FOK", CancelReason.UNFILLED_REMAINDER),
        (None, "GTC", None),
        ("SOMETHING_NEW", "GTC", None),
    ],
)
def test_expired_reason_follows_expiry_reason_then_time_in_force(
    expiry_reason: str | None, tif: str, reason: CancelReason | None
) -> None:
    payload = load("binance_spot_executionReport_EXPIRED_IOC_expiryReason.json")
    payload.update(f=tif, eR=expiry_reason)
    assert one(CHANNEL_USER_DATA, payload).cancel_reason == reason


# --- symbols and registry ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("venue_symbol", "symbol"),
    [
        ("BTCUSDT", "BTC/USDT"),
        ("ETHUSDC", "ETH/USDC"),
        ("BTCFDUSD", "BTC/FDUSD"),
        ("ETHBTC", "ETH/BTC"),
        ("LTCBNB", "LTC/BNB"),
        ("USDTTRY", "USDT/TRY"),
        ("BTCTUSD", "BTC/TUSD"),
        ("BTCBIDR", "BTC/BIDR"),
        ("FDUSDUSDT", "FDUSD/USDT"),
        ("1INCHUSDT", "1INCH/USDT"),
        ("BTCEUR", "BTC/EUR"),
        ("BTCJPY", "BTC/JPY"),
        ("BTCBRL", "BTC/BRL"),
    ],
)
def test_symbol_splits_at_longest_known_quote(venue_symbol: str, symbol: str) -> None:
    assert to_symbol(venue_symbol) == symbol


@pytest.mark.parametrize("venue_symbol", ["BTUCSDT", "BTCXYZ", "USDT", ""])
def test_symbol_with_unknown_quote_raises_naming_symbol(venue_symbol: str) -> None:
    with pytest.raises(NormalizationError) as info:
        to_symbol(venue_symbol)
    assert (info.value.field, info.value.value) == ("s", venue_symbol)


def test_registry_returns_binance_normalizer() -> None:
    normalizer = normalizer_for("binance")
    assert isinstance(normalizer, BinanceNormalizer)
    assert normalizer.venue == "binance"
