"""Upbit: the myOrder WebSocket and REST order objects, normalized to canonical events."""

from __future__ import annotations

from pipeline.venues.upbit.mapping import (
    CHANNEL_MY_ORDER,
    CHANNEL_REST_ORDER,
    CHANNEL_REST_ORDERS,
    CHANNELS,
    STATUS_MAP,
    split_market,
    to_symbol,
)
from pipeline.venues.upbit.normalizer import UpbitNormalizer

__all__ = [
    "CHANNELS",
    "CHANNEL_MY_ORDER",
    "CHANNEL_REST_ORDER",
    "CHANNEL_REST_ORDERS",
    "STATUS_MAP",
    "UpbitNormalizer",
    "split_market",
    "to_symbol",
]
