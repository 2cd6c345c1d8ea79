"""Upbit on loopback: the private `myOrder` WebSocket and the REST order/cancel endpoints.

Authentication as Upbit does it (FACTS.md §2.2): `Authorization: Bearer <JWT>` (HS256 or
HS512) signed with the account's secret, payload `{access_key, nonce}` plus `query_hash`
(hex SHA-512 of the unencoded query string) when the request has parameters; a reused
nonce is refused (`nonce_used`). REST errors are `{"error": {"name", "message"}}` with
Upbit's names and HTTP statuses (§2.4); WebSocket errors are error frames
(`INVALID_AUTH`, `WRONG_FORMAT`, `NO_TICKET`, `NO_TYPE`, `INVALID_PARAM`).

WebSocket (`/websocket/v1/private`, also `/websocket/v1`): send
`[{"ticket": ...}, {"type": "myOrder", "codes": [...]}, {"format": "DEFAULT"}]`; frames are
binary UTF-8 JSON in DEFAULT, SIMPLE, JSON_LIST or SIMPLE_LIST format, REALTIME as things
happen. `"is_only_snapshot": true` in the type object sends the account's open orders as
SNAPSHOT frames instead; `"is_only_realtime": false` sends them first, then REALTIME. A text
`PING` is answered with `{"status": "UP"}`.

REST: `DELETE /v1/order` (uuid or identifier; registers the cancel: the reply still says
`wait`, the `cancel` frame follows), `GET /v1/order`, `GET /v1/orders/open`,
`GET /v1/orders/closed` (done/cancel orders created in a window of at most 7 days),
`DELETE /v1/orders/open` (1 request per 2 s per account), `DELETE /v1/orders/uuids`.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import unquote

import orjson
from aiohttp import WSMsgType, web
from multidict import MultiDict, MultiDictProxy, MultiMapping

from pipeline.errors import SimulatedVenueError
from pipeline.sim.channel import OutboundChannel
from pipeline.sim.engine import EngineEvent, Order, Side, Status
from pipeline.sim.limits import Limit, RateLimiter
from pipeline.sim.upbit_wire import (
    my_order_frames,
    rest_order,
    rest_state,
    simple,
    snapshot_frame,
)
from pipeline.sim.venue import Credential, VenueServer
from pipeline.venues.credentials import SignatureError
from pipeline.venues.upbit import auth as upbit_auth

FORMATS = ("DEFAULT", "SIMPLE", "JSON_LIST", "SIMPLE_LIST")
PRIVATE_TYPES = ("myOrder", "myAsset")
NONCE_MEMORY = 100_000
WEEK_MS = 7 * 86_400_000
RATE_LIMITS = {"default": Limit(30, 1000), "order-cancel-all": Limit(1, 2000)}
Params = MultiMapping[str]


class UpbitError(SimulatedVenueError):
    """An error reply: HTTP status and Upbit's `{"error": {"name", "message"}}`."""

    def __init__(self, status: int, name: str, message: str) -> None:
        self.status, self.name, self.message = status, name, message
        super().__init__(f"{status} {name}: {message}")

    def body(self) -> dict[str, Any]:
        return {"error": {"name": self.name, "message": self.message}}


@dataclass
class Subscription:
    account: str
    codes: frozenset[str] | None  # None: every market
    format: str
    realtime: bool

    def wants(self, venue_symbol: str) -> bool:
        return self.codes is None or venue_symbol in self.codes


def error_frame(name: str, message: str) -> str:
    return orjson.dumps({"error": {"name": name, "message": message}}).decode()


class UpbitServer(VenueServer):
    venue = "upbit"
    binary_frames = True

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.limits = RateLimiter(RATE_LIMITS)
        self._nonces: dict[str, tuple[set[str], deque[str]]] = {}
        self._subscriptions: dict[OutboundChannel, Subscription] = {}

    def endpoints(self) -> dict[str, str]:
        return {"rest": self.base_url, "ws": self.ws_url("/websocket/v1/private")}

    def add_routes(self, app: web.Application) -> None:
        for path in ("/websocket/v1/private", "/websocket/v1"):
            app.router.add_get(path, self._websocket)
        routes: list[tuple[str, str, str, Callable[..., Any]]] = [
            ("GET", "/v1/order", "default", self._get_order),
            ("DELETE", "/v1/order", "default", self._cancel_order),
            ("GET", "/v1/orders/open", "default", self._open_orders),
            ("GET", "/v1/orders/closed", "default", self._closed_orders),
            ("DELETE", "/v1/orders/open", "order-cancel-all", self._cancel_open),
            ("DELETE", "/v1/orders/uuids", "default", self._cancel_uuids),
        ]
        for method, path, group, handler in routes:
            app.router.add_route(method, path, self._rest(group, handler))

    # -- authentication -------------------------------------------------------------------

    def verify(self, header: str | None, query: str) -> Credential:
        """The caller's credential, or `UpbitError` 401 as Upbit names the failure."""
        if not header or not header.startswith("Bearer "):
            raise UpbitError(401, "jwt_verification", "Authorization header is missing.")
        token = header[len("Bearer ") :].strip()
        try:
            _, claims = upbit_auth.unverified(token)
            credential = self.credential(claims.get("access_key"))
            if credential is None:
                raise UpbitError(401, "invalid_access_key", "Invalid access key.")
            upbit_auth.verify(token, credential.secret)
        except SignatureError as exc:
            raise UpbitError(401, "jwt_verification", "Failed to verify Jwt token.") from exc
        nonce = claims.get("nonce")
        if not isinstance(nonce, str) or not nonce:
            raise UpbitError(401, "jwt_verification", "Failed to verify Jwt token.")
        seen, order = self._nonces.setdefault(credential.key, (set(), deque()))
        if nonce in seen:
            raise UpbitError(401, "nonce_used", "This nonce has already been used.")
        seen.add(nonce)
        order.append(nonce)
        if len(order) > NONCE_MEMORY:
            seen.discard(order.popleft())
        if query and (
            claims.get("query_hash") != upbit_auth.query_hash(query)
            or claims.get("query_hash_alg", "SHA512") != "SHA512"
        ):
            raise UpbitError(401, "invalid_query_payload", "Query hash does not match.")
        return credential

    # -- REST -----------------------------------------------------------------------------

    def _rest(self, group: str, handler: Callable[[Credential, Params, int], Any]) -> Any:
        async def endpoint(request: web.Request) -> web.Response:
            await self.slow_reply()
            try:
                credential = self.verify(
                    request.headers.get("Authorization"), unquote(request.query_string)
                )
                now = self.clock()
                if not self.limits.allow(group, credential.account, now):
                    raise UpbitError(429, "too_many_requests", "Too many API requests.")
                body = handler(credential, request.query, now)
                remaining = self.limits.remaining(group, credential.account, now)
                response = web.json_response(body, dumps=lambda o: orjson.dumps(o).decode())
                response.headers["Remaining-Req"] = f"group={group}; min=1800; sec={remaining}"
                return response
            except UpbitError as exc:
                return web.json_response(exc.body(), status=exc.status)

        return endpoint

    def _find(self, credential: Credential, params: Params) -> Order:
        uuid, identifier = params.get("uuid"), params.get("identifier")
        if not uuid and not identifier:
            raise UpbitError(400, "validation_error", "uuid or identifier is required.")
        if uuid:
            order = self.exchange.order(uuid)
        else:
            order = self.exchange.by_client_id(credential.account, identifier or "")
        if order is None or order.account != credential.account:
            raise UpbitError(404, "order_not_found", "Order not found.")
        return order

    def _get_order(self, credential: Credential, params: Params, now: int) -> Any:
        body = rest_order(self._find(credential, params), with_trades=True)
        self.record(credential.account, "rest.order", body)
        return body

    def _cancel_order(self, credential: Credential, params: Params, now: int) -> Any:
        """Register the cancel; the reply is the order as it stands (still `wait`)."""
        order = self._find(credential, params)
        if not order.is_live:
            raise UpbitError(404, "order_not_found", "Order not found.")
        body = rest_order(order)
        self.exchange.request_cancel(order.order_id, now, account=credential.account)
        self.record(credential.account, "rest.order", body)
        return body

    def _open_orders(self, credential: Credential, params: Params, now: int) -> Any:
        states = params.getall("states[]", []) or [params.get("state", "wait")]
        if any(state not in ("wait", "watch") for state in states):
            raise UpbitError(400, "validation_error", "state must be wait or watch.")
        orders = [
            o
            for o in self.exchange.open_orders(credential.account, params.get("market"))
            if ("watch" if o.status is Status.UNTRIGGERED else "wait") in states
        ]
        if params.get("order_by", "desc") == "desc":
            orders.reverse()
        limit, page = _int(params, "limit", 100, 1, 100), _int(params, "page", 1, 1, 10_000)
        body = [rest_order(o) for o in orders[(page - 1) * limit : page * limit]]
        self.record(credential.account, "rest.orders", body)
        return body

    def _closed_orders(self, credential: Credential, params: Params, now: int) -> Any:
        """`GET /v1/orders/closed`: finished orders (done, cancel) created in a window.

        As Upbit documents it: `market`; `state` or `states[]` (done, cancel; default both,
        not together); `start_time` / `end_time` (order creation time, ISO 8601 with a zone
        or epoch ms) at most 7 days apart: only `start_time` -> 7 days after it, only
        `end_time` -> 7 days before it, neither -> the 7 days before now; `limit` default
        100, at most 1000 (orders beyond it are not returned: split the window);
        `order_by` desc (default) or asc. Objects have the REST order shape, no `trades`.
        """
        if params.get("state") is not None and "states[]" in params:
            raise UpbitError(400, "validation_error", "state and states[] cannot be used together.")
        states = params.getall("states[]", []) or (
            [params["state"]] if params.get("state") is not None else ["done", "cancel"]
        )
        if any(state not in ("done", "cancel") for state in states):
            raise UpbitError(400, "validation_error", "state must be done or cancel.")
        start, end = _time(params, "start_time"), _time(params, "end_time")
        if start is None and end is None:
            start, end = now - WEEK_MS, now
        elif end is None:
            end = start + WEEK_MS  # type: ignore[operator]
        elif start is None:
            start = end - WEEK_MS
        if end - start > WEEK_MS:  # type: ignore[operator]
            raise UpbitError(400, "validation_error", "The period must be within 7 days.")
        market = params.get("market")
        orders = [
            o
            for o in self.exchange.orders.values()
            if o.account == credential.account
            and o.status.is_terminal
            and (market is None or o.venue_symbol == market)
            and start <= o.created_at <= end  # type: ignore[operator]
            and rest_state(o) in states
        ]
        orders.sort(key=lambda o: o.created_at, reverse=params.get("order_by", "desc") == "desc")
        limit = _int(params, "limit", 100, 1, 1000)
        body = [rest_order(o) for o in orders[:limit]]
        self.record(credential.account, "rest.orders", body)
        return body

    def _cancel_open(self, credential: Credential, params: Params, now: int) -> Any:
        """`DELETE /v1/orders/open`: register cancels of WAIT orders (not WATCH)."""
        side_label = params.get("cancel_side", "all")
        sides = {"all": None, "ask": Side.SELL, "bid": Side.BUY}
        if side_label not in sides:
            raise UpbitError(400, "validation_error", "cancel_side must be all, ask or bid.")
        pairs, quotes = _csv(params.get("pairs")), _csv(params.get("quote_currencies"))
        excluded = set(_csv(params.get("excluded_pairs")))
        if (pairs and quotes) or len(pairs) > 20 or len(excluded) > 20:
            raise UpbitError(400, "validation_error", "Invalid pairs or quote_currencies.")
        symbols = [
            s
            for s in self.exchange.instruments
            if (not pairs or s in pairs)
            and (not quotes or s.split("-")[0] in quotes)
            and s not in excluded
        ]
        targets, _ = self.exchange.cancel_all(
            credential.account, now, symbols, sides[side_label], include_untriggered=False,
            deferred=True, limit=_int(params, "count", 20, 1, 300),
            newest_first=params.get("order_by", "desc") == "desc",
        )  # fmt: skip
        return _batch_result(targets, [])

    def _cancel_uuids(self, credential: Credential, params: Params, now: int) -> Any:
        uuids, identifiers = params.getall("uuids[]", []), params.getall("identifiers[]", [])
        if bool(uuids) == bool(identifiers) or len(uuids) + len(identifiers) > 20:
            raise UpbitError(400, "validation_error", "Send up to 20 uuids or identifiers.")
        done: list[Order] = []
        failed: list[dict[str, Any]] = []
        for value in uuids or identifiers:
            key = "uuid" if uuids else "identifier"
            order = None
            try:
                order = self._find(credential, MultiDictProxy(MultiDict([(key, value)])))
                if not order.is_live:
                    raise UpbitError(404, "order_not_found", "Order not found.")
                self.exchange.request_cancel(order.order_id, now, account=credential.account)
                done.append(order)
            except UpbitError as exc:
                failed.append({key: value, "market": order and order.venue_symbol, **exc.body()})
        return _batch_result(done, failed)

    # -- WebSocket ------------------------------------------------------------------------

    async def _websocket(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        channel = self.open_channel(ws, self.binary_frames)
        credential: Credential | None = None
        try:
            header = request.headers.get("Authorization")
            if header is not None:
                try:
                    credential = self.verify(header, "")
                except UpbitError as exc:
                    channel.send(error_frame("INVALID_AUTH", exc.message), "reply")
                    return ws
            async for message in ws:
                if message.type in (WSMsgType.TEXT, WSMsgType.BINARY):
                    data = message.data
                    text = data.decode(errors="replace") if isinstance(data, bytes) else data
                    self._on_request(channel, credential, text)
                elif message.type is WSMsgType.ERROR:
                    break
        finally:
            self._subscriptions.pop(channel, None)
            self.release(channel)
            await channel.close()
        return ws

    def _on_request(
        self, channel: OutboundChannel, credential: Credential | None, text: str
    ) -> None:
        if text.strip() == "PING":
            channel.send('{"status":"UP"}', "reply")
            return
        try:
            subscription, snapshot = self._parse_request(text, credential)
        except UpbitError as exc:
            channel.send(error_frame(exc.name, exc.message), "reply")
            return
        self._subscriptions[channel] = subscription
        if snapshot:
            now = self.clock()
            for order in self.exchange.open_orders(subscription.account):
                if subscription.wants(order.venue_symbol):
                    self._send(channel, subscription, snapshot_frame(order, now))

    def _parse_request(self, text: str, credential: Credential | None) -> tuple[Subscription, bool]:
        try:
            request = orjson.loads(text)
        except orjson.JSONDecodeError:
            raise UpbitError(400, "WRONG_FORMAT", "Request is not valid JSON.") from None
        if not isinstance(request, list) or not all(isinstance(i, dict) for i in request):
            raise UpbitError(400, "WRONG_FORMAT", "Request must be a JSON array of objects.")
        if not any("ticket" in item for item in request):
            raise UpbitError(400, "NO_TICKET", "ticket is required.")
        types = [item for item in request if "type" in item]
        if not types:
            raise UpbitError(400, "NO_TYPE", "type is required.")
        fmt = next((item["format"] for item in request if "format" in item), "DEFAULT")
        if fmt not in FORMATS:
            raise UpbitError(400, "WRONG_FORMAT", f"Unknown format {fmt!r}.")
        wanted = next((t for t in types if t["type"] == "myOrder"), types[0])
        if wanted["type"] not in PRIVATE_TYPES:
            raise UpbitError(400, "INVALID_PARAM", f"Unknown type {wanted['type']!r}.")
        codes = wanted.get("codes")
        if codes is not None and (
            not isinstance(codes, list)
            or not all(isinstance(c, str) and c.isupper() for c in codes)
        ):
            raise UpbitError(400, "INVALID_PARAM", "codes must be upper-case market codes.")
        if credential is None:
            raise UpbitError(401, "INVALID_AUTH", "Authorization is required for myOrder.")
        only_snapshot = wanted.get("is_only_snapshot") is True
        snapshot = only_snapshot or wanted.get("is_only_realtime") is False
        subscription = Subscription(
            credential.account,
            frozenset(codes) if codes else None,
            fmt,
            realtime=wanted["type"] == "myOrder" and not only_snapshot,
        )
        return subscription, snapshot and wanted["type"] == "myOrder"

    def _send(
        self, channel: OutboundChannel, subscription: Subscription, frame: dict[str, Any]
    ) -> None:
        body: Any = simple(frame) if subscription.format.startswith("SIMPLE") else frame
        if subscription.format.endswith("_LIST"):
            body = [body]
        channel.send(orjson.dumps(body).decode())
        self.record(subscription.account, "myOrder", body)

    def on_events(self, events: Sequence[EngineEvent]) -> None:
        if not self._subscriptions:
            return
        for event in events:
            frames: list[dict[str, Any]] | None = None
            for channel, subscription in list(self._subscriptions.items()):
                if (
                    subscription.account != event.account
                    or not subscription.realtime
                    or (
                        subscription.codes is not None
                        and event.order.venue_symbol not in subscription.codes
                    )
                ):
                    continue
                if frames is None:
                    frames = my_order_frames(event)
                for frame in frames:
                    self._send(channel, subscription, frame)


def _time(params: Params, name: str) -> int | None:
    """A time parameter as epoch ms: digits (ms) or ISO 8601 with a time zone."""
    raw = params.get(name)
    if raw is None or raw == "":
        return None
    if raw.isdigit():
        return int(raw)
    try:
        parsed = datetime.fromisoformat(raw)
    except ValueError:
        parsed = None
    if parsed is None or parsed.tzinfo is None:
        raise UpbitError(400, "validation_error", f"{name} must be ISO 8601 with a zone or ms.")
    return int(parsed.timestamp() * 1000)


def _csv(value: str | None) -> list[str]:
    return [item for item in (value or "").split(",") if item]


def _int(params: Params, name: str, default: int, low: int, high: int) -> int:
    raw = params.get(name)
    try:
        value = default if raw is None else int(raw)
    except ValueError:
        raise UpbitError(400, "validation_error", f"{name} must be an integer.") from None
    if not low <= value <= high:
        raise UpbitError(400, "validation_error", f"{name} must be within {low}..{high}.")
    return value


def _batch_result(done: list[Order], failed: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "success": {
            "count": len(done),
            "orders": [
                {"uuid": o.order_id, "market": o.venue_symbol, "identifier": o.client_order_id}
                for o in done
            ],
        },
        "failed": {"count": len(failed), "orders": failed},
    }
