"""SSI FastConnect Trading v2 on loopback: token, NewOrder / CancelOrder, order books, stream.

One FastConnect consumer per account: `Credential.key` is the consumerID, `secret` the
consumerSecret, and `SsiCredential.private_key` the RSA key (PKCS#8 PEM) whose public half
the simulator checks `X-Signature` with (SSI distributes it as a base64 XML RSAKeyValue; a
PEM is what a client converts it to). Keys are generated per run with `cryptography`.

REST (base `/`, FACTS.md §4.1):
- `POST api/v2/Trading/AccessToken` `{consumerID, consumerSecret, twoFactorType, code,
  isSave}` -> `data.accessToken` (an HS256 JWT of the simulator's own; SSI's is RS256);
  valid for 8 hours. With `isSave: false`, each write must carry `code`.
- `POST api/v2/Trading/NewOrder` and `CancelOrder` (also `derNewOrder`, `derCancelOrder`):
  `Authorization: Bearer`, `X-Signature` = hex RSA PKCS#1 v1.5 SHA-256 over the exact body.
  HTTP 200 `{message: "Success", status: 200, data: {requestID, requestData}}` only
  acknowledges: the order's fate follows on the stream. A cancel completes
  `rules.cancel_delay_ms` later (`WC`, then `CL`/`FFPC`); a cancel of an order that is
  already done or unknown yields an `orderError`. Malformed requests: HTTP 200 with
  `{message, status: 400, data: null}` (as the SDK sees them); a bad token or signature:
  status 401.
- `GET api/v2/Trading/orderBook?account=` and `auditOrderBook?account=` (items add
  `lastErrorEvent`, the last failed request on the order).

Stream: a plain WebSocket at `/v2.0/stream?access_token=<token>&notify_id=<n>` (instead of
SignalR's `BroadcastHubV2`; documented simplification) sending one text frame per
`Broadcast` message, `{type, data}`, for every account of the consumer. `notify_id`: 0 =
replay the day (every message so far), -1 = only new messages, n = the messages after n.
"""

from __future__ import annotations

import contextlib
import re
import secrets
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

import jwt
import orjson
from aiohttp import WSMsgType, web
from cryptography.hazmat.primitives.asymmetric import rsa

from pipeline.errors import SimulatedVenueError
from pipeline.sim import ssi_wire as wire
from pipeline.sim.channel import OutboundChannel
from pipeline.sim.engine import (
    EngineEvent,
    EngineRejection,
    OrderRequest,
    OrderType,
    RejectCode,
    Side,
    TimeInForce,
    TriggerKind,
)
from pipeline.sim.limits import Limit, RateLimiter
from pipeline.sim.venue import Credential, VenueServer
from pipeline.venues.ssi import auth as ssi_auth

TOKEN_TTL_MS = 8 * 3_600_000
ANY_PIN = "000000"  # the simulated AccessToken accepts any non-empty two-factor code
RATE_LIMIT = Limit(20, 1000)
QUOTA_EXCEEDED = "API calls quota exceeded! maximum admitted 20 per 1s."
REQUEST_ID = re.compile(r"^\d{1,8}$")
MESSAGE_LOG_LIMIT = 1_000_000
Body = dict[str, Any]

_REJECTIONS: dict[RejectCode, tuple[str, str]] = {
    RejectCode.UNKNOWN_SYMBOL: ("ORD001", "Unknown ticker"),
    RejectCode.INVALID_PRICE: ("ORD004", "Invalid price step"),
    RejectCode.INVALID_QUANTITY: ("ORD005", "Invalid lot size"),
    RejectCode.DUPLICATE_CLIENT_ID: ("ERR500", "Duplicate requestID"),
}


@dataclass(frozen=True, slots=True, repr=False)
class SsiCredential(Credential):
    """A FastConnect consumer: consumerID (`key`), consumerSecret and the RSA private key."""

    private_key: str = field(default="", repr=False)


class SsiError(SimulatedVenueError):
    def __init__(self, status: int, message: str, http: int = 200) -> None:
        self.status, self.message, self.http = status, message, http
        super().__init__(f"{status} {message}")


@dataclass
class Session:
    consumer: str
    account: str
    save: bool
    expires: int


class SsiServer(VenueServer):
    venue = "ssi"
    stream_path = "/v2.0/stream"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._token_secret = secrets.token_hex(32)
        self._public_keys: dict[str, rsa.RSAPublicKey] = {}
        self.limits = RateLimiter({"api": RATE_LIMIT})
        self.messages: list[tuple[str, dict[str, Any]]] = []  # (account, message), notify order
        self._listeners: dict[OutboundChannel, str] = {}
        self._last_errors: dict[str, Any] = {}  # order id -> its last failed request
        self._request_ids: set[tuple[str, str]] = set()
        self._notify = 0
        # (venue, order id, engine trade id) -> the trade id the pipeline derives from the
        # stream (`<notifyID, 20 digits>:<orderID>`; SSI states none): ground truth orders
        # fills by it
        self.reported_trade_ids: dict[tuple[str, str, str], str] = {}

    def endpoints(self) -> dict[str, str]:
        return {"rest": self.base_url, "stream": self.ws_url(self.stream_path)}

    def add_routes(self, app: web.Application) -> None:
        app.router.add_post("/api/v2/Trading/AccessToken", self._access_token)
        for name in ("NewOrder", "derNewOrder"):
            app.router.add_post(f"/api/v2/Trading/{name}", self._write("new_order"))
        for name in ("CancelOrder", "derCancelOrder"):
            app.router.add_post(f"/api/v2/Trading/{name}", self._write("cancel_order"))
        app.router.add_get("/api/v2/Trading/orderBook", self._read(audit=False))
        app.router.add_get("/api/v2/Trading/auditOrderBook", self._read(audit=True))
        app.router.add_get(self.stream_path, self._stream)

    def public_key(self, credential: Credential) -> rsa.RSAPublicKey | None:
        if not isinstance(credential, SsiCredential) or not credential.private_key:
            return None
        key = self._public_keys.get(credential.key)
        if key is None:
            key = self._public_keys[credential.key] = ssi_auth.public_key(credential.private_key)
        return key

    # -- authentication -------------------------------------------------------------------

    async def _access_token(self, request: web.Request) -> web.Response:
        body = await _json(request)
        credential = self.credential(body.get("consumerID"))
        if credential is None or body.get("consumerSecret") != credential.secret:
            return _reply(wire.error(400, "Invalid consumerID or consumerSecret"))
        if body.get("twoFactorType", 0) not in (0, 1) or not body.get("code"):
            return _reply(wire.error(400, "'Code' must not be empty."))
        now = self.clock()
        claims = {"consumerID": credential.key, "account": credential.account,
                  "isSave": bool(body.get("isSave", True)), "exp": now + TOKEN_TTL_MS}  # fmt: skip
        token = jwt.encode(claims, self._token_secret, algorithm="HS256")
        return _reply(wire.ok({"accessToken": token}))

    def session(self, header: str | None) -> Session:
        if not header or not header.startswith("Bearer "):
            raise SsiError(401, "Authorization has been denied for this request.", 401)
        return self._session_of(header[len("Bearer ") :].strip())

    def _session_of(self, token: str) -> Session:
        try:
            # `exp` is in the simulator's own clock (ms): checked below, not by PyJWT
            claims = jwt.decode(
                token, self._token_secret, algorithms=["HS256"], options={"verify_exp": False}
            )
        except jwt.PyJWTError:
            raise SsiError(401, "Authorization has been denied for this request.", 401) from None
        if int(claims.get("exp", 0)) <= self.clock():
            raise SsiError(401, "Token is expired.", 401)
        return Session(claims["consumerID"], claims["account"], claims["isSave"], claims["exp"])

    # -- writes ---------------------------------------------------------------------------

    def _handlers(self) -> dict[str, Callable[[Session, Body, int], Body]]:
        return {"new_order": self._new_order, "cancel_order": self._cancel_order}

    def _write(self, name: str) -> Any:
        handler = self._handlers()[name]

        async def endpoint(request: web.Request) -> web.Response:
            await self.slow_reply()
            raw = await request.read()
            try:
                session = self.session(request.headers.get("Authorization"))
                credential = self.credential(session.consumer)
                key = None if credential is None else self.public_key(credential)
                signature = request.headers.get("X-Signature", "")
                if key is None or not ssi_auth.verify(key, raw, signature):
                    raise SsiError(401, "Invalid signature.", 401)
                now = self.clock()
                if not self.limits.allow("api", session.consumer, now):
                    raise SsiError(429, QUOTA_EXCEEDED, 429)
                try:
                    body = orjson.loads(raw)
                except orjson.JSONDecodeError:
                    raise SsiError(400, "Request body is not valid JSON.") from None
                if not isinstance(body, dict):
                    raise SsiError(400, "Request body is not valid JSON.")
                if not session.save and not body.get("code"):
                    raise SsiError(400, "'Code' must not be empty.")
                if body.get("account") != session.account:
                    raise SsiError(400, "Account is not exist.")
                account = session.account
                with self.mutation(name, lambda: {"account": account, "body": body}, now):
                    result = handler(session, body, now)
                return _reply(result)
            except SsiError as exc:
                return _reply(wire.error(exc.status, exc.message), exc.http)

        return endpoint

    def _request_id(self, session: Session, body: Body) -> str:
        request_id = body.get("requestID")
        if not isinstance(request_id, str) or not REQUEST_ID.match(request_id):
            raise SsiError(400, "'Request ID' must be a numeric string of at most 8 digits.")
        if (session.account, request_id) in self._request_ids:
            raise SsiError(400, "Duplicate requestID.")
        self._request_ids.add((session.account, request_id))
        return request_id

    def _new_order(self, session: Session, body: Body, now: int) -> Body:
        request_id = self._request_id(session, body)
        try:
            request = _order_request(session.account, body, request_id)
            self.exchange.place(request, now)
        except (EngineRejection, SsiError) as exc:
            code, message = ("ERR500", str(exc))
            if isinstance(exc, EngineRejection):
                code, message = _REJECTIONS.get(exc.code, ("ERR500", exc.message))
            fields = {k: body.get(k) for k in ("instrumentID", "buySell", "orderType",
                                                "price", "quantity")}  # fmt: skip
            self._publish(session.account, wire.order_error(
                self._next_notify(), session.account, request_id, code, message,
                fields={**fields, "origRequestID": request_id}))  # fmt: skip
        return wire.ok({"requestID": request_id, "requestData": body})

    def _cancel_order(self, session: Session, body: Body, now: int) -> Body:
        request_id = self._request_id(session, body)
        order_id = body.get("orderID")
        if not order_id:
            raise SsiError(400, "'Order ID' must not be empty.")
        try:
            self.exchange.request_cancel(str(order_id), now, request_id, session.account)
        except EngineRejection:
            order = self.exchange.order(str(order_id))
            known = order is not None and order.account == session.account
            message = "Invalid Order Transition Error!" if known else "Order not found."
            error = wire.order_error(
                self._next_notify(), session.account, request_id,
                "ORD011" if known else "ORD013", message, order if known else None, now,
                fields={"orderID": str(order_id)},
            )  # fmt: skip
            if known:
                self._last_errors[str(order_id)] = {**error["data"], "orderStatus": "RJ"}
            self._publish(session.account, error)
        return wire.ok({"requestID": request_id, "requestData": body})

    # -- keeping state across restarts ----------------------------------------------------

    def replay(self, name: str, args: Mapping[str, Any], now: int) -> None:
        """Redo a journaled write request (its request id, stream messages, last error)."""
        handler = self._handlers().get(name)
        if handler is None:
            super().replay(name, args, now)
            return
        session = Session(consumer="", account=str(args["account"]), save=True, expires=0)
        with contextlib.suppress(SsiError):
            handler(session, dict(args["body"]), now)

    def export_state(self) -> dict[str, Any]:
        """The day's stream log and notifyID, request ids, last errors, reported trade ids."""
        return {
            "notify": self._notify,
            "messages": [[account, message] for account, message in self.messages],
            "request_ids": sorted([account, rid] for account, rid in self._request_ids),
            "last_errors": dict(self._last_errors),
            "reported_trade_ids": [
                [order_id, trade_id, reported]
                for (_, order_id, trade_id), reported in self.reported_trade_ids.items()
            ],
        }

    def import_state(self, state: Mapping[str, Any]) -> None:
        self._notify = int(state["notify"])
        self.messages = [(str(account), message) for account, message in state["messages"]]
        self._request_ids = {(str(account), str(rid)) for account, rid in state["request_ids"]}
        self._last_errors = dict(state["last_errors"])
        self.reported_trade_ids = {
            (self.venue, str(order_id), str(trade_id)): str(reported)
            for order_id, trade_id, reported in state["reported_trade_ids"]
        }

    # -- reads ----------------------------------------------------------------------------

    def _read(self, audit: bool) -> Any:
        channel = "rest.auditOrderBook" if audit else "rest.orderBook"

        async def endpoint(request: web.Request) -> web.Response:
            await self.slow_reply()
            try:
                session = self.session(request.headers.get("Authorization"))
                now = self.clock()
                if not self.limits.allow("api", session.consumer, now):
                    raise SsiError(429, QUOTA_EXCEEDED, 429)
                account = request.query.get("account")
                if account != session.account:
                    raise SsiError(400, "Account is not exist.")
                orders = [o for o in self.exchange.orders.values() if o.account == account]
                body = wire.book_reply(account, orders, audit, self._last_errors)
                self.record(account, channel, body)
                return _reply(body)
            except SsiError as exc:
                return _reply(wire.error(exc.status, exc.message), exc.http)

        return endpoint

    # -- the stream -----------------------------------------------------------------------

    def _next_notify(self) -> int:
        """The next notifyID; messages are published in the order their ids were handed out."""
        self._notify += 1
        return self._notify

    def _publish(self, account: str, message: dict[str, Any]) -> None:
        """Append one Broadcast message to the day's log and send it to the listeners."""
        if len(self.messages) >= MESSAGE_LOG_LIMIT:
            self.messages = self.messages[MESSAGE_LOG_LIMIT // 2 :]
        self.messages.append((account, message))
        text: str | None = None
        for channel, listener in list(self._listeners.items()):
            if listener == account:
                text = text or orjson.dumps(message).decode()
                channel.send(text)
                self.record(account, "stream", message)

    def on_events(self, events: Sequence[EngineEvent]) -> None:
        for event in events:
            for message in wire.stream_messages(event, self._next_notify):
                if message["type"] == "orderMatchEvent" and event.fill is not None:
                    data = message["data"]
                    key = ("ssi", event.fill.order_id, event.fill.trade_id)
                    self.reported_trade_ids[key] = f"{data['notifyID']:020d}:{data['orderID']}"
                self._publish(event.account, message)

    async def _stream(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        try:
            token = request.query.get("access_token") or ""
            header = request.headers.get("Authorization")
            session = self.session(header) if header else self._session_of(token)
            notify_from = int(request.query.get("notify_id", "-1"))
        except (SsiError, ValueError) as exc:
            status = exc.http if isinstance(exc, SsiError) else 400
            return web.json_response(  # type: ignore[return-value]
                wire.error(status, str(exc)), status=status
            )
        await ws.prepare(request)
        channel = self.open_channel(ws, binary=False)
        if notify_from >= 0:
            for account, kept in self.messages:
                if account == session.account and kept["data"]["notifyID"] > notify_from:
                    channel.send(orjson.dumps(kept).decode())
                    self.record(account, "stream", kept)
        self._listeners[channel] = session.account
        try:
            async for message in ws:
                if message.type is WSMsgType.ERROR:
                    break
        finally:
            self._listeners.pop(channel, None)
            self.release(channel)
            await channel.close()
        return ws


def _reply(body: Body, status: int = 200) -> web.Response:
    return web.json_response(body, status=status, dumps=lambda o: orjson.dumps(o).decode())


async def _json(request: web.Request) -> Body:
    try:
        body = orjson.loads(await request.read())
    except orjson.JSONDecodeError:
        return {}
    return body if isinstance(body, dict) else {}


def _number(body: Body, name: str, allow_zero: bool = False) -> Decimal:
    raw = body.get(name)
    try:
        value = Decimal(str(raw))
    except InvalidOperation:
        raise SsiError(400, f"'{name}' must be a number.") from None
    if not value.is_finite() or value < 0 or (value == 0 and not allow_zero):
        raise SsiError(400, f"'{name}' is not valid.")
    return value


def _order_request(account: str, body: Body, request_id: str) -> OrderRequest:
    """NewOrder fields -> an engine request (LO, MP, MAK, MOK; stop orders via stopOrder)."""
    side = {"B": Side.BUY, "S": Side.SELL}.get(body.get("buySell"))  # type: ignore[arg-type]
    if side is None:
        raise SsiError(400, "'Buy Sell' must be B or S.")
    instrument = body.get("instrumentID")
    if not isinstance(instrument, str) or not instrument:
        raise SsiError(400, "'Instrument ID' must not be empty.")
    kind = body.get("orderType")
    qty = _number(body, "quantity")
    stop: dict[str, Any] = {}
    if body.get("stopOrder") is True:
        stop_price = _number(body, "stopPrice")
        rising = body.get("stopType", "U") == "U"
        stop_loss = rising == (side is Side.BUY)
        trigger = TriggerKind.STOP_LOSS if stop_loss else TriggerKind.TAKE_PROFIT
        stop = {"stop_price": stop_price, "trigger": trigger}
    if kind == "LO":
        price = _number(body, "price")
        return OrderRequest(account, instrument, side, OrderType.LIMIT, qty=qty, price=price,
                            client_order_id=request_id, **stop)  # fmt: skip
    tif = {"MP": TimeInForce.GTC, "MAK": TimeInForce.IOC, "MOK": TimeInForce.FOK}.get(kind)  # type: ignore[arg-type]
    if tif is None:
        raise SsiError(400, f"Order type {kind!r} is not simulated (LO, MP, MAK, MOK).")
    if _number(body, "price", allow_zero=True):
        raise SsiError(400, "'Price' must be 0 for market orders.")
    return OrderRequest(account, instrument, side, OrderType.MARKET, qty=qty, time_in_force=tif,
                        client_order_id=request_id, **stop)  # fmt: skip
