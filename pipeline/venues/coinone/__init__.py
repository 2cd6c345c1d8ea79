"""Coinone (private API v2.1): REST order replies and the MYORDER WebSocket, normalized."""

from __future__ import annotations

from pipeline.venues.coinone.mapping import (
    CHANNEL_ACTIVE_ORDERS,
    CHANNEL_COMPLETED_ORDERS,
    CHANNEL_MYORDER,
    CHANNEL_ORDER_CANCEL,
    CHANNEL_ORDER_DETAIL,
    CHANNELS,
    STATUS_MAP,
    WS_STATUS_MAP,
    pair_symbols,
    split_venue_symbol,
    venue_symbol,
)
from pipeline.venues.coinone.normalizer import CoinoneNormalizer

__all__ = [
    "CHANNELS",
    "CHANNEL_ACTIVE_ORDERS",
    "CHANNEL_COMPLETED_ORDERS",
    "CHANNEL_MYORDER",
    "CHANNEL_ORDER_CANCEL",
    "CHANNEL_ORDER_DETAIL",
    "STATUS_MAP",
    "WS_STATUS_MAP",
    "CoinoneNormalizer",
    "pair_symbols",
    "split_venue_symbol",
    "venue_symbol",
]
