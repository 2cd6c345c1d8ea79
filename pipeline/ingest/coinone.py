"""Coinone (private API v2.1): REST polling per pair plus the MYORDER WebSocket.

Every call is a signed POST (`pipeline.venues.coinone.client.post`: `access_token` + UUID v4
`nonce` in the body, base64 payload and HMAC-SHA512 signature headers). One session:

1. if a `ws_url` is configured (option `myorder`, default true): open the MYORDER
   WebSocket (the handshake is signed the same way, over `{access_token, nonce,
   timestamp}`), subscribe to the configured pairs with an explicit `format` (option
   `format`: `SHORT`, the default, or `DEFAULT`, the long keys Coinone sends when the request
   names none; the normalizer reads both) and wait for `SUBSCRIBED`; frames are
   published on channel `MYORDER` keyed by their pair (`tc-qc`, e.g. `BTC-KRW`); control
   frames (`SUBSCRIBED`, `PONG`) name no pair and are not published;
2. poll at once (the snapshot after every (re)connect), then every `poll_interval`:
   - `POST /v2.1/order/active_orders` per pair -> channel `rest.active_orders`, one message
     per reply, keyed by the pair asked about;
   - orders that left the open set (known live from any channel, or published in a
     working state, and not listed now): `POST /v2.1/order/detail` for each -> channel
     `rest.order_detail`. Also when MYORDER already said how the order ended: the final
     detail restates the cumulative fee, which MYORDER frames (per-trade `ef`) never do,
     so a fee stated by an earlier snapshot does not stay stale;

   - `POST /v2.1/order/completed_orders` per pair, incrementally: `from_ts` = the newest
     trade time seen so far (inclusive, so a trade in that same millisecond is not missed;
     the trades repeated are one event downstream), paging back with `to_trade_id` when a
     page is full -> channel `rest.completed_orders`. The first poll looks back
     `history_ms` (option, default 24 h).
     An order those trades name that was never heard of (placed, traded and finished
     while MYORDER was away) gets `POST /v2.1/order/detail` for its final state (trades
     since the ingestor started, less a margin).
   A reply identical to the previous one of its channel and pair is not published again.
3. `{"request_type": "PING"}` every `ping_interval` keeps the socket alive (Coinone closes
   idle connections after 30 min).

A lost WebSocket ends the session; the reconnect re-subscribes and polls again, and the
completed-trades cursor survives, so fills that happened in the gap are fetched, and the
orders behind them. Not recoverable: an order placed and cancelled *without a fill* while
MYORDER was away, since Coinone v2.1 has no order history beyond trades (FACTS §3.2;
`completed_orders` lists fills, `detail` needs the order id). Error
replies (`result: error`) are not published: 104 on a detail means the venue forgot the
order; anything else ends the session (HTTP 429 / error 4 included, after which the backoff
applies). Requests are throttled per account (default 20/s, a quarter of Coinone's 80/s).
Pairs are spelled `<TARGET>-<QUOTE>` as the normalizer keys them (`BTC-KRW`).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import aiohttp
import orjson

from pipeline.ingest.base import (
    RestPoller,
    SessionError,
    cancel_tasks,
    supervise,
    wait_stop,
)
from pipeline.ingest.publisher import now_ms
from pipeline.venues.coinone import auth as coinone_auth
from pipeline.venues.coinone import client as coinone_client
from pipeline.venues.coinone.mapping import CHANNEL_ACTIVE_ORDERS as ACTIVE_ORDERS
from pipeline.venues.coinone.mapping import CHANNEL_COMPLETED_ORDERS as COMPLETED_ORDERS
from pipeline.venues.coinone.mapping import CHANNEL_MYORDER as MYORDER
from pipeline.venues.coinone.mapping import CHANNEL_ORDER_DETAIL as ORDER_DETAIL
from pipeline.venues.coinone.mapping import MYORDER_FORMATS
from pipeline.venues.coinone.mapping import WORKING_STATUSES as WORKING
from pipeline.venues.coinone.mapping import WS_WORKING_STATUSES as WS_WORKING
from pipeline.venues.coinone.stream import DEFAULT_KEYS, SHORT_KEYS, MyOrderKeys

log = logging.getLogger(__name__)

PAGE = 100
DAY_MS = 86_400_000
SUBSCRIBE_TIMEOUT = 10.0


def pair_of(symbol: str) -> dict[str, str]:
    """`BTC-KRW` -> `{"quote_currency": "KRW", "target_currency": "BTC"}`."""
    target, sep, quote = symbol.partition("-")
    if not sep or not target or not quote:
        raise SessionError(f"coinone symbol {symbol!r}: expected TARGET-QUOTE like BTC-KRW")
    return {"quote_currency": quote, "target_currency": target}


def _pair(target: Any, quote: Any) -> str | None:
    if isinstance(target, str) and isinstance(quote, str) and target and quote:
        return f"{target.upper()}-{quote.upper()}"
    return None


def _positive(value: Any) -> bool:
    try:
        return float(value) > 0
    except (TypeError, ValueError):
        return False


class CoinoneIngestor(RestPoller):
    venue = "coinone"
    default_rate_limit = 20.0
    default_rate_burst = 10.0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        history = self.config.options.get("history_ms", DAY_MS)
        self._history_ms = int(history) if isinstance(history, int | float) else DAY_MS
        self._trades_from: dict[str, int] = {}  # pair -> newest trade time seen (ms)
        self._stated: dict[str, set[str]] = {}  # pair -> orders published in a working state
        self._subscribed = asyncio.Event()
        self._started = self.history_since()

    # -- keys and the live set ------------------------------------------------------------

    @property
    def format(self) -> str:
        """The MYORDER spelling asked for: `SHORT` unless the `format` option says DEFAULT."""
        fmt = str(self.config.options.get("format", "SHORT")).upper()
        return fmt if fmt in MYORDER_FORMATS else "SHORT"

    def symbol_of(self, payload: Any) -> str | None:
        if not isinstance(payload, dict):
            return None
        data = _myorder_data(payload)
        if data is not None:  # MYORDER DATA frame, either spelling
            d, k = data
            return _pair(d.get(k.tc), d.get(k.qc))
        if isinstance(payload.get("order"), dict):
            order = payload["order"]
        else:
            items = payload.get("active_orders") or payload.get("completed_orders")
            order = items[0] if isinstance(items, list) and items else None
        if not isinstance(order, dict):
            return None
        return _pair(order.get("target_currency"), order.get("quote_currency"))

    def observe(self, channel: str, payload: Any) -> None:
        if channel == MYORDER:
            data = _myorder_data(payload) if isinstance(payload, dict) else None
            if data is None:
                return
            d, k = data
            state = d.get(k.st)
            if isinstance(state, str):
                live = state.lower() in WS_WORKING or (
                    state.lower() == "cancel" and _positive(d.get(k.rq))
                )
                pair = _pair(d.get(k.tc), d.get(k.qc))
                self._seen(d.get(k.oi), pair, live)
                if state.lower() == "cancel" and not live and d.get(k.t) == "MARKET":
                    # MYORDER says only `cancel`; the detail says why (CANCELED_NO_ORDER:
                    # the venue cancelled the unfilled remainder), so fetch it once.
                    self._ask_detail(d.get(k.oi), pair)
            return
        if channel == ACTIVE_ORDERS:
            for order in payload.get("active_orders") or []:
                if isinstance(order, dict):
                    pair = _pair(order.get("target_currency"), order.get("quote_currency"))
                    self._seen(order.get("order_id"), pair, True, stated=True)
            return
        if channel == ORDER_DETAIL and isinstance(payload.get("order"), dict):
            order = payload["order"]
            status = order.get("status")
            live = status in WORKING or (
                status == "PARTIALLY_CANCELED" and _positive(order.get("remain_qty"))
            )
            pair = _pair(order.get("target_currency"), order.get("quote_currency"))
            self._seen(order.get("order_id"), pair, live, stated=True)

    def _ask_detail(self, order_id: Any, pair: str | None) -> None:
        """Have the next poll fetch the final detail of an order that is no longer open."""
        if isinstance(order_id, str) and order_id and pair is not None:
            self._stated.setdefault(pair, set()).add(order_id)

    def _seen(self, order_id: Any, pair: str | None, live: bool, stated: bool = False) -> None:
        if isinstance(order_id, str) and order_id and pair is not None:
            self.live.seen(order_id, pair, live)
            if stated:
                if live:
                    self._stated.setdefault(pair, set()).add(order_id)
                else:
                    self._stated.get(pair, set()).discard(order_id)

    # -- the session ----------------------------------------------------------------------

    async def session(self, http: aiohttp.ClientSession, stop: asyncio.Event) -> None:
        self._last = {}
        if not self.config.ws_url or not self.config.options.get("myorder", True):
            await super().session(http, stop)
            return
        _, headers = coinone_auth.signed(self.credentials, {"timestamp": now_ms()})
        self._subscribed = asyncio.Event()
        async with http.ws_connect(
            self.config.ws_url, headers=headers, heartbeat=self.config.ping_interval
        ) as ws:
            request: dict[str, Any] = {
                "request_type": "SUBSCRIBE",
                "channel": MYORDER,
                "format": self.format,
            }
            if self.config.symbols:
                request["topic"] = [pair_of(s) for s in self.config.symbols]
            await ws.send_str(orjson.dumps(request).decode())
            reader = asyncio.create_task(self._read(ws))
            pinger = asyncio.create_task(self._ping(ws, stop))
            poller: asyncio.Task[None] | None = None
            try:
                waiter = asyncio.create_task(self._subscribed.wait())
                done, _ = await asyncio.wait(
                    [waiter, reader], timeout=SUBSCRIBE_TIMEOUT, return_when="FIRST_COMPLETED"
                )
                waiter.cancel()
                if reader in done:
                    reader.result()  # raises the reader's error
                    raise SessionError(f"MYORDER closed before subscribing (code {ws.close_code})")
                if not self._subscribed.is_set():
                    raise SessionError("MYORDER subscription not confirmed")
                await self.poll(http)  # the snapshot after (re)connecting
                self.counters.snapshots += 1
                self.counters.connects += 1
                poller = asyncio.create_task(self.poll_forever(http, stop))
                await supervise(stop, reader, pinger, poller)
            finally:
                await cancel_tasks(reader, pinger, poller)

    async def _read(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        async for message in ws:
            if message.type not in (aiohttp.WSMsgType.TEXT, aiohttp.WSMsgType.BINARY):
                if message.type is aiohttp.WSMsgType.ERROR:
                    raise SessionError(f"websocket error: {ws.exception()}")
                continue
            payload = await self.file(MYORDER, message.data)
            if not isinstance(payload, dict):
                continue
            kind = payload.get("r") or payload.get("response_type")
            if kind == "SUBSCRIBED":
                self._subscribed.set()
            elif kind == "ERROR":
                self.counters.errors += 1
                raise SessionError(f"MYORDER error frame: {payload.get('error_msg')}")
        if ws.close_code == 4280:
            raise SessionError("MYORDER authentication refused (close code 4280)")

    async def _ping(self, ws: aiohttp.ClientWebSocketResponse, stop: asyncio.Event) -> None:
        while not await wait_stop(stop, self.config.ping_interval):
            await ws.send_str('{"request_type":"PING"}')

    # -- REST -----------------------------------------------------------------------------

    async def _post(
        self, http: aiohttp.ClientSession, path: str, params: dict[str, Any]
    ) -> coinone_client.Reply:
        """The reply of one signed POST (`.body` None if not JSON); raises on HTTP errors."""
        await self.throttle()
        reply = await coinone_client.post(
            http, self.config.base_url, path, params, self.credentials
        )
        if reply.status != 200:
            self.counters.errors += 1
            raise reply.error(f"POST {path}")
        return reply

    async def _call(
        self, http: aiohttp.ClientSession, path: str, params: dict[str, Any], channel: str,
        symbol: str,
    ) -> Any:  # fmt: skip
        """A successful reply, filed on `channel` if it changed; errors end the session."""
        reply = await self._post(http, path, params)
        if reply.body is None:
            await self.file(channel, reply.raw, symbol)  # -> dead letter
            raise SessionError(f"POST {path}: reply is not JSON")
        if reply.failed:
            self.counters.errors += 1
            raise reply.error(f"POST {path}")
        return await self.file_changed(channel, reply.raw, symbol)

    async def poll(self, http: aiohttp.ClientSession) -> None:
        for symbol in self.config.symbols:
            reply = await self._call(
                http, "/v2.1/order/active_orders", pair_of(symbol), ACTIVE_ORDERS, symbol
            )
            orders = reply.get("active_orders") or []
            open_ids = [str(o.get("order_id")) for o in orders if isinstance(o, dict)]
            await self.recover(symbol, open_ids, lambda i, s: self._detail(http, i, s))
            # An order whose working state was published (a stated cumulative fee) and that
            # is no longer open gets its final detail even when MYORDER already told how it
            # ended: MYORDER frames state no cumulative fee, so the last stated one is stale.
            stated = self._stated.setdefault(symbol, set())
            for order_id in sorted(stated.difference(open_ids, self.live.live)):
                self.counters.recovered_orders += 1
                if not await self._detail(http, order_id, symbol):
                    stated.discard(order_id)
        for symbol in self.config.symbols:
            await self._completed(http, symbol)

    async def _detail(self, http: aiohttp.ClientSession, order_id: str, symbol: str) -> bool:
        params = {"order_id": order_id, **pair_of(symbol)}
        reply = await self._post(http, "/v2.1/order/detail", params)
        if isinstance(reply.body, dict) and reply.failed:
            if str(reply.body.get("error_code")) == "104":  # the venue does not know it
                return False
            self.counters.errors += 1
            raise reply.error("order detail")
        await self.file(ORDER_DETAIL, reply.raw, symbol)
        return reply.body is not None

    async def _completed(self, http: aiohttp.ClientSession, symbol: str) -> None:
        """The pair's trades since the newest one seen, newest first, paged back."""
        since = self._trades_from.get(symbol)
        if since is None:
            since = max(0, now_ms() - self._history_ms)
        newest = since
        to_trade_id: str | None = None
        for _ in range(1000):
            params: dict[str, Any] = {**pair_of(symbol), "size": PAGE, "from_ts": since,
                                      "to_ts": now_ms()}  # fmt: skip
            if to_trade_id:
                params["to_trade_id"] = to_trade_id
            reply = await self._call(
                http, "/v2.1/order/completed_orders", params, COMPLETED_ORDERS, symbol
            )
            trades = [t for t in reply.get("completed_orders") or [] if isinstance(t, dict)]
            times = [t["timestamp"] for t in trades if isinstance(t.get("timestamp"), int)]
            unheard = {
                t["order_id"]
                for t in trades
                if isinstance(t.get("order_id"), str)
                and isinstance(t.get("timestamp"), int)
                and t["timestamp"] >= self._started
                and not self.live.knows(t["order_id"])
            }
            for order_id in sorted(unheard):
                self.counters.recovered_orders += 1
                await self._detail(http, order_id, symbol)
            newest = max([newest, *times])
            if len(trades) < PAGE or not isinstance(trades[-1].get("trade_id"), str):
                break
            to_trade_id = trades[-1]["trade_id"]
        self._trades_from[symbol] = newest


def _myorder_data(payload: dict[str, Any]) -> tuple[dict[str, Any], MyOrderKeys] | None:
    """The order object of a MYORDER DATA frame and the keys of its spelling, else `None`."""
    if isinstance(payload.get("data"), dict):
        return payload["data"], DEFAULT_KEYS
    if isinstance(payload.get("d"), dict):
        return payload["d"], SHORT_KEYS
    return None
