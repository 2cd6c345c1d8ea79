"""The futures trading gateway of seed 002 on loopback: orders, trades, cancel_all.

Accounts are the exchanges behind the gateway (`EXCHANGE_1`, `EXCHANGE_2`): run the
simulator with those account names. Each API key belongs to one exchange; a request naming
another exchange is refused (403 `FORBIDDEN`).

Authentication (our design, `schemas/venues/futures_gateway.md` "Authentication"): headers
`X-GW-API-KEY`, `X-GW-TIMESTAMP` (epoch ms, within 5 s of the gateway's clock) and
`X-GW-SIGNATURE` = hex HMAC-SHA256(secret, `<timestamp>\\n<METHOD>\\n<path>\\n<sorted,
percent-encoded query>\\n<hex SHA-256 of the raw body>`).

Endpoints (prefix `/trade/api/v2/futures`):
- `GET /order?exchange=&order_id=` (or `client_order_id=`) -> `{data: order}`;
- `GET /open_orders?exchange=[&symbol=]` -> `{data: {orders: [...]}}`;
- `GET /order_history?exchange=&start_time=[&symbol=&end_time=&limit=]` -> `{data: {orders:
  [...]}}`: finished orders (FILLED, CANCELLED, EXPIRED) whose `updated_at` lies in
  [start_time, end_time] (default now, or start_time when later: nothing; at most 7 days),
  oldest first, at most `limit` (default 500, max 1000);
- `GET /trades?exchange=&start_time=[&symbol=&end_time=&limit=]` -> `{data: {trades: [...]}}`:
  the exchange's executions (one per order side; a self-trade twice) whose `time` lies in
  [start_time, end_time] (default now; at most 7 days), oldest first (time, then execution
  order), at most `limit` (default 500, max 1000) except that a reply never ends inside a
  millisecond (the whole last millisecond is included), so paging by time loses nothing;
- `POST /cancel_all` `{exchange, symbol?}` -> `{data: {orders_ids}}`: registers a cancel of
  every live order, TP/SL included; each goes CANCELLATION_RAISED, then CANCELLED
  `rules.cancel_delay_ms` later. 10 requests per 60 s per exchange, then HTTP 429
  `RATE_LIMITED`;
- `POST /order` `{exchange, symbol, side, type, quantity, price?, stop_price?,
  time_in_force?, client_order_id?, reduce_only?}` -> `{data: order}` (places);
- `DELETE /order?exchange=&order_id=` -> `{data: order}` in CANCELLATION_RAISED (one cancel).
Errors: `{"error": {"code", "message"}}` with HTTP 400 `INVALID_PARAMETER`, 401
`UNAUTHORIZED` / `INVALID_SIGNATURE` / `INVALID_TIMESTAMP`, 403 `FORBIDDEN`, 404
`ORDER_NOT_FOUND`, 409 `ORDER_CLOSED`, 422 `ORDER_REJECTED`, 429 `RATE_LIMITED`.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right, insort
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

import orjson
from aiohttp import web

from pipeline.errors import SimulatedVenueError
from pipeline.sim import futures_gateway_wire as wire
from pipeline.sim.engine import (
    EngineEvent,
    EngineRejection,
    EventKind,
    Order,
    OrderRequest,
    OrderType,
    RejectCode,
    Side,
    TimeInForce,
    TriggerKind,
)
from pipeline.sim.limits import Limit, RateLimiter
from pipeline.sim.venue import Credential, VenueServer
from pipeline.venues.futures_gateway import auth as gateway_auth

PREFIX = "/trade/api/v2/futures"
RATE_LIMITS = {"cancel_all": Limit(10, 60_000), "default": Limit(1200, 60_000)}
TIMESTAMP_WINDOW_MS = 5000
HISTORY_WINDOW_MS = 7 * 86_400_000
HISTORY_LIMIT, HISTORY_MAX = 500, 1000  # order history and trade list alike
Handler = Callable[[Credential, Mapping[str, Any], int], Any]

TYPES: dict[str, tuple[OrderType, TriggerKind | None]] = {
    "LIMIT": (OrderType.LIMIT, None),
    "MARKET": (OrderType.MARKET, None),
    "STOP_MARKET": (OrderType.MARKET, TriggerKind.STOP_LOSS),
    "TAKE_PROFIT_MARKET": (OrderType.MARKET, TriggerKind.TAKE_PROFIT),
}
TIME_IN_FORCE = {"GTC": TimeInForce.GTC, "IOC": TimeInForce.IOC, "FOK": TimeInForce.FOK}


class GatewayError(SimulatedVenueError):
    def __init__(self, status: int, code: str, message: str) -> None:
        self.status, self.code, self.message = status, code, message
        super().__init__(f"{status} {code}: {message}")


def rejection_error(exc: EngineRejection) -> GatewayError:
    if exc.code is RejectCode.UNKNOWN_ORDER:
        return GatewayError(404, "ORDER_NOT_FOUND", "Order not found.")
    if exc.code is RejectCode.ORDER_CLOSED:
        return GatewayError(409, "ORDER_CLOSED", f"Order is closed ({exc.message}).")
    if exc.code in (RejectCode.POST_ONLY_WOULD_TAKE, RejectCode.STOP_WOULD_TRIGGER):
        return GatewayError(422, "ORDER_REJECTED", exc.message)
    return GatewayError(400, "INVALID_PARAMETER", exc.message)


class FuturesGatewayServer(VenueServer):
    venue = "futures_gateway"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.limits = RateLimiter(RATE_LIMITS)
        self._raised_at: dict[str, int] = {}  # order id -> when its cancel was registered
        # account -> its trade objects as (time, engine seq, trade), sorted (the trade list)
        self._trades: dict[str, list[tuple[int, int, dict[str, Any]]]] = {}

    def add_routes(self, app: web.Application) -> None:
        routes: list[tuple[str, str, str, Handler]] = [
            ("GET", "/order", "default", self._order_status),
            ("POST", "/order", "default", self._place),
            ("DELETE", "/order", "default", self._cancel_one),
            ("GET", "/open_orders", "default", self._open_orders),
            ("GET", "/order_history", "default", self._order_history),
            ("GET", "/trades", "default", self._trade_list),
            ("POST", "/cancel_all", "cancel_all", self._cancel_all),
        ]
        for method, path, group, handler in routes:
            app.router.add_route(method, PREFIX + path, self._endpoint(group, handler))

    # -- authentication and framing -------------------------------------------------------

    def authenticate(self, request: web.Request, body: bytes, now: int) -> Credential:
        headers = request.headers
        credential = self.credential(headers.get(gateway_auth.KEY_HEADER))
        if credential is None:
            raise GatewayError(401, "UNAUTHORIZED", "Unknown or missing API key.")
        stamp = headers.get(gateway_auth.TIMESTAMP_HEADER, "")
        if not stamp.isdigit() or abs(int(stamp) - now) > TIMESTAMP_WINDOW_MS:
            raise GatewayError(401, "INVALID_TIMESTAMP", "Timestamp outside the 5 s window.")
        signature = headers.get(gateway_auth.SIGNATURE_HEADER, "")
        params = dict(request.query.items())
        if not gateway_auth.verify(
            credential.secret, signature, stamp, request.method, request.path, params, body
        ):
            raise GatewayError(401, "INVALID_SIGNATURE", "Signature does not match.")
        return credential

    def _endpoint(self, group: str, handler: Handler) -> Any:
        async def endpoint(request: web.Request) -> web.Response:
            await self.slow_reply()
            raw = await request.read()
            try:
                now = self.clock()
                credential = self.authenticate(request, raw, now)
                params: dict[str, Any] = dict(request.query)
                if raw.strip():
                    try:
                        body = orjson.loads(raw)
                    except orjson.JSONDecodeError:
                        raise GatewayError(400, "INVALID_PARAMETER", "Body is not JSON.") from None
                    if not isinstance(body, dict):
                        raise GatewayError(400, "INVALID_PARAMETER", "Body is not an object.")
                    params.update(body)
                exchange = params.get("exchange")
                if not isinstance(exchange, str) or not exchange:
                    raise GatewayError(400, "INVALID_PARAMETER", "exchange is required.")
                if exchange != credential.account:
                    raise GatewayError(403, "FORBIDDEN", f"This key cannot use {exchange}.")
                if not self.limits.allow(group, credential.account, now):
                    wait = self.limits.retry_after_ms(group, credential.account, now)
                    limit = RATE_LIMITS[group]
                    raise GatewayError(
                        429, "RATE_LIMITED",
                        f"{limit.count} requests per {limit.window_ms // 1000} seconds exceeded; "
                        f"retry after {-(-wait // 1000)} s",
                    )  # fmt: skip
                body_out = handler(credential, params, now)
                return _reply(body_out)
            except GatewayError as exc:
                return _reply(wire.error_reply(exc.code, exc.message), exc.status)

        return endpoint

    # -- handlers -------------------------------------------------------------------------

    def _find(self, credential: Credential, params: Mapping[str, Any]) -> Order:
        order_id, client_id = params.get("order_id"), params.get("client_order_id")
        if not order_id and not client_id:
            raise GatewayError(400, "INVALID_PARAMETER", "order_id or client_order_id is required.")
        try:
            return self.exchange.find(credential.account, order_id, client_id)
        except EngineRejection as exc:
            raise rejection_error(exc) from None

    def order_reply(self, order: Order) -> dict[str, Any]:
        return wire.order_reply(order, self._raised_at.get(order.order_id))

    def _order_status(self, credential: Credential, params: Mapping[str, Any], now: int) -> Any:
        body = self.order_reply(self._find(credential, params))
        self.record(credential.account, "rest.order_status", body)
        return body

    def _open_orders(self, credential: Credential, params: Mapping[str, Any], now: int) -> Any:
        symbol = params.get("symbol")
        if symbol is not None and symbol not in self.exchange.instruments:
            raise GatewayError(400, "INVALID_PARAMETER", f"Unknown symbol {symbol}.")
        orders = self.exchange.open_orders(credential.account, symbol)
        body = wire.open_orders_reply(orders, self._raised_at)
        self.record(credential.account, "rest.open_orders", body)
        return body

    def _order_history(self, credential: Credential, params: Mapping[str, Any], now: int) -> Any:
        """Finished orders whose `updated_at` is in [start_time, end_time], oldest first."""
        symbol, start, end, limit = self._window(params, now)
        finished = []
        for order in self.exchange.orders.values():
            if order.account != credential.account or not order.status.is_terminal:
                continue
            if symbol is not None and order.venue_symbol != symbol:
                continue
            obj = wire.order_object(order, self._raised_at.get(order.order_id))
            if start <= obj["updated_at"] <= end:
                finished.append(obj)
        finished.sort(key=lambda o: (o["updated_at"], o["order_id"]))
        body = {"data": {"orders": finished[:limit]}}
        self.record(credential.account, "rest.open_orders", body)  # the channel it travels on
        return body

    def _trade_list(self, credential: Credential, params: Mapping[str, Any], now: int) -> Any:
        """Executions whose `time` is in [start_time, end_time], oldest first, at most `limit`
        but never ending inside a millisecond."""
        symbol, start, end, limit = self._window(params, now)
        held = self._trades.get(credential.account, [])
        low = bisect_left(held, start, key=lambda item: item[0])
        high = bisect_right(held, end, key=lambda item: item[0])
        listed: list[dict[str, Any]] = []
        for time, _, trade in held[low:high]:
            if len(listed) >= limit and time != listed[-1]["time"]:
                break
            if symbol is None or trade["symbol"] == symbol:
                listed.append(trade)
        body = wire.trades_reply(listed)
        self.record(credential.account, "rest.trades", body)
        return body

    def _window(self, params: Mapping[str, Any], now: int) -> tuple[str | None, int, int, int]:
        """(symbol, start_time, end_time, limit) of a history or trade-list request."""
        symbol = params.get("symbol")
        if symbol is not None and symbol not in self.exchange.instruments:
            raise GatewayError(400, "INVALID_PARAMETER", f"Unknown symbol {symbol}.")
        start = _millis(params, "start_time", None)
        if start is None:
            raise GatewayError(400, "INVALID_PARAMETER", "start_time is required.")
        # end_time defaults to now; a start after now (a client resuming after the newest
        # millisecond it read) asks for an empty window, not a malformed one
        end = _millis(params, "end_time", max(now, start))
        if not start <= end or end - start > HISTORY_WINDOW_MS:
            raise GatewayError(
                400, "INVALID_PARAMETER", "start_time..end_time must span at most 7 days."
            )
        limit = _millis(params, "limit", HISTORY_LIMIT)
        if not 1 <= limit <= HISTORY_MAX:
            raise GatewayError(400, "INVALID_PARAMETER", f"limit must be 1..{HISTORY_MAX}.")
        return symbol, start, end, limit

    def _cancel_all(self, credential: Credential, params: Mapping[str, Any], now: int) -> Any:
        symbol = params.get("symbol")
        if symbol is not None and symbol not in self.exchange.instruments:
            raise GatewayError(400, "INVALID_PARAMETER", f"Unknown symbol {symbol}.")
        targets, _ = self.exchange.cancel_all(
            credential.account, now, None if symbol is None else [symbol],
            include_untriggered=True, deferred=True,
        )  # fmt: skip
        body = wire.cancel_all_reply([o.order_id for o in targets])
        self.record(credential.account, "rest.cancel_all", body)
        return body

    def _cancel_one(self, credential: Credential, params: Mapping[str, Any], now: int) -> Any:
        order = self._find(credential, params)
        try:
            self.exchange.request_cancel(order.order_id, now, account=credential.account)
        except EngineRejection as exc:
            raise rejection_error(exc) from None
        return self.order_reply(order)

    def _place(self, credential: Credential, params: Mapping[str, Any], now: int) -> Any:
        request = order_request(credential.account, params)
        try:
            order, _ = self.exchange.place(request, now)
        except EngineRejection as exc:
            raise rejection_error(exc) from None
        return self.order_reply(order)

    def export_state(self) -> dict[str, Any]:
        """When each cancel was raised, and every account's trade list (both come from engine
        events, so replaying the journal rebuilds them; a snapshot keeps them)."""
        return {
            "raised_at": dict(self._raised_at),
            "trades": {
                account: [[time, seq, trade] for time, seq, trade in held]
                for account, held in self._trades.items()
            },
        }

    def import_state(self, state: Mapping[str, Any]) -> None:
        self._raised_at = {str(oid): int(at) for oid, at in state["raised_at"].items()}
        self._trades = {
            str(account): [(int(time), int(seq), dict(trade)) for time, seq, trade in held]
            for account, held in state["trades"].items()
        }

    def on_events(self, events: Sequence[EngineEvent]) -> None:
        for event in events:
            if event.kind is EventKind.CANCEL_REQUESTED:
                self._raised_at[event.order_id] = event.time
            elif event.kind is EventKind.TRADE and event.fill is not None:
                trade = wire.trade_object(event.fill, event.order.client_order_id)
                insort(self._trades.setdefault(event.account, []), (event.time, event.seq, trade),
                       key=lambda item: item[:2])  # fmt: skip


def order_request(account: str, params: Mapping[str, Any]) -> OrderRequest:
    symbol = params.get("symbol")
    side = {"BUY": Side.BUY, "SELL": Side.SELL}.get(params.get("side"))  # type: ignore[arg-type]
    kind = TYPES.get(params.get("type"))  # type: ignore[arg-type]
    if not isinstance(symbol, str) or side is None or kind is None:
        raise GatewayError(400, "INVALID_PARAMETER", "symbol, side and type are required.")
    if params.get("reduce_only") not in (None, False):
        raise GatewayError(400, "INVALID_PARAMETER", "reduce_only is not simulated.")
    order_type, trigger = kind
    tif_label = params.get("time_in_force")
    post_only = tif_label == "GTX"
    tif = TimeInForce.GTC if tif_label in (None, "GTX") else TIME_IN_FORCE.get(tif_label)
    if tif is None or (order_type is OrderType.MARKET and tif_label is not None):
        raise GatewayError(400, "INVALID_PARAMETER", f"time_in_force {tif_label!r} invalid.")
    client_id = params.get("client_order_id")
    if client_id is not None and (not isinstance(client_id, str) or not 0 < len(client_id) <= 64):
        raise GatewayError(400, "INVALID_PARAMETER", "client_order_id must be 1-64 characters.")
    return OrderRequest(
        account, symbol, side, order_type, qty=_decimal(params, "quantity"),
        price=_decimal(params, "price") if order_type is OrderType.LIMIT else None,
        time_in_force=tif, post_only=post_only, trigger=trigger,
        stop_price=_decimal(params, "stop_price") if trigger is not None else None,
        client_order_id=client_id,
    )  # fmt: skip


def _decimal(params: Mapping[str, Any], name: str) -> Decimal:
    raw = params.get(name)
    try:
        value = Decimal(str(raw))
    except InvalidOperation:
        raise GatewayError(400, "INVALID_PARAMETER", f"{name} must be a decimal.") from None
    if raw is None or not value.is_finite() or value <= 0:
        raise GatewayError(400, "INVALID_PARAMETER", f"{name} must be positive.")
    return value


def _millis(params: Mapping[str, Any], name: str, default: int | None) -> Any:
    raw = params.get(name)
    if raw is None:
        return default
    if isinstance(raw, bool) or not str(raw).isdigit():
        raise GatewayError(400, "INVALID_PARAMETER", f"{name} must be a non-negative integer.")
    return int(raw)


def _reply(body: Any, status: int = 200) -> web.Response:
    return web.json_response(body, status=status, dumps=lambda o: orjson.dumps(o).decode())
