"""The futures trading gateway of seed 002: order and trade polls and cancel_all, normalized."""

from __future__ import annotations

from pipeline.venues.futures_gateway.mapping import (
    CHANNEL_CANCEL_ALL,
    CHANNEL_OPEN_ORDERS,
    CHANNEL_ORDER_STATUS,
    CHANNEL_TRADES,
    CHANNELS,
    STATUS_MAP,
    to_symbol,
)
from pipeline.venues.futures_gateway.normalizer import FuturesGatewayNormalizer

__all__ = [
    "CHANNELS",
    "CHANNEL_CANCEL_ALL",
    "CHANNEL_OPEN_ORDERS",
    "CHANNEL_ORDER_STATUS",
    "CHANNEL_TRADES",
    "STATUS_MAP",
    "FuturesGatewayNormalizer",
    "to_symbol",
]
