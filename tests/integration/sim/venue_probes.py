"""Minimal clients of the simulated protocols, for tests and smoke checks.

These are not the pipeline's ingestors (pipeline/ingest); they exist so that tests can drive
the simulator exactly as a venue client would (real signatures, real frames) and keep what
they received, channel by channel, the way an ingestor files raw envelopes.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
import uuid
from typing import Any
from urllib.parse import urlencode

import aiohttp
import orjson

from pipeline.sim.venue import Credential
from pipeline.venues.binance import auth as binance_auth
from pipeline.venues.upbit import auth as upbit_auth

Received = tuple[str, Any, int]  # (raw channel, payload, received at: epoch ms)


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


class UpbitProbe:
    """Signed REST calls and a `myOrder` subscription against the simulated Upbit."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        endpoints: dict[str, str],
        credential: Credential,
        algorithm: str = "HS256",
    ) -> None:
        self.session = session
        self.rest = endpoints["rest"]
        self.ws_url = endpoints["ws"]
        self.credential = credential
        self.algorithm = algorithm
        self.received: list[Received] = []

    def authorization(self, params: dict[str, Any] | None = None) -> str:
        query = upbit_auth.query_string(params) if params else None
        token = upbit_auth.token(
            self.credential.key, self.credential.secret, str(uuid.uuid4()), query, self.algorithm
        )
        return f"Bearer {token}"

    async def request(
        self, method: str, path: str, params: dict[str, Any] | None = None
    ) -> tuple[int, Any]:
        """(HTTP status, decoded body); REST order objects are kept in `received`."""
        headers = {"Authorization": self.authorization(params)}
        query = ""
        if params:
            pairs = [
                (k if k.endswith("[]") else f"{k}[]", item) if isinstance(v, list) else (k, v)
                for k, v in params.items()
                for item in (v if isinstance(v, list) else [v])
            ]
            query = "?" + urlencode(pairs)
        async with self.session.request(method, self.rest + path + query, headers=headers) as r:
            body = await r.json(loads=orjson.loads)
            if r.status == 200 and path == "/v1/order":
                self.received.append(("rest.order", body, _now_ms()))
            elif r.status == 200 and path == "/v1/orders/open" and method == "GET":
                self.received.append(("rest.orders", body, _now_ms()))
            return r.status, body

    async def subscribe(
        self,
        codes: list[str] | None = None,
        fmt: str = "DEFAULT",
        snapshot: bool = False,
        authorization: str | None = None,
    ) -> MyOrderStream:
        headers = {"Authorization": authorization or self.authorization()}
        ws = await self.session.ws_connect(self.ws_url, headers=headers)
        request: list[dict[str, Any]] = [{"ticket": f"probe-{uuid.uuid4()}"}]
        kind: dict[str, Any] = {"type": "myOrder"}
        if codes is not None:
            kind["codes"] = codes
        if snapshot:
            kind["is_only_realtime"] = False
        request += [kind, {"format": fmt}]
        stream = MyOrderStream(ws, self.received)
        await ws.send_str(orjson.dumps(request).decode())
        await asyncio.sleep(0.05)  # Upbit does not acknowledge a subscription
        return stream

    async def drain(self, stream: MyOrderStream, idle: float = 0.3) -> list[Any]:
        return await stream.drain(idle)


class MyOrderStream:
    """One myOrder connection, read by a background task so that no frame is lost to a
    receive timeout; `drain()` waits for quiet and returns what arrived since last time."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse, sink: list[Received]) -> None:
        self.ws = ws
        self.frames: list[Any] = []
        self.message_types: list[aiohttp.WSMsgType] = []
        self._sink = sink
        self._drained = 0
        self._task = asyncio.get_running_loop().create_task(self._read())

    async def _read(self) -> None:
        async for message in self.ws:
            if message.type not in (aiohttp.WSMsgType.TEXT, aiohttp.WSMsgType.BINARY):
                continue
            data = message.data
            try:
                payload = orjson.loads(data)
            except orjson.JSONDecodeError:
                payload = data if isinstance(data, str) else data.decode(errors="replace")
            self.frames.append(payload)
            self.message_types.append(message.type)
            self._sink.append(("myOrder", payload, _now_ms()))

    async def drain(self, idle: float = 0.3) -> list[Any]:
        """Wait until no frame has arrived for `idle` seconds; the frames new since last call."""
        seen = -1
        while seen != len(self.frames) and not self._task.done():
            seen = len(self.frames)
            await asyncio.sleep(idle)
        new, self._drained = self.frames[self._drained :], len(self.frames)
        return new

    @property
    def closed(self) -> bool:
        return self.ws.closed

    async def close(self) -> None:
        await self.ws.close()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task


class BinanceProbe:
    """A WebSocket API session against the simulated Binance: signed calls, user stream."""

    def __init__(
        self, session: aiohttp.ClientSession, endpoints: dict[str, str], credential: Credential
    ) -> None:
        self.session = session
        self.url = endpoints["ws_api"]
        self.credential = credential
        self.received: list[Received] = []
        self.events: list[Any] = []
        self._ids = itertools.count(1)
        self._pending: dict[Any, asyncio.Future[Any]] = {}
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._reader: asyncio.Task[None] | None = None

    async def connect(self) -> None:
        self._ws = await self.session.ws_connect(self.url)
        self._reader = asyncio.get_running_loop().create_task(self._read())

    async def close(self) -> None:
        if self._ws is not None:
            await self._ws.close()
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader

    @property
    def closed(self) -> bool:
        return self._ws is None or self._ws.closed

    async def _read(self) -> None:
        assert self._ws is not None
        async for message in self._ws:
            if message.type is not aiohttp.WSMsgType.TEXT:
                continue
            try:
                payload = orjson.loads(message.data)
            except orjson.JSONDecodeError:
                self.events.append(message.data)
                continue
            if isinstance(payload, dict) and "id" in payload and "status" in payload:
                future = self._pending.pop(payload["id"], None)
                if future is not None and not future.done():
                    future.set_result(payload)
            else:
                self.events.append(payload)
                self.received.append(("userData", payload, _now_ms()))

    def sign(self, params: dict[str, Any], timestamp: int | None = None) -> dict[str, Any]:
        signed = dict(params)
        signed["apiKey"] = self.credential.key
        signed["timestamp"] = timestamp if timestamp is not None else _now_ms()
        signed["signature"] = binance_auth.signature(self.credential.secret, signed)
        return signed

    async def call(
        self, method: str, params: dict[str, Any] | None = None, signed: bool = True
    ) -> Any:
        """Send one request and wait for its response (kept in `received` as wsapi.<method>)."""
        assert self._ws is not None
        request_id = f"req-{next(self._ids)}"
        body = self.sign(params or {}) if signed else dict(params or {})
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending[request_id] = future
        await self._ws.send_str(
            orjson.dumps({"id": request_id, "method": method, "params": body}).decode()
        )
        response = await asyncio.wait_for(future, timeout=5.0)
        if method.startswith(("order.", "openOrders.")):
            self.received.append((f"wsapi.{method}", response, _now_ms()))
        return response

    async def send_raw(self, text: str) -> Any:
        """Send `text` as is and return the next response (which has no usable id)."""
        assert self._ws is not None
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending[None] = future
        await self._ws.send_str(text)
        return await asyncio.wait_for(future, timeout=5.0)

    async def subscribe(self) -> int:
        response = await self.call("userDataStream.subscribe.signature")
        return int(response["result"]["subscriptionId"])
