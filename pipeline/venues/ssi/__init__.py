"""SSI FastConnect Trading v2 (Vietnam): REST order books and the order stream, normalized."""

from __future__ import annotations

from pipeline.venues.ssi.mapping import (
    CHANNEL_AUDIT_ORDER_BOOK,
    CHANNEL_ORDER_BOOK,
    CHANNEL_STREAM,
    CHANNELS,
    STATUS_ALIASES,
    STATUS_MAP,
    status_code,
    to_symbol,
)
from pipeline.venues.ssi.normalizer import SsiNormalizer

__all__ = [
    "CHANNELS",
    "CHANNEL_AUDIT_ORDER_BOOK",
    "CHANNEL_ORDER_BOOK",
    "CHANNEL_STREAM",
    "STATUS_ALIASES",
    "STATUS_MAP",
    "SsiNormalizer",
    "status_code",
    "to_symbol",
]
