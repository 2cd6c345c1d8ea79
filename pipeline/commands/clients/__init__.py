"""Venue cancel clients: the only code of `pipeline.commands` that opens sockets."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import aiohttp

from pipeline.commands.clients.base import (
    Ack,
    BusinessError,
    CancelClient,
    TransientError,
    VenueAccount,
    VenueError,
)


def make_client(
    account: VenueAccount,
    http: aiohttp.ClientSession | None = None,
    clock: Callable[[], int] | None = None,
) -> CancelClient:
    """The cancel client of `account.venue`."""
    from pipeline.commands.clients.binance import BinanceCancelClient
    from pipeline.commands.clients.coinone import CoinoneCancelClient
    from pipeline.commands.clients.futures_gateway import GatewayCancelClient
    from pipeline.commands.clients.ssi import SsiCancelClient
    from pipeline.commands.clients.upbit import UpbitCancelClient

    kinds: dict[str, Any] = {
        "upbit": UpbitCancelClient,
        "binance": BinanceCancelClient,
        "coinone": CoinoneCancelClient,
        "ssi": SsiCancelClient,
        "futures_gateway": GatewayCancelClient,
    }
    return kinds[account.venue](account, http=http, clock=clock)


__all__ = [
    "Ack",
    "BusinessError",
    "CancelClient",
    "TransientError",
    "VenueAccount",
    "VenueError",
    "make_client",
]
