"""Binance Spot on loopback: the WebSocket API (`/ws-api/v3`) and its user data stream.

Requests are `{"id", "method", "params"}`; responses `{"id", "status", "result" | "error",
"rateLimits"}` (seed 004). Signed methods check, in Binance's order (FACTS.md §1.5/§1.6):
mandatory `apiKey` / `timestamp` / `signature` (-1102), the key (-2015, HTTP 401), the
timing window (`timestamp < serverTime + 1000` and `serverTime - timestamp <= recvWindow`,
default 5000, at most 60000; else -1021) and the HMAC-SHA256 signature over the sorted
parameters (-1022). Request weight (6000/min) and order counts (50 per 10 s and 160,000 per
day per account) are enforced with -1003 / -1015 and HTTP 429.

Methods: `order.place`, `order.test`, `order.status`, `order.cancel`,
`order.cancelReplace`, `order.amend.keepPriority`, `openOrders.status`,
`openOrders.cancelAll`, `allOrders` (symbol; orderId or startTime/endTime by creation time,
at most 24 h apart; limit 500, at most 1000), `myTrades` (symbol; orderId, startTime/endTime
by trade time at most 24 h apart, or fromId; weight 20 as Binance documents; limit 500, at
most 1000), `userDataStream.subscribe.signature`,
`userDataStream.unsubscribe`, `session.subscriptions`, `ping`, `time`. After
`userDataStream.subscribe.signature` the connection receives that account's `executionReport`s as
`{"subscriptionId": n, "event": {...}}`.

Numbers in `params` are signed as their text: send decimals as strings (as Binance's own
clients do) so that client and server sign the same bytes.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiohttp import WSMsgType, web

from pipeline.sim import binance_methods as methods
from pipeline.sim.binance_methods import BinanceError, missing
from pipeline.sim.binance_wire import execution_report
from pipeline.sim.channel import OutboundChannel
from pipeline.sim.engine import EngineEvent, Exchange
from pipeline.sim.limits import Limit, RateLimiter
from pipeline.sim.venue import Credential, VenueServer
from pipeline.venues.binance import auth as binance_auth

Handler = Callable[[Exchange, str, dict[str, Any], int], Any]
ORDER_LIMITS = {"orders_10s": Limit(50, 10_000), "orders_day": Limit(160_000, 86_400_000)}
WEIGHT_LIMIT = Limit(6000, 60_000)


@dataclass(frozen=True)
class Method:
    handler: Handler | None  # None: handled by the server itself (sessions, subscriptions)
    weight: int
    signed: bool = True
    places_order: bool = False
    channel: str | None = None  # the raw channel its replies travel on, if it states orders


METHODS: dict[str, Method] = {
    "ping": Method(None, 1, signed=False),
    "time": Method(None, 1, signed=False),
    "order.place": Method(methods.place, 1, places_order=True, channel="wsapi.order.place"),
    "order.test": Method(methods.test_order, 1, channel="wsapi.order.test"),
    "order.status": Method(methods.status, 4, channel="wsapi.order.status"),
    "order.cancel": Method(methods.cancel, 1, channel="wsapi.order.cancel"),
    "order.cancelReplace": Method(
        methods.cancel_replace, 1, places_order=True, channel="wsapi.order.cancelReplace"
    ),
    "order.amend.keepPriority": Method(methods.amend, 4, channel="wsapi.order.amend.keepPriority"),
    "openOrders.status": Method(methods.open_orders, 6, channel="wsapi.openOrders.status"),
    "openOrders.cancelAll": Method(methods.cancel_all, 1, channel="wsapi.openOrders.cancelAll"),
    # not recorded: the ingestor publishes no `allOrders` reply (the normalizer has no
    # channel for it); it queries `order.status` for the orders it finds there instead
    "allOrders": Method(methods.all_orders, 20),
    "myTrades": Method(methods.my_trades, 20, channel="wsapi.myTrades"),
    "userDataStream.subscribe.signature": Method(None, 2),
    "userDataStream.unsubscribe": Method(None, 2, signed=False),
    "session.subscriptions": Method(None, 2, signed=False),
}


@dataclass
class Session:
    """One WebSocket API connection and its user-data subscriptions (id -> account)."""

    channel: OutboundChannel
    subscriptions: dict[int, str] = field(default_factory=dict)
    next_subscription: int = 0


class BinanceServer(VenueServer):
    venue = "binance"
    path = "/ws-api/v3"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.orders = RateLimiter(ORDER_LIMITS)
        self.weight = RateLimiter({"weight": WEIGHT_LIMIT})
        self._sessions: dict[OutboundChannel, Session] = {}

    def add_routes(self, app: web.Application) -> None:
        app.router.add_get(self.path, self._websocket)

    def endpoints(self) -> dict[str, str]:
        return {"ws_api": self.ws_url(self.path)}

    async def _websocket(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        session = Session(self.open_channel(ws, binary=False))
        self._sessions[session.channel] = session
        try:
            async for message in ws:
                if message.type is WSMsgType.TEXT:
                    self._on_request(session, message.data)
                elif message.type is WSMsgType.BINARY:
                    self._on_request(session, message.data.decode(errors="replace"))
                elif message.type is WSMsgType.ERROR:
                    break
        finally:
            self._sessions.pop(session.channel, None)
            self.release(session.channel)
            await session.channel.close()
        return ws

    # -- requests -------------------------------------------------------------------------

    def _on_request(self, session: Session, text: str) -> None:
        now = self.clock()
        request_id: Any = None
        credential: Credential | None = None
        method: Method | None = None
        try:
            try:
                request = orjson.loads(text)
            except orjson.JSONDecodeError:
                raise BinanceError(400, -1135, "Invalid JSON Request") from None
            if not isinstance(request, dict):
                raise BinanceError(400, -1135, "Invalid JSON Request")
            request_id = request.get("id")
            params = request.get("params", {})
            method = METHODS.get(request.get("method"))  # type: ignore[arg-type]
            if method is None:
                raise BinanceError(400, -1020, "This operation is not supported.")
            if not isinstance(params, dict):
                raise BinanceError(400, -1135, "JSON sent for parameter 'params' is not valid")
            if not self.weight.allow("weight", "ip", now, method.weight):
                raise BinanceError(429, -1003, "Too much request weight used.")
            if method.signed:
                credential = self.authenticate(params, now)
            if method.places_order:
                self._count_order(credential, now)  # type: ignore[arg-type]
            result = self._call(session, request["method"], method, credential, params, now)
            reply: dict[str, Any] = {"id": request_id, "status": 200, "result": result}
        except BinanceError as exc:
            reply = {"id": request_id, "status": exc.status, "error": exc.body()}
        reply["rateLimits"] = self._rate_limits(credential, method, now)
        session.channel.send(orjson.dumps(reply).decode(), "reply")
        if credential is not None and method is not None and method.channel is not None:
            self.record(credential.account, method.channel, reply)

    def authenticate(self, params: dict[str, Any], now: int) -> Credential:
        """The signer of `params`, or the error Binance answers with."""
        for name in ("apiKey", "timestamp", "signature"):
            if params.get(name) in (None, ""):
                raise missing(name)
        credential = self.credential(params["apiKey"])
        if credential is None:
            raise BinanceError(401, -2015, "Invalid API-key, IP, or permissions for action.")
        try:
            timestamp = float(params["timestamp"])
            window = float(params.get("recvWindow", 5000))
        except (TypeError, ValueError):
            raise missing("timestamp") from None
        if window > 60_000 or window <= 0:
            raise BinanceError(400, -1131, "recvWindow must be less than 60000")
        if timestamp >= now + 1000:
            raise BinanceError(
                400, -1021, "Timestamp for this request was 1000ms ahead of the server's time."
            )
        if now - timestamp > window:
            raise BinanceError(
                400, -1021, "Timestamp for this request is outside of the recvWindow."
            )
        if not binance_auth.verify(credential.secret, params):
            raise BinanceError(400, -1022, "Signature for this request is not valid.")
        return credential

    def _count_order(self, credential: Credential, now: int) -> None:
        for name, limit in ORDER_LIMITS.items():
            if not self.orders.allow(name, credential.account, now):
                interval = "10 SECOND" if name == "orders_10s" else "1 DAY"
                raise BinanceError(
                    429,
                    -1015,
                    f"Too many new orders; current limit is {limit.count} orders per {interval}.",
                )

    def _call(
        self,
        session: Session,
        name: str,
        method: Method,
        credential: Credential | None,
        params: dict[str, Any],
        now: int,
    ) -> Any:
        if method.handler is not None:
            assert credential is not None
            return method.handler(self.exchange, credential.account, params, now)
        if name == "ping":
            return {}
        if name == "time":
            return {"serverTime": now}
        if name == "userDataStream.subscribe.signature":
            assert credential is not None
            if credential.account in session.subscriptions.values():
                raise BinanceError(400, -2035, "User Data Stream subscription already active.")
            number = session.next_subscription
            session.next_subscription += 1
            session.subscriptions[number] = credential.account
            return {"subscriptionId": number}
        if name == "userDataStream.unsubscribe":
            return self._unsubscribe(session, params.get("subscriptionId"), now)
        return [{"subscriptionId": number} for number in session.subscriptions]

    def _unsubscribe(self, session: Session, number: Any, now: int) -> dict[str, Any]:
        if number is None:
            closing = list(session.subscriptions)
        elif number in session.subscriptions:
            closing = [number]
        else:
            raise BinanceError(400, -2036, "User Data Stream subscription not active.")
        for item in closing:
            del session.subscriptions[item]
            event = {"e": "eventStreamTerminated", "E": now}
            session.channel.send(orjson.dumps({"subscriptionId": item, "event": event}).decode())
        return {}

    def _rate_limits(
        self, credential: Credential | None, method: Method | None, now: int
    ) -> list[dict[str, Any]]:
        limits: list[dict[str, Any]] = []
        if credential is not None and method is not None and method.places_order:
            for name, interval, number in (("orders_10s", "SECOND", 10), ("orders_day", "DAY", 1)):
                limits.append(
                    {
                        "rateLimitType": "ORDERS",
                        "interval": interval,
                        "intervalNum": number,
                        "limit": ORDER_LIMITS[name].count,
                        "count": self.orders.used(name, credential.account, now),
                    }
                )
        limits.append(
            {
                "rateLimitType": "REQUEST_WEIGHT",
                "interval": "MINUTE",
                "intervalNum": 1,
                "limit": WEIGHT_LIMIT.count,
                "count": self.weight.used("weight", "ip", now),
            }
        )
        return limits

    # -- the user data stream -------------------------------------------------------------

    def on_events(self, events: Sequence[EngineEvent]) -> None:
        listeners = [s for s in self._sessions.values() if s.subscriptions]
        if not listeners:
            return
        for event in events:
            report: dict[str, Any] | None = None
            for session in listeners:
                for number, account in session.subscriptions.items():
                    if account != event.account:
                        continue
                    if report is None:
                        report = execution_report(event)
                        if report is None:
                            break
                    payload = {"subscriptionId": number, "event": report}
                    with contextlib.suppress(RuntimeError):
                        session.channel.send(orjson.dumps(payload).decode())
                    self.record(account, "userData", payload)
