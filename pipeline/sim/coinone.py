"""Coinone (private API v2.1) on loopback: the REST order endpoints and the MYORDER WebSocket.

Authentication as Coinone does it (FACTS.md §3.1): every private call is a POST whose JSON
body carries `access_token` (the API key) and a UUID v4 `nonce`; `X-COINONE-PAYLOAD` is the
base64 of the body and `X-COINONE-SIGNATURE` the hex HMAC-SHA512 of that payload keyed with
the secret (as-is or upper-cased). The body actually sent must be the payload. Errors are
`{"result": "error", "error_code", "error_msg"}` with HTTP 200 and Coinone's codes (§3.6):
12 invalid access token, 104 order does not exist, 105 price, 107 parameter, 120 payload,
121 signature missing, 122 signature mismatch, 130 nonce missing, 131 nonce not a UUID v4,
132 nonce reused, 161-165 missing type-specific field (163 post_only), 310 price unit,
312/314 user_order_id duplicate/invalid; 4 with HTTP 429 when a rate limit (order APIs
40/s, others 80/s per account) is exceeded.

REST (all POST): `/v2.1/order` (LIMIT, MARKET, STOP_LIMIT; returns `{order_id}`),
`/v2.1/order/cancel` (the whole remainder; v2.1 has no partial cancel), `/v2.1/order/cancel/all`
(one pair; reply `{result, error_code, canceled_order_ids}`, our guess: the real shape is not
verified), `/v2.1/order/detail`, `/v2.1/order/active_orders`,
`/v2.1/order/completed_orders` (one pair) and `/v2.1/order/completed_orders/all`.

WebSocket `/v1/private` (MYORDER): the handshake carries the same two headers over a payload
`{access_token, nonce, timestamp}`; a failure closes with code 4280. Send
`{"request_type": "SUBSCRIBE", "channel": "MYORDER", "topic": [{"quote_currency",
"target_currency"}], "format": "SHORT"}` (no topic: every pair); answered
`{"r": "SUBSCRIBED", "c": "MYORDER"}`, then DATA frames. Like the venue, a request without
`"format": "SHORT"` gets the DEFAULT format: the same frames with long keys
(`{"response_type": "SUBSCRIBED", "channel": "MYORDER"}`, `{response_type, channel, data:
{order_id, executed_qty, ...}}`; `wire.long_keys`). `{"request_type": "PING"}` is answered
`{"r": "PONG"}` (`{"response_type": "PONG"}` on a DEFAULT subscription).
"""

from __future__ import annotations

import base64
import binascii
import re
import uuid
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

import orjson
from aiohttp import WSMsgType, web

from pipeline.errors import SimulatedVenueError
from pipeline.sim import coinone_wire as wire
from pipeline.sim.channel import OutboundChannel
from pipeline.sim.engine import (
    EngineEvent,
    EngineRejection,
    EventKind,
    Order,
    OrderRequest,
    OrderType,
    RejectCode,
    Side,
    TriggerKind,
)
from pipeline.sim.limits import Limit, RateLimiter
from pipeline.sim.venue import Credential, VenueServer
from pipeline.venues.coinone import auth as coinone_auth

RATE_LIMITS = {"order": Limit(40, 1000), "other": Limit(80, 1000)}
NONCE_MEMORY = 100_000
USER_ORDER_ID = re.compile(r"^[a-z0-9_.\-]{1,150}$")
AUTH_FAILED_CLOSE = 4280
Body = dict[str, Any]


class CoinoneError(SimulatedVenueError):
    def __init__(self, code: str, message: str, status: int = 200) -> None:
        self.code, self.message, self.status = code, message, status
        super().__init__(f"{code}: {message}")


_REJECTIONS: dict[RejectCode, tuple[str, str]] = {
    RejectCode.UNKNOWN_SYMBOL: ("107", "Parameter error: unsupported pair"),
    RejectCode.INVALID_QUANTITY: ("107", "Parameter error: invalid quantity"),
    RejectCode.INVALID_PRICE: ("310", "Price unit is not correct"),
    RejectCode.INVALID_PARAMETERS: ("107", "Parameter error"),
    RejectCode.UNSUPPORTED: ("107", "Parameter error: unsupported"),
    RejectCode.DUPLICATE_CLIENT_ID: ("312", "Duplicate user_order_id"),
    RejectCode.UNKNOWN_ORDER: ("104", "Order id is not exist"),
    RejectCode.ORDER_CLOSED: ("104", "Order id is not exist"),
}


def rejection_error(exc: EngineRejection) -> CoinoneError:
    code, message = _REJECTIONS.get(exc.code, ("107", "Parameter error"))
    return CoinoneError(code, f"{message} ({exc.message})")


@dataclass
class MyOrderSubscription:
    account: str
    pairs: frozenset[str] | None  # venue symbols (BTC-KRW); None: every pair
    short: bool = False  # `"format": "SHORT"` asked for; else the DEFAULT (long) keys


class CoinoneServer(VenueServer):
    venue = "coinone"
    ws_path = "/v1/private"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.limits = RateLimiter(RATE_LIMITS)
        self._nonces: dict[str, tuple[set[str], deque[str]]] = {}
        self._subscriptions: dict[OutboundChannel, MyOrderSubscription] = {}

    def endpoints(self) -> dict[str, str]:
        return {"rest": self.base_url, "ws": self.ws_url(self.ws_path)}

    def add_routes(self, app: web.Application) -> None:
        app.router.add_get(self.ws_path, self._websocket)
        routes: list[tuple[str, str, Callable[[Credential, Body, int], Body]]] = [
            ("/v2.1/order", "order", self._place),
            ("/v2.1/order/cancel", "order", self._cancel),
            ("/v2.1/order/cancel/all", "order", self._cancel_all),
            ("/v2.1/order/detail", "other", self._detail),
            ("/v2.1/order/active_orders", "other", self._active_orders),
            ("/v2.1/order/completed_orders", "other", self._completed_orders),
            ("/v2.1/order/completed_orders/all", "other", self._completed_orders),
        ]
        for path, group, handler in routes:
            app.router.add_post(path, self._rest(group, handler))

    # -- authentication -------------------------------------------------------------------

    def authenticate(
        self, payload: str | None, signature: str | None, body: bytes | None
    ) -> tuple[Credential, Body]:
        """The caller and the decoded request, or the `CoinoneError` Coinone answers with."""
        if not payload:
            raise CoinoneError("120", "Invalid payload: X-COINONE-PAYLOAD is missing")
        try:
            raw = base64.b64decode(payload, validate=True)
            params = orjson.loads(raw)
        except (binascii.Error, ValueError):
            raise CoinoneError("120", "Invalid payload: not base64 JSON") from None
        if not isinstance(params, dict):
            raise CoinoneError("120", "Invalid payload: not a JSON object")
        if body is not None and body.strip() and body.strip() != raw.strip():
            raise CoinoneError("120", "Invalid payload: the body differs from the payload")
        credential = self.credential(params.get("access_token"))
        if credential is None:
            raise CoinoneError("12", "Invalid access token")
        if not signature:
            raise CoinoneError("121", "Signature is missing")
        if not coinone_auth.verify(credential.secret, payload, signature):
            raise CoinoneError("122", "Signature is not correct")
        self._use_nonce(credential, params.get("nonce"))
        return credential, params

    def _use_nonce(self, credential: Credential, nonce: object) -> None:
        if not isinstance(nonce, str) or not nonce:
            raise CoinoneError("130", "Nonce is missing")
        try:
            parsed = uuid.UUID(nonce)
        except ValueError:
            raise CoinoneError("131", "Nonce must be a UUID v4") from None
        if parsed.version != 4:
            raise CoinoneError("131", "Nonce must be a UUID v4")
        seen, order = self._nonces.setdefault(credential.key, (set(), deque()))
        if nonce in seen:
            raise CoinoneError("132", "Nonce is already used")
        seen.add(nonce)
        order.append(nonce)
        if len(order) > NONCE_MEMORY:
            seen.discard(order.popleft())

    # -- REST -----------------------------------------------------------------------------

    def _rest(self, group: str, handler: Callable[[Credential, Body, int], Body]) -> Any:
        async def endpoint(request: web.Request) -> web.Response:
            await self.slow_reply()
            status = 200
            try:
                credential, params = self.authenticate(
                    request.headers.get("X-COINONE-PAYLOAD"),
                    request.headers.get("X-COINONE-SIGNATURE"),
                    await request.read(),
                )
                now = self.clock()
                if not self.limits.allow(group, credential.account, now):
                    raise CoinoneError("4", "Blocked user access: too many requests", 429)
                body = handler(credential, params, now)
            except CoinoneError as exc:
                body, status = wire.error_reply(exc.code, exc.message), exc.status
            return web.json_response(body, status=status, dumps=lambda o: orjson.dumps(o).decode())

        return endpoint

    def _pair(self, params: Body, required: bool = True) -> str | None:
        quote, target = params.get("quote_currency"), params.get("target_currency")
        if quote is None and target is None and not required:
            return None
        if not isinstance(quote, str) or not isinstance(target, str):
            raise CoinoneError("107", "Parameter error: quote_currency and target_currency")
        pair = f"{target.upper()}-{quote.upper()}"
        if pair not in self.exchange.instruments:
            raise CoinoneError("107", f"Parameter error: unsupported pair {pair}")
        return pair

    def _find(self, credential: Credential, params: Body) -> Order:
        order_id, user_order_id = params.get("order_id"), params.get("user_order_id")
        if bool(order_id) == bool(user_order_id):
            raise CoinoneError("107", "Parameter error: send order_id or user_order_id")
        pair = self._pair(params)
        try:
            order = self.exchange.find(credential.account, order_id, user_order_id)
        except EngineRejection as exc:
            raise rejection_error(exc) from None
        if order.venue_symbol != pair:
            raise CoinoneError("104", "Order id is not exist")
        return order

    def _place(self, credential: Credential, params: Body, now: int) -> Body:
        request = self._order_request(credential.account, params)
        try:
            order, _ = self.exchange.place(request, now)
        except EngineRejection as exc:
            raise rejection_error(exc) from None
        return {"result": "success", "error_code": "0", "order_id": order.order_id}

    def _order_request(self, account: str, params: Body) -> OrderRequest:
        pair = self._pair(params)
        assert pair is not None
        side = {"BUY": Side.BUY, "SELL": Side.SELL}.get(str(params.get("side", "")).upper())
        if side is None:
            raise CoinoneError("107", "Parameter error: side must be BUY or SELL")
        kind = str(params.get("type", "")).upper()
        user_order_id = params.get("user_order_id")
        if user_order_id is not None and (
            not isinstance(user_order_id, str) or not USER_ORDER_ID.match(user_order_id)
        ):
            raise CoinoneError("314", "Invalid user_order_id")
        if params.get("limit_price") is not None:
            raise CoinoneError("107", "Parameter error: limit_price is not simulated")
        common: dict[str, Any] = {"client_order_id": user_order_id}
        if kind == "LIMIT":
            post_only = params.get("post_only")
            if not isinstance(post_only, bool):
                raise CoinoneError("163", "post_only is required for LIMIT orders")
            return OrderRequest(
                account, pair, side, OrderType.LIMIT, qty=_decimal(params, "qty", "162"),
                price=_decimal(params, "price", "161"), post_only=post_only, **common,
            )  # fmt: skip
        if kind == "MARKET":
            if side is Side.BUY:
                amount = _decimal(params, "amount", "164")
                return OrderRequest(
                    account, pair, side, OrderType.MARKET, quote_qty=amount, **common
                )
            qty = _decimal(params, "qty", "162")
            return OrderRequest(account, pair, side, OrderType.MARKET, qty=qty, **common)
        if kind == "STOP_LIMIT":
            trigger = _decimal(params, "trigger_price", "165")
            last = self.exchange.last_price.get(pair)
            rising = last is None or trigger >= last
            stop_loss = rising == (side is Side.BUY)
            return OrderRequest(
                account, pair, side, OrderType.LIMIT, qty=_decimal(params, "qty", "162"),
                price=_decimal(params, "price", "161"), stop_price=trigger,
                trigger=TriggerKind.STOP_LOSS if stop_loss else TriggerKind.TAKE_PROFIT,
                **common,
            )  # fmt: skip
        raise CoinoneError("107", "Parameter error: type must be LIMIT, MARKET or STOP_LIMIT")

    def _cancel(self, credential: Credential, params: Body, now: int) -> Body:
        """Cancel the whole remainder now; the reply states the order after the cancel."""
        order = self._find(credential, params)
        canceled_now = Decimal(0)
        when = order.updated_at
        if order.is_live:
            events = self.exchange.cancel(order.order_id, now, account=credential.account)
            done = next(e for e in events if e.kind is EventKind.CANCELED)
            canceled_now, when = done.qty or Decimal(0), done.time
        current = self.exchange.order(order.order_id)
        assert current is not None
        body = wire.cancel_reply(current, canceled_now, when)
        self.record(credential.account, f"rest.order_cancel:{current.venue_symbol}", body)
        return body

    def _cancel_all(self, credential: Credential, params: Body, now: int) -> Body:
        pair = self._pair(params)
        targets, _ = self.exchange.cancel_all(credential.account, now, [pair] if pair else None)
        return {
            "result": "success",
            "error_code": "0",
            "canceled_order_ids": [o.order_id for o in targets],
        }

    def _detail(self, credential: Credential, params: Body, now: int) -> Body:
        body = wire.detail_reply(self._find(credential, params))
        self.record(credential.account, "rest.order_detail", body)
        return body

    def _active_orders(self, credential: Credential, params: Body, now: int) -> Body:
        pair = self._pair(params, required=False)
        wanted = params.get("order_type")
        if wanted is not None and (
            not isinstance(wanted, list) or not set(wanted) <= {"LIMIT", "STOP_LIMIT"}
        ):
            raise CoinoneError("107", "Parameter error: order_type is a list of LIMIT, STOP_LIMIT")
        orders = [
            o
            for o in self.exchange.open_orders(credential.account, pair)
            if wanted is None or wire.type_label(o) in wanted
        ]
        body = wire.active_orders_reply(orders)
        self.record(credential.account, "rest.active_orders", body)
        return body

    def _completed_orders(self, credential: Credential, params: Body, now: int) -> Body:
        """Fills, newest first, `size` (1-100) of them, optionally before `to_trade_id`."""
        pair = self._pair(params, required=False)
        size = params.get("size", 100)
        from_ts, to_ts = params.get("from_ts", 0), params.get("to_ts", now)
        if not isinstance(size, int) or not 1 <= size <= 100:
            raise CoinoneError("107", "Parameter error: size must be 1..100")
        if not isinstance(from_ts, int) or not isinstance(to_ts, int):
            raise CoinoneError("107", "Parameter error: from_ts and to_ts are epoch ms")
        fills = [
            f
            for f in self.exchange.fills
            if f.account == credential.account
            and (pair is None or f.venue_symbol == pair)
            and from_ts <= f.time <= to_ts
        ]
        fills.reverse()
        to_trade_id = params.get("to_trade_id")
        if to_trade_id:
            index = next((i for i, f in enumerate(fills) if f.trade_id == to_trade_id), None)
            fills = [] if index is None else fills[index + 1 :]
        items = []
        for fill in fills[:size]:
            order = self.exchange.order(fill.order_id)
            assert order is not None
            index = next(i for i, f in enumerate(order.fills) if f.trade_id == fill.trade_id)
            items.append(wire.trade_item(order, index))
        body = wire.completed_orders_reply(items)
        self.record(credential.account, "rest.completed_orders", body)
        return body

    # -- MYORDER WebSocket ----------------------------------------------------------------

    async def _websocket(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        try:
            credential, _ = self.authenticate(
                request.headers.get("X-COINONE-PAYLOAD"),
                request.headers.get("X-COINONE-SIGNATURE"),
                None,
            )
        except CoinoneError as exc:
            await ws.close(code=AUTH_FAILED_CLOSE, message=exc.message.encode()[:120])
            return ws
        channel = self.open_channel(ws, binary=False)
        try:
            async for message in ws:
                if message.type is WSMsgType.TEXT:
                    self._on_request(channel, credential, message.data)
                elif message.type is WSMsgType.ERROR:
                    break
        finally:
            self._subscriptions.pop(channel, None)
            self.release(channel)
            await channel.close()
        return ws

    def _on_request(self, channel: OutboundChannel, credential: Credential, text: str) -> None:
        try:
            request = orjson.loads(text)
        except orjson.JSONDecodeError:
            request = None
        kind = request.get("request_type") if isinstance(request, dict) else None
        if kind == "PING":
            subscribed = self._subscriptions.get(channel)
            short = subscribed is None or subscribed.short
            channel.send('{"r":"PONG"}' if short else '{"response_type":"PONG"}', "reply")
            return
        if kind != "SUBSCRIBE" or request.get("channel") != "MYORDER":
            channel.send(_ws_error("Unknown request"), "reply")
            return
        topics = request.get("topic")
        pairs: set[str] | None = None
        if topics is not None:
            if isinstance(topics, dict):
                topics = [topics]
            try:
                pairs = {f"{t['target_currency']}-{t['quote_currency']}".upper() for t in topics}
            except (TypeError, KeyError):
                channel.send(_ws_error("Invalid topic"), "reply")
                return
        short = request.get("format") == "SHORT"
        self._subscriptions[channel] = MyOrderSubscription(
            credential.account, None if pairs is None else frozenset(pairs), short
        )
        channel.send(
            '{"r":"SUBSCRIBED","c":"MYORDER"}'
            if short
            else '{"response_type":"SUBSCRIBED","channel":"MYORDER"}',
            "reply",
        )

    def on_events(self, events: Sequence[EngineEvent]) -> None:
        if not self._subscriptions:
            return
        for event in events:
            frames: list[dict[str, Any]] | None = None
            for channel, subscription in list(self._subscriptions.items()):
                if subscription.account != event.account or (
                    subscription.pairs is not None
                    and event.order.venue_symbol not in subscription.pairs
                ):
                    continue
                if frames is None:
                    frames = wire.myorder_frames(event)
                for frame in frames:
                    sent = frame if subscription.short else wire.long_keys(frame)
                    channel.send(orjson.dumps(sent).decode())
                    self.record(event.account, "MYORDER", sent)


def _ws_error(message: str) -> str:
    return orjson.dumps({"r": "ERROR", "c": "MYORDER", "error_msg": message}).decode()


def _decimal(params: Body, name: str, missing_code: str) -> Decimal:
    raw = params.get(name)
    if raw is None or raw == "":
        raise CoinoneError(missing_code, f"{name} is required")
    try:
        value = Decimal(str(raw))
    except InvalidOperation:
        raise CoinoneError("107", f"Parameter error: {name} is not a number") from None
    if not value.is_finite() or value <= 0:
        code = "105" if name in ("price", "trigger_price") else "107"
        raise CoinoneError(code, f"{name} must be positive")
    return value
