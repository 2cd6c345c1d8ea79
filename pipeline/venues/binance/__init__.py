"""Binance Spot: the user data stream and WebSocket API replies, normalized to canonical events."""

from __future__ import annotations

from pipeline.venues.binance.mapping import (
    CHANNEL_MY_TRADES,
    CHANNEL_OPEN_ORDERS_CANCEL_ALL,
    CHANNEL_OPEN_ORDERS_STATUS,
    CHANNEL_ORDER_AMEND,
    CHANNEL_ORDER_CANCEL,
    CHANNEL_ORDER_CANCEL_REPLACE,
    CHANNEL_ORDER_PLACE,
    CHANNEL_ORDER_STATUS,
    CHANNEL_ORDER_TEST,
    CHANNEL_USER_DATA,
    CHANNELS,
    QUOTE_ASSETS,
    STATUS_MAP,
    to_symbol,
)
from pipeline.venues.binance.normalizer import BinanceNormalizer

__all__ = [
    "CHANNELS",
    "CHANNEL_MY_TRADES",
    "CHANNEL_OPEN_ORDERS_CANCEL_ALL",
    "CHANNEL_OPEN_ORDERS_STATUS",
    "CHANNEL_ORDER_AMEND",
    "CHANNEL_ORDER_CANCEL",
    "CHANNEL_ORDER_CANCEL_REPLACE",
    "CHANNEL_ORDER_PLACE",
    "CHANNEL_ORDER_STATUS",
    "CHANNEL_ORDER_TEST",
    "CHANNEL_USER_DATA",
    "QUOTE_ASSETS",
    "STATUS_MAP",
    "BinanceNormalizer",
    "to_symbol",
]
