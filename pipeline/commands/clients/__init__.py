"""Venue cancel clients: the only code of `pipeline.commands` that opens sockets."""

from __future__ import annotations

from collections.abc import Callable

import aiohttp

from pipeline.commands.clients.base import (
    Ack,
    BusinessError,
    CancelClient,
    TransientError,
    VenueAccount,
    VenueError,
)
from pipeline.venues import registry


def make_client(
    account: VenueAccount,
    http: aiohttp.ClientSession | None = None,
    clock: Callable[[], int] | None = None,
) -> CancelClient:
    """The cancel client of `account.venue` (its class named by the venue registry)."""
    client: CancelClient = registry.canceller_class(account.venue)(account, http=http, clock=clock)
    return client


__all__ = [
    "Ack",
    "BusinessError",
    "CancelClient",
    "TransientError",
    "VenueAccount",
    "VenueError",
    "make_client",
]
