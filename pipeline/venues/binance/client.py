"""Binance's WebSocket API client: signed requests matched to their replies by `id`, the one
request/reply code of ingest (snapshots, history) and cancels (`order.cancel`, amends).

The caller owns the socket and its reading loop (ingest files every frame in wire order,
cancels only want replies); for each frame it asks `is_reply`, then `pending(id)` for what the
request was tagged with, and settles it with `resolve`. When the socket ends, `fail_all`
wakes every waiting request with the caller's error.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
import orjson

from pipeline.venues.binance import auth
from pipeline.venues.credentials import Credentials

REQUEST_TIMEOUT_S = 10.0


@dataclass
class Pending:
    """A request waiting for its reply; `tag` is the caller's note (e.g. where to file it)."""

    future: asyncio.Future[dict[str, Any]]
    tag: Any = None


def is_reply(payload: Any) -> bool:
    """A reply to a request (`{"id", "status", ...}`), as opposed to a stream event."""
    return isinstance(payload, dict) and "id" in payload and "status" in payload


class WsApiClient:
    """Signed request/reply over one open WebSocket API connection."""

    def __init__(
        self,
        ws: aiohttp.ClientWebSocketResponse,
        credentials: Credentials,
        id_prefix: str,
        clock: Callable[[], int] | None = None,
    ) -> None:
        self.ws = ws
        self.credentials = credentials
        self.clock = clock
        self._prefix = id_prefix
        self._ids = itertools.count(1)
        self._pending: dict[str, Pending] = {}

    async def request(
        self,
        method: str,
        params: dict[str, Any] | None = None,
        tag: Any = None,
        timeout: float = REQUEST_TIMEOUT_S,
    ) -> dict[str, Any]:
        """Send `method` signed (apiKey, timestamp, signature); its reply, whatever its
        status (`pipeline.venues.binance.errors.classify` reads a refusal). `TimeoutError`
        when no reply comes within `timeout` s."""
        request_id = f"{self._prefix}-{next(self._ids)}"
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[request_id] = Pending(future, tag)
        signed = auth.signed(self.credentials, params, self.clock() if self.clock else None)
        try:
            body = {"id": request_id, "method": method, "params": signed}
            await self.ws.send_str(orjson.dumps(body).decode())
            return await asyncio.wait_for(future, timeout)
        finally:
            self._pending.pop(request_id, None)

    def pending(self, request_id: Any) -> Pending | None:
        """The waiting request a reply answers (None: unknown, late or not ours)."""
        return self._pending.get(str(request_id))

    def resolve(self, reply: dict[str, Any]) -> bool:
        """Hand `reply` to its request; False when no request waits for it."""
        pending = self._pending.get(str(reply.get("id")))
        if pending is None:
            return False
        if not pending.future.done():
            pending.future.set_result(reply)
        return True

    def fail_all(self, error: BaseException) -> None:
        """The connection is gone: every waiting request raises `error`."""
        for pending in self._pending.values():
            if not pending.future.done():
                pending.future.set_exception(error)
        self._pending.clear()
