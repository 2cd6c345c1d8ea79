"""Upbit: the private `myOrder` WebSocket, with REST snapshots after every (re)connect.

Session: connect to the WebSocket with `Authorization: Bearer <JWT>` (HS256, access key and
a fresh nonce), subscribe `[{"ticket"}, {"type": "myOrder", "codes": symbols}, {"format"}]`
(Upbit sends no acknowledgement; a refused key arrives as an error frame), then snapshot:
`GET /v1/orders/open?market=..&states[]=wait&states[]=watch` per symbol (channel
`rest.orders`, paged by 100), `GET /v1/order?uuid=..` (channel `rest.order`, whose `trades`
become fills) for every open order whose `executed_volume` grew past the largest heard
before (or that was never heard of and executed something: it traded in the gap) and for
every order that was live before the gap and is not open any more, then the order history:
`GET /v1/orders/closed?market=..&states[]=done&states[]=cancel&start_time=<ms>&order_by=asc`
(channel `rest.orders`; orders created since the last message heard, less a margin, paged by
1000, windows of at most 7 days as Upbit allows), which holds the orders placed *and*
finished while the socket was down; for each of those never heard of that traded,
`GET /v1/order` (channel `rest.order`) adds its `trades`. Keep-alive: a text `PING` every
`ping_interval` (the `{"status": "UP"}` reply names no market and is not published) plus
WebSocket pings. Frames are published as received (a JSON_LIST frame is one message, keyed
by its first order's market). Options: `format` (DEFAULT, SIMPLE, JSON_LIST, SIMPLE_LIST).
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

import aiohttp
import orjson

from pipeline.ingest.base import Ingestor, SessionError, cancel_tasks, supervise, wait_stop
from pipeline.ingest.publisher import now_ms
from pipeline.venues.upbit import auth as upbit_auth
from pipeline.venues.upbit import errors as upbit_errors
from pipeline.venues.upbit.client import signed_request
from pipeline.venues.upbit.mapping import (
    CHANNEL_MY_ORDER,
    CHANNEL_REST_ORDER,
    CHANNEL_REST_ORDERS,
    TERMINAL_STATES,
)
from pipeline.venues.upbit.mapping import (
    WS_FORMATS as FORMATS,
)

log = logging.getLogger(__name__)

PAGE = 100
HISTORY_PAGE = 1000
WEEK_MS = 7 * 86_400_000


def _first(payload: Any) -> Any:
    if isinstance(payload, list):
        return payload[0] if payload and isinstance(payload[0], dict) else None
    return payload if isinstance(payload, dict) else None


def _orders(payload: Any) -> list[dict[str, Any]]:
    items = payload if isinstance(payload, list) else [payload]
    return [item for item in items if isinstance(item, dict)]


def _created_ms(order: dict[str, Any]) -> int | None:
    """`created_at` (ISO 8601 with a zone) as epoch ms."""
    try:
        return int(datetime.fromisoformat(str(order.get("created_at"))).timestamp() * 1000)
    except ValueError:
        return None


def _executed(order: dict[str, Any]) -> Decimal | None:
    """`executed_volume` (`ev`; a double on the socket, a string on REST) as a Decimal."""
    value = order.get("executed_volume", order.get("ev"))
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


class UpbitIngestor(Ingestor):
    venue = "upbit"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # live order -> the largest executed volume heard; a snapshot that lists more has
        # traded in the gap, and only `GET /v1/order` lists those trades
        self._executed: dict[str, Decimal] = {}

    @property
    def format(self) -> str:
        fmt = str(self.config.options.get("format", "DEFAULT"))
        return fmt if fmt in FORMATS else "DEFAULT"

    def symbol_of(self, payload: Any) -> str | None:
        first = _first(payload)
        if first is None:
            return None
        symbol = first.get("code") or first.get("cd") or first.get("market")
        return symbol if isinstance(symbol, str) and symbol else None

    def observe(self, channel: str, payload: Any) -> None:
        for order in _orders(payload):
            order_id = order.get("uuid") or order.get("uid")
            symbol = order.get("code") or order.get("cd") or order.get("market")
            state = order.get("state") or order.get("s")
            if isinstance(order_id, str) and isinstance(symbol, str) and isinstance(state, str):
                live = state not in TERMINAL_STATES
                self.live.seen(order_id, symbol, live)
                executed = _executed(order)
                if not live:
                    self._executed.pop(order_id, None)
                elif executed is not None and order_id in self.live.live:
                    known = self._executed.get(order_id)
                    self._executed[order_id] = executed if known is None else max(known, executed)

    # -- the session ----------------------------------------------------------------------

    async def session(self, http: aiohttp.ClientSession, stop: asyncio.Event) -> None:
        if not self.config.ws_url:
            raise SessionError("no ws_url configured")
        since = self.history_since()  # before this session hears anything
        executed = dict(self._executed)  # likewise: what was heard executed before the gap
        headers = {"Authorization": upbit_auth.authorization(self.credentials)}
        async with http.ws_connect(
            self.config.ws_url, headers=headers, heartbeat=self.config.ping_interval
        ) as ws:
            kind: dict[str, Any] = {"type": CHANNEL_MY_ORDER}
            if self.config.symbols:
                kind["codes"] = list(self.config.symbols)
            request = [{"ticket": f"ingest-{uuid.uuid4()}"}, kind, {"format": self.format}]
            await ws.send_str(orjson.dumps(request).decode())
            reader = asyncio.create_task(self._read(ws))
            pinger = asyncio.create_task(self._ping(ws, stop))
            try:
                await self.snapshot(http, since, executed)
                self.counters.connects += 1
                await supervise(stop, reader, pinger)
            finally:
                await cancel_tasks(reader, pinger)

    async def _read(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        async for message in ws:
            if message.type not in (aiohttp.WSMsgType.TEXT, aiohttp.WSMsgType.BINARY):
                if message.type is aiohttp.WSMsgType.ERROR:
                    raise SessionError(f"websocket error: {ws.exception()}")
                continue
            payload = await self.file(CHANNEL_MY_ORDER, message.data)
            error = payload.get("error") if isinstance(payload, dict) else None
            if isinstance(error, dict):
                self.counters.errors += 1
                name = error.get("name")
                if name in ("INVALID_AUTH", "NO_TICKET", "NO_TYPE", "WRONG_FORMAT"):
                    raise SessionError(f"refused: {name} {error.get('message')}")
                log.warning("%s: error frame %s", self.config.name, name)

    async def _ping(self, ws: aiohttp.ClientWebSocketResponse, stop: asyncio.Event) -> None:
        while not await wait_stop(stop, self.config.ping_interval):
            await ws.send_str("PING")

    # -- REST -----------------------------------------------------------------------------

    async def _get(
        self, http: aiohttp.ClientSession, path: str, pairs: list[tuple[str, Any]]
    ) -> tuple[int, bytes]:
        return await signed_request(
            http, "GET", self.config.base_url, path, pairs, self.credentials
        )

    async def snapshot(
        self,
        http: aiohttp.ClientSession,
        since: int | None = None,
        executed: dict[str, Decimal] | None = None,
    ) -> None:
        """Open orders per symbol (with the trades of those that executed more than
        `executed`, the volumes heard before the gap), the final state of orders that closed
        in the gap, and the orders that started and finished in it (history since `since`,
        epoch ms)."""
        before = dict(self._executed) if executed is None else executed
        for symbol in self.config.symbols:
            open_ids: list[str] = []
            traded: list[str] = []
            for page in range(1, 1000):
                pairs = [
                    ("market", symbol),
                    ("states[]", "wait"),
                    ("states[]", "watch"),
                    ("limit", PAGE),
                    ("page", page),
                ]
                status, body = await self._get(http, "/v1/orders/open", pairs)
                if status != 200:
                    self.counters.errors += 1
                    raise upbit_errors.classify_raw(status, body, f"GET /v1/orders/open {symbol}")
                payload = await self.file(CHANNEL_REST_ORDERS, body, symbol)
                orders = _orders(payload) if isinstance(payload, list) else []
                open_ids += [str(o.get("uuid")) for o in orders]
                traded += [
                    o["uuid"]
                    for o in orders
                    if isinstance(o.get("uuid"), str)
                    and (_executed(o) or 0) > before.get(o["uuid"], Decimal(0))
                ]
                if len(orders) < PAGE:
                    break
            self.counters.snapshots += 1
            for order_id in traded:  # still open, traded in the gap: its trades
                self.counters.recovered_orders += 1
                await self._order(http, order_id, symbol)
            await self.recover(symbol, open_ids, lambda i, s: self._order(http, i, s))
            if since is not None:
                await self.closed_since(http, symbol, since)

    async def closed_since(self, http: aiohttp.ClientSession, symbol: str, since: int) -> None:
        """`GET /v1/orders/closed` from `since` to now (7-day windows, pages of 1000 by
        creation time, oldest first); orders never heard of that traded get `GET /v1/order`
        for their trades."""
        now = now_ms()
        start = max(since, now - 4 * WEEK_MS)  # farther back than four weeks: not recovered
        for _ in range(10_000):
            end = min(now, start + WEEK_MS)
            pairs = [
                ("market", symbol),
                ("states[]", "done"),
                ("states[]", "cancel"),
                ("start_time", start),
                ("end_time", end),
                ("limit", HISTORY_PAGE),
                ("order_by", "asc"),
            ]
            status, body = await self._get(http, "/v1/orders/closed", pairs)
            if status != 200:
                self.counters.errors += 1
                raise upbit_errors.classify_raw(status, body, f"GET /v1/orders/closed {symbol}")
            try:
                listed = _orders(orjson.loads(body))
            except orjson.JSONDecodeError:
                listed = []
            unheard = [
                o["uuid"]
                for o in listed
                if isinstance(o.get("uuid"), str)
                and not self.live.knows(o["uuid"])
                and o.get("trades_count") not in (None, 0)
            ]
            await self.file(CHANNEL_REST_ORDERS, body, symbol)
            for order_id in unheard:
                self.counters.recovered_orders += 1
                await self._order(http, order_id, symbol)
            if len(listed) >= HISTORY_PAGE:  # full page: go on from its newest creation time
                newest = _created_ms(listed[-1]) or 0
                start = newest if newest > start else start + 1
            elif end >= now:
                return
            else:
                start = end

    async def _order(self, http: aiohttp.ClientSession, order_id: str, symbol: str) -> bool:
        status, body = await self._get(http, "/v1/order", [("uuid", order_id)])
        if status == 404:
            return False
        if status != 200:
            self.counters.errors += 1
            raise upbit_errors.classify_raw(status, body, "GET /v1/order")
        await self.file(CHANNEL_REST_ORDER, body, symbol)
        return True
