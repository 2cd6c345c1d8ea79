"""Minimal signed clients of the simulated Coinone, SSI and futures gateway, for tests.

Each keeps what it received per raw channel, the way an ingestor files envelopes.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

import aiohttp
import orjson

from pipeline.sim.ssi import SsiCredential
from pipeline.sim.venue import Credential
from pipeline.venues.coinone import auth as coinone_auth
from pipeline.venues.credentials import Credentials
from pipeline.venues.futures_gateway import auth as gateway_auth
from pipeline.venues.ssi import auth as ssi_auth

Received = tuple[str, Any]  # (raw channel, payload)


class CoinoneClient:
    def __init__(
        self, http: aiohttp.ClientSession, endpoints: dict[str, str], credential: Credential
    ) -> None:
        self.http, self.rest, self.ws_url = http, endpoints["rest"], endpoints["ws"]
        self.credential = credential
        self.received: list[Received] = []

    def signed(self, params: dict[str, Any], secret: str | None = None) -> tuple[bytes, dict]:
        body = {"access_token": self.credential.key, "nonce": str(uuid.uuid4()), **params}
        raw = orjson.dumps(body)
        return raw, coinone_auth.headers(secret or self.credential.secret, raw)

    async def post(self, path: str, params: dict[str, Any], channel: str | None = None,
                   **kw: Any) -> tuple[int, Any]:  # fmt: skip
        raw, headers = self.signed(params, **kw)
        async with self.http.post(self.rest + path, data=raw, headers=headers) as response:
            body = await response.json(loads=orjson.loads)
        if channel is not None and body.get("result") == "success":
            self.received.append((channel, body))
        return response.status, body

    async def myorder(
        self, topic: list[dict[str, str]] | None = None, fmt: str | None = "SHORT"
    ) -> Stream:
        """Subscribe to MYORDER; `fmt` None sends no format (the venue's DEFAULT long keys)."""
        body = orjson.dumps({"access_token": self.credential.key, "nonce": str(uuid.uuid4()),
                             "timestamp": 0})  # fmt: skip
        headers = coinone_auth.headers(self.credential.secret, body)
        ws = await self.http.ws_connect(self.ws_url, headers=headers)
        stream = Stream(ws, self.received, lambda p: "MYORDER")
        request: dict[str, Any] = {"request_type": "SUBSCRIBE", "channel": "MYORDER"}
        if topic is not None:
            request["topic"] = topic
        if fmt is not None:
            request["format"] = fmt
        await ws.send_str(orjson.dumps(request).decode())
        return stream


class SsiClient:
    def __init__(
        self, http: aiohttp.ClientSession, endpoints: dict[str, str], credential: Credential
    ) -> None:
        assert isinstance(credential, SsiCredential)
        self.http, self.rest, self.stream_url = http, endpoints["rest"], endpoints["stream"]
        self.credential = credential
        self.token = ""
        self.received: list[Received] = []
        self._request = 10_000_000

    async def login(self, **overrides: Any) -> tuple[int, Any]:
        body = {"consumerID": self.credential.key, "consumerSecret": self.credential.secret,
                "twoFactorType": 0, "code": "123456", "isSave": True, **overrides}  # fmt: skip
        async with self.http.post(self.rest + "/api/v2/Trading/AccessToken", json=body) as r:
            reply = await r.json(loads=orjson.loads)
        if reply.get("status") == 200:
            self.token = reply["data"]["accessToken"]
        return r.status, reply

    def request_id(self) -> str:
        self._request += 1
        return str(self._request)

    async def write(self, name: str, body: dict[str, Any], signature: str | None = None
                    ) -> tuple[int, Any]:  # fmt: skip
        raw = orjson.dumps({"account": self.credential.account, **body})
        signature = signature or ssi_auth.signature(self.credential.private_key, raw)
        headers = {"Authorization": f"Bearer {self.token}", "X-Signature": signature}
        async with self.http.post(f"{self.rest}/api/v2/Trading/{name}", data=raw,
                                  headers=headers) as r:  # fmt: skip
            return r.status, await r.json(loads=orjson.loads)

    async def book(self, audit: bool = False) -> Any:
        name = "auditOrderBook" if audit else "orderBook"
        url = f"{self.rest}/api/v2/Trading/{name}?account={self.credential.account}"
        async with self.http.get(url, headers={"Authorization": f"Bearer {self.token}"}) as r:
            body = await r.json(loads=orjson.loads)
        self.received.append((f"rest.{name}", body))
        return body

    async def stream(self, notify_id: int = -1) -> Stream:
        url = f"{self.stream_url}?{urlencode({'access_token': self.token, 'notify_id': notify_id})}"
        ws = await self.http.ws_connect(url)
        return Stream(ws, self.received, lambda p: "stream")


class GatewayClient:
    prefix = "/trade/api/v2/futures"

    def __init__(
        self,
        http: aiohttp.ClientSession,
        endpoints: dict[str, str],
        credential: Credential,
        clock: Callable[[], int],
    ) -> None:
        self.http, self.rest, self.credential, self.clock = (
            http,
            endpoints["rest"],
            credential,
            clock,
        )
        self.received: list[Received] = []

    async def call(self, method: str, path: str, params: dict[str, str] | None = None,
                   body: dict[str, Any] | None = None, channel: str | None = None,
                   secret: str | None = None) -> tuple[int, Any]:  # fmt: skip
        exchange = {"exchange": self.credential.account}
        if body is None:
            params, raw = {**exchange, **(params or {})}, b""
        else:
            params, raw = dict(params or {}), orjson.dumps({**exchange, **body})
        full = self.prefix + path
        keys = Credentials(self.credential.key, secret or self.credential.secret)
        headers = gateway_auth.headers(keys, method, full, params, raw, self.clock())
        url = self.rest + full + ("?" + urlencode(params) if params else "")
        async with self.http.request(method, url, data=raw or None, headers=headers) as r:
            reply = await r.json(loads=orjson.loads)
        if channel is not None and r.status == 200:
            self.received.append((channel, reply))
        return r.status, reply


class Stream:
    """One WebSocket read by a background task; `drain()` returns what arrived since last."""

    def __init__(
        self, ws: aiohttp.ClientWebSocketResponse, sink: list[Received], channel: Callable
    ) -> None:
        self.ws = ws
        self.frames: list[Any] = []
        self._sink, self._channel, self._drained = sink, channel, 0
        self._task = asyncio.get_running_loop().create_task(self._read())

    async def _read(self) -> None:
        async for message in self.ws:
            if message.type is aiohttp.WSMsgType.TEXT:
                payload = orjson.loads(message.data)
                self.frames.append(payload)
                self._sink.append((self._channel(payload), payload))

    async def drain(self, idle: float = 0.2) -> list[Any]:
        seen = -1
        while seen != len(self.frames) and not self._task.done():
            seen = len(self.frames)
            await asyncio.sleep(idle)
        new, self._drained = self.frames[self._drained :], len(self.frames)
        return new

    async def close(self) -> None:
        await self.ws.close()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
