"""Binance Spot: the user data stream over the WebSocket API, snapshots by `openOrders.status`.

Session: connect to the WebSocket API, `userDataStream.subscribe.signature` (apiKey,
timestamp, HMAC-SHA256 signature over the sorted parameters; works with any key type), then
snapshot: `openOrders.status` per symbol (channel `wsapi.openOrders.status`) and
`order.status` (channel `wsapi.order.status`) for every order that was live before the gap
and is not open any more, then the order history: `allOrders` (symbol, `startTime` = the
last message heard less a margin, windows of at most 24 h, pages of 1000, oldest first)
lists the orders placed *and* finished while the socket was down; its reply is not published
(the normalizer has no `wsapi.allOrders` channel), `order.status` is asked for each order
never heard of instead; then `myTrades` (same window and paging, channel `wsapi.myTrades`)
lists the trades executed in the gap, which `order.status` states only cumulatively (its
items become fills; those also heard on the stream deduplicate by trade id). At the first
start `myTrades` reaches back further, to the creation of the oldest open order that has
already executed something (at most 7 days): its first trade voids the fills derived from
its cumulative quantity, so its earlier trades are needed too. Stream messages
(`{"subscriptionId", "event"}`) are published on channel `userData`, keyed by the event's
`s`; a response is published by the reader in wire order, on the channel of the method that
asked and keyed by the symbol it asked about. Responses to session requests and events
without a symbol (balances) are not published. `eventStreamTerminated` ends the session (it
is re-subscribed after the reconnect). Keep-alive: WebSocket pings every `ping_interval`;
the server's pings are answered.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import orjson

from pipeline.ingest.base import Ingestor, SessionError, cancel_tasks, oldest_executed, supervise
from pipeline.ingest.publisher import now_ms
from pipeline.venues.binance import errors as binance_errors
from pipeline.venues.binance.client import WsApiClient, is_reply
from pipeline.venues.binance.mapping import CHANNEL_MY_TRADES as MY_TRADES
from pipeline.venues.binance.mapping import CHANNEL_OPEN_ORDERS_STATUS as OPEN_ORDERS_STATUS
from pipeline.venues.binance.mapping import CHANNEL_ORDER_STATUS as ORDER_STATUS
from pipeline.venues.binance.mapping import CHANNEL_USER_DATA as USER_DATA
from pipeline.venues.binance.mapping import CLOSED_STATUSES

log = logging.getLogger(__name__)

HISTORY_PAGE = 1000
DAY_MS = 86_400_000


def _event(payload: Any) -> Any:
    """The event inside any of the three stream wrappers (FACTS §1.3)."""
    if isinstance(payload, dict):
        if isinstance(payload.get("event"), dict):
            return payload["event"]
        if isinstance(payload.get("data"), dict):
            return payload["data"]
    return payload


def _result_orders(payload: dict[str, Any]) -> list[dict[str, Any]]:
    result = payload.get("result")
    if isinstance(result, list):
        return [r for r in result if isinstance(r, dict)]
    return [result] if isinstance(result, dict) else []


class BinanceIngestor(Ingestor):
    venue = "binance"
    _reached_back = False  # has a snapshot fetched the earlier trades of partly filled orders?

    def symbol_of(self, payload: Any) -> str | None:
        if isinstance(payload, dict) and "status" in payload and "id" in payload:
            orders = _result_orders(payload)
            symbol = orders[0].get("symbol") if orders else None
        else:
            event = _event(payload)
            symbol = event.get("s") if isinstance(event, dict) else None
        return symbol if isinstance(symbol, str) and symbol else None

    def observe(self, channel: str, payload: Any) -> None:
        if channel == USER_DATA:
            event = _event(payload)
            if isinstance(event, dict) and event.get("e") == "executionReport":
                self._seen(event.get("i"), event.get("s"), event.get("X"))
            return
        for order in _result_orders(payload):
            self._seen(order.get("orderId"), order.get("symbol"), order.get("status"))

    def live_key(self, order_id: str, symbol: str) -> str:
        return f"{symbol}:{order_id}"  # Binance's order ids are unique per symbol only

    def _seen(self, order_id: Any, symbol: Any, status: Any) -> None:
        if isinstance(order_id, int | str) and isinstance(symbol, str) and isinstance(status, str):
            self.live.seen(
                self.live_key(str(order_id), symbol), symbol, status not in CLOSED_STATUSES
            )

    # -- the session ----------------------------------------------------------------------

    async def session(self, http: aiohttp.ClientSession, stop: asyncio.Event) -> None:
        if not self.config.ws_url:
            raise SessionError("no ws_url configured")
        since = self.history_since()  # before this session hears anything
        async with http.ws_connect(self.config.ws_url, heartbeat=self.config.ping_interval) as ws:
            self._api = WsApiClient(ws, self.credentials, "ingest")
            reader = asyncio.create_task(self._read(ws))
            try:
                reply = await self.request("userDataStream.subscribe.signature")
                if reply.get("status") != 200:
                    self.counters.errors += 1
                    raise binance_errors.classify(reply, "subscribe refused")
                await self.snapshot(since)
                self.counters.connects += 1
                await supervise(stop, reader)
            finally:
                await cancel_tasks(reader)
                self._api.fail_all(SessionError("connection lost"))

    async def request(
        self,
        method: str,
        params: dict[str, Any] | None = None,
        channel: str | None = None,
        symbol: str | None = None,
    ) -> dict[str, Any]:
        """Send one signed request; its reply (filed by the reader when `channel` is set)."""
        tag = None if channel is None else (channel, symbol)
        return await self._api.request(method, params, tag)

    async def _read(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        async for message in ws:
            if message.type not in (aiohttp.WSMsgType.TEXT, aiohttp.WSMsgType.BINARY):
                if message.type is aiohttp.WSMsgType.ERROR:
                    raise SessionError(f"websocket error: {ws.exception()}")
                continue
            await self._on_message(message.data)

    async def _on_message(self, raw: str | bytes) -> None:
        received_at = now_ms()
        try:
            payload = orjson.loads(raw)
        except orjson.JSONDecodeError:
            await self.file(USER_DATA, raw, received_at=received_at)  # -> dead letter
            return
        self.counters.received += 1
        if is_reply(payload):
            pending = self._api.pending(payload["id"])
            if pending is None:
                self.counters.unkeyed += 1
                log.warning("%s: reply to an unknown request id", self.config.name)
                return
            if pending.tag is not None:  # (raw channel, symbol asked about): filed in order
                channel, symbol = pending.tag
                await self.publish(channel, payload, symbol, received_at)
            if payload.get("status") != 200:
                self.counters.errors += 1
            self._api.resolve(payload)
            return
        await self.publish(USER_DATA, payload, None, received_at)
        event = _event(payload)
        if isinstance(event, dict) and event.get("e") == "eventStreamTerminated":
            raise SessionError("user data stream terminated")

    # -- snapshots ------------------------------------------------------------------------

    async def snapshot(self, since: int | None = None) -> None:
        for symbol in self.config.symbols:
            reply = await self.request(
                "openOrders.status", {"symbol": symbol}, OPEN_ORDERS_STATUS, symbol
            )
            if reply.get("status") != 200:
                raise binance_errors.classify(reply, f"openOrders.status {symbol}")
            self.counters.snapshots += 1
            open_orders = _result_orders(reply)
            open_ids = [f"{symbol}:{o.get('orderId')}" for o in open_orders]
            await self.recover(symbol, open_ids, self._order)
            if since is not None:
                await self.history(symbol, since)
                reach = (
                    None
                    if self._reached_back
                    else oldest_executed(open_orders, "time", "executedQty")
                )
                await self.trades(symbol, since if reach is None else min(since, reach))
        self._reached_back = True  # later gaps: trades since the last message heard

    async def history(self, symbol: str, since: int) -> None:
        """`allOrders` from `since` to now; `order.status` for every order never heard of."""
        async for orders in self._pages("allOrders", symbol, since):
            for order in orders:
                key = f"{symbol}:{order.get('orderId')}"
                if not self.live.knows(key):
                    self.counters.recovered_orders += 1
                    await self._order(key, symbol)

    async def trades(self, symbol: str, since: int) -> None:
        """`myTrades` from `since` to now (channel `wsapi.myTrades`): the trades executed
        while the socket was down, which `order.status` states only as cumulative quantity."""
        async for _ in self._pages("myTrades", symbol, since, MY_TRADES):
            pass  # the reader publishes each reply; nothing else to do with it

    async def _pages(
        self, method: str, symbol: str, since: int, channel: str | None = None
    ) -> AsyncIterator[list[dict[str, Any]]]:
        """The items of `method` (`allOrders` / `myTrades`) from `since` to now, oldest first:
        windows of at most 24 h (Binance's limit), pages of `HISTORY_PAGE`; a full page goes
        on from its newest `time`. Farther back than a week is not recovered."""
        now = now_ms()
        start = max(since, now - 7 * DAY_MS)
        for _ in range(10_000):
            end = min(now, start + DAY_MS - 1)
            params = {"symbol": symbol, "startTime": start, "endTime": end,
                      "limit": HISTORY_PAGE}  # fmt: skip
            reply = await self.request(method, params, channel, symbol if channel else None)
            if reply.get("status") != 200:
                raise binance_errors.classify(reply, f"{method} {symbol}")
            items = _result_orders(reply)
            yield items
            if len(items) >= HISTORY_PAGE:
                newest = items[-1].get("time")
                start = newest if isinstance(newest, int) and newest > start else start + 1
            elif end >= now:
                return
            else:
                start = end + 1

    async def _order(self, key: str, symbol: str) -> bool:
        order_id = key.partition(":")[2]
        params = {"symbol": symbol, "orderId": int(order_id) if order_id.isdigit() else order_id}
        reply = await self.request("order.status", params, ORDER_STATUS, symbol)
        if reply.get("status") == 200:
            return True
        if binance_errors.error_code(reply) == binance_errors.NO_SUCH_ORDER:
            return False  # the venue does not know it (any more)
        raise binance_errors.classify(reply, f"order.status {symbol}")
