"""The futures trading gateway (seed 002): open orders and trades per symbol, order status.

The account is the exchange behind the gateway (`EXCHANGE_2`); its API key belongs to that
exchange. Every request carries the gateway's HMAC headers (`X-GW-API-KEY`,
`X-GW-TIMESTAMP`, `X-GW-SIGNATURE`: `pipeline.venues.futures_gateway.client.request`). Each poll (at
once after every (re)connect, then every `poll_interval`), for every configured symbol:

- `GET /trade/api/v2/futures/open_orders?exchange=<account>&symbol=<symbol>` -> channel
  `rest.open_orders`, one message per reply, keyed `futures_gateway|<exchange>|<symbol>`.
  The endpoint takes a symbol filter, so every reply holds the orders of one symbol: without
  the filter one reply would mix symbols, and a raw message must be neither split (the
  payload stays unmodified) nor keyed by one symbol while carrying orders of others (they
  would land in another partition than the rest of those orders' events). Symbols are
  therefore required. Empty replies name no order and are not published; a reply identical
  to the previous one of its symbol is not published again;
- `GET /trade/api/v2/futures/order_history?exchange=&symbol=&start_time=`: the orders that
  finished since the newest `updated_at` seen in this history (inclusive; the first poll
  starts at the ingestor's start, less a margin), oldest first, paged by 1000 -> channel
  `rest.open_orders` (the same `{data: {orders}}` reply shape; the contract routes both list
  replies there). It holds the orders placed *and* finished between two polls, which the
  open-orders snapshot never lists;
- `GET /trade/api/v2/futures/order?exchange=&order_id=` for every order known live that
  neither reply accounts for -> channel `rest.order_status` (HTTP 404 `ORDER_NOT_FOUND`:
  forgotten);
- `GET /trade/api/v2/futures/trades?exchange=&symbol=&start_time=`: the symbol's trades
  since the newest trade `time` seen (inclusive, so a trade executed later in that same
  millisecond is not lost; the first poll starts where the history does, or earlier, at the
  creation of the oldest open order that has already executed something: once an order's
  first trade arrives the fills derived from its cumulative quantity are voided, so its
  earlier trades are needed too; at most 7 days back, as one request may span), oldest first,
  paged by 1000 -> channel `rest.trades`, keyed by the symbol like the order replies. A
  reply is published only when it lists a trade not published before: one that is newer
  than the newest time seen, or in that millisecond and not among the trades seen there.
  The trades carry the real fills: the order polls' `fills_implied` steps reach positions
  first, and are voided by the order's trades once they arrive. The cursors survive
  reconnects, so trades executed while the gateway was unreachable are fetched after it.

Both lists reach back at most 7 days (what one request may span): an ingestor that was away
longer resumes with the last 7 days; older changes are not recovered.

Rate limits are per exchange (1,200 requests per 60 s on these endpoints, shared with the
cancel executor's calls): the default bucket takes 10/s. HTTP 429 ends the session (backoff).
"""

from __future__ import annotations

import logging
from typing import Any

import aiohttp
import orjson

from pipeline.ingest.base import RestPoller, SessionError, oldest_executed
from pipeline.ingest.publisher import now_ms
from pipeline.venues.futures_gateway import client as gateway_client
from pipeline.venues.futures_gateway import errors as gateway_errors
from pipeline.venues.futures_gateway.mapping import CHANNEL_OPEN_ORDERS as OPEN_ORDERS
from pipeline.venues.futures_gateway.mapping import CHANNEL_ORDER_STATUS as ORDER_STATUS
from pipeline.venues.futures_gateway.mapping import CHANNEL_TRADES as TRADES
from pipeline.venues.futures_gateway.mapping import OPEN_STATUSES

log = logging.getLogger(__name__)

HISTORY_PAGE = 1000
TRADES_PAGE = 1000
#: How far back a history or trades request may start (the contract's 7 days, less a margin).
REACH_MS = 7 * 86_400_000 - 60_000


def _orders(payload: Any) -> list[dict[str, Any]]:
    """The order objects of an `open_orders` or `order` reply."""
    data = payload.get("data") if isinstance(payload, dict) else None
    if isinstance(data, dict) and isinstance(data.get("orders"), list):
        return [o for o in data["orders"] if isinstance(o, dict)]
    if isinstance(data, dict) and "order_id" in data:
        return [data]
    return []


def _trades(payload: Any) -> list[dict[str, Any]]:
    """The trade objects of a `trades` reply."""
    data = payload.get("data") if isinstance(payload, dict) else None
    trades = data.get("trades") if isinstance(data, dict) else None
    return [t for t in trades if isinstance(t, dict)] if isinstance(trades, list) else []


def _trade_time(trade: dict[str, Any]) -> int | None:
    time = trade.get("time")
    return time if type(time) is int else None


def _trade_key(trade: dict[str, Any]) -> tuple[str, str]:
    """A trade's identity: its id *and* its order's (the sides of a self-trade share the id)."""
    return (str(trade.get("trade_id")), str(trade.get("order_id")))


class FuturesGatewayIngestor(RestPoller):
    venue = "futures_gateway"
    default_rate_limit = 10.0
    default_rate_burst = 10.0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._started = self.history_since()
        self._history_from: dict[str, int] = {}  # symbol -> newest updated_at in the history
        self._trades_from: dict[str, int] = {}  # symbol -> newest trade time published
        # symbol -> the trades of that newest millisecond published (trade id, order id)
        self._trades_at: dict[str, set[tuple[str, str]]] = {}

    def symbol_of(self, payload: Any) -> str | None:
        items: list[dict[str, Any]] = _orders(payload) or _trades(payload)
        symbol = items[0].get("symbol") if items else None
        return symbol if isinstance(symbol, str) and symbol else None

    def observe(self, channel: str, payload: Any) -> None:
        for order in _orders(payload):
            order_id, symbol, status = (
                order.get("order_id"),
                order.get("symbol"),
                order.get("status"),
            )
            if isinstance(order_id, str) and isinstance(symbol, str) and isinstance(status, str):
                self.live.seen(order_id, symbol, status in OPEN_STATUSES)

    async def _get(
        self, http: aiohttp.ClientSession, path: str, params: dict[str, str]
    ) -> tuple[int, bytes]:
        await self.throttle()
        reply = await gateway_client.request(
            http, self.credentials, "GET", self.config.base_url, path, params
        )
        if reply.status == 429:
            self.counters.errors += 1
            raise reply.error(f"GET {path}")
        return reply.status, reply.raw

    async def poll(self, http: aiohttp.ClientSession) -> None:
        if not self.config.symbols:
            raise SessionError("no symbols configured (open orders are polled per symbol)")
        for symbol in self.config.symbols:
            params = {"exchange": self.account, "symbol": symbol}
            status, raw = await self._get(http, "/open_orders", params)
            if status != 200:
                self.counters.errors += 1
                raise gateway_errors.classify_raw(status, raw, f"open_orders {symbol}")
            payload = await self.file_changed(OPEN_ORDERS, raw, symbol)
            if payload is None:
                raise SessionError(f"open_orders {symbol}: reply is not JSON")
            open_orders = _orders(payload)
            open_ids = [str(o.get("order_id")) for o in open_orders]
            await self.history(http, symbol)
            await self.recover(symbol, open_ids, lambda i, s: self._status(http, i, s))
            reach = oldest_executed(open_orders, "created_at", "executed_quantity")
            await self.trades(http, symbol, reach)

    async def history(self, http: aiohttp.ClientSession, symbol: str) -> None:
        """The orders of `symbol` that finished since the newest one of this history seen."""
        start = _within_reach(self._history_from.get(symbol, self._started))
        for _ in range(10_000):
            params = {"exchange": self.account, "symbol": symbol, "start_time": str(start),
                      "limit": str(HISTORY_PAGE)}  # fmt: skip
            status, raw = await self._get(http, "/order_history", params)
            if status != 200:
                self.counters.errors += 1
                raise gateway_errors.classify_raw(status, raw, f"order_history {symbol}")
            payload = await self.file_changed(OPEN_ORDERS, raw, symbol, "order_history")
            if payload is None:
                raise SessionError(f"order_history {symbol}: reply is not JSON")
            orders = _orders(payload)
            times = [o["updated_at"] for o in orders if isinstance(o.get("updated_at"), int)]
            newest = max(times, default=start)
            self._history_from[symbol] = max(start, newest)
            if len(orders) < HISTORY_PAGE:
                return
            start = newest if newest > start else start + 1  # a full page: go on after it

    async def trades(
        self, http: aiohttp.ClientSession, symbol: str, oldest_executed: int | None = None
    ) -> None:
        """The trades of `symbol` since the newest one published (that millisecond included);
        a reply is published when it lists a trade not published before. The first fetch
        starts at the ingestor's start, or at `oldest_executed` (the creation of the oldest
        open order that has executed something) when earlier, within the 7 days allowed."""
        cursor = self._trades_from.get(symbol)
        if cursor is None:
            cursor = self._started
            if oldest_executed is not None and oldest_executed < cursor:
                cursor = oldest_executed
        cursor = _within_reach(cursor)  # after a week away, the last 7 days are all there is
        known = self._trades_at.get(symbol, set())
        start = cursor
        for _ in range(10_000):
            params = {"exchange": self.account, "symbol": symbol, "start_time": str(start),
                      "limit": str(TRADES_PAGE)}  # fmt: skip
            status, raw = await self._get(http, "/trades", params)
            received_at = now_ms()
            if status != 200:
                self.counters.errors += 1
                raise gateway_errors.classify_raw(status, raw, f"trades {symbol}")
            try:
                payload = orjson.loads(raw)
            except orjson.JSONDecodeError:
                await self.file(TRADES, raw, symbol)  # a dead letter
                raise SessionError(f"trades {symbol}: reply is not JSON") from None
            trades = _trades(payload)
            timed = [(_trade_time(t), _trade_key(t)) for t in trades]
            if any(time != cursor or key not in known for time, key in timed):
                self.counters.received += 1
                await self.publish(TRADES, payload, symbol, received_at)
            newest = max((time for time, _ in timed if time is not None), default=cursor)
            if newest > cursor:
                cursor, known = newest, set()
            known |= {key for time, key in timed if time == cursor}
            if len(trades) < TRADES_PAGE:
                break
            # a full page: go on from its last millisecond (read again, since a gateway that
            # split it would lose the rest), or after it when the page held nothing else
            start = newest if newest > start else start + 1
        self._trades_from[symbol] = cursor
        self._trades_at[symbol] = known

    async def _status(self, http: aiohttp.ClientSession, order_id: str, symbol: str) -> bool:
        status, raw = await self._get(
            http, "/order", {"exchange": self.account, "order_id": order_id}
        )
        if status == 404:
            return False
        if status != 200:
            self.counters.errors += 1
            raise gateway_errors.classify_raw(status, raw, "order status")
        await self.file(ORDER_STATUS, raw, symbol)
        return True


def _within_reach(start: int) -> int:
    """`start`, or the oldest time a request may start at (7 days ago) if it is older: an
    ingestor away longer than that resumes with the last 7 days instead of being refused."""
    return max(start, now_ms() - REACH_MS)
