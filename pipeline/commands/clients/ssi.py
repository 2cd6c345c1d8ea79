"""SSI FastConnect v2 cancels (FACTS.md §4.1-4.2, §4.4, seed 001): `CancelOrder`, one order
per request, signed with the account's RSA key over the exact body. HTTP 200 only
acknowledges: `WC`, then `CL` follow on the stream, so the canonical state confirms. A refusal
(`orderError`, e.g. ORD011 "Invalid Order Transition Error!", ORD013) never reaches the
canonical state, so the client reads it itself: with `ws_url` set it keeps one stream
connection per account (opened before the first cancel; on a reconnect it replays from the
last notifyID seen) and matches each `orderError`'s uniqueID to the requestID of a cancel in
flight; `Ack.refusals` hands the executor one future per cancel. Without `ws_url` a refusal
shows as a timeout. (Chosen over reading raw.ssi in the cancel worker: no dependency on the
ingestor's lag or liveness, and a requestID is only meaningful to the client that sent it.)
An access token is fetched on first use and again after a 401."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import time
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

import aiohttp
import orjson

from pipeline.commands.clients.base import (
    Ack,
    BusinessError,
    HttpClientBase,
    VenueError,
)
from pipeline.domain.orders import OrderState
from pipeline.venues.ssi import auth as ssi_auth
from pipeline.venues.ssi import errors as ssi_errors
from pipeline.venues.ssi.client import access_token

log = logging.getLogger(__name__)

_REQUEST_IDS = itertools.count(int(time.time()) % 10_000_000)
STREAM_CONNECT_S = 5.0  # how long a cancel waits for the stream before going without it
STREAM_RETRY_S = 1.0


class SsiCancelClient(HttpClientBase):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._token: str | None = None
        self._lock = asyncio.Lock()
        self._refusals: dict[str, asyncio.Future[VenueError]] = {}  # requestID -> refusal
        self._stream: asyncio.Task[None] | None = None
        self._stream_up = asyncio.Event()
        self._notify_id = -1  # the last notifyID seen; -1: only new messages

    # -- the stream: orderError refusals -------------------------------------------------

    async def _listening(self) -> bool:
        """Start the stream reader once; True when it is connected."""
        if not self.account.ws_url:
            return False
        if self._stream is None or self._stream.done():
            self._stream = asyncio.get_running_loop().create_task(self._listen())
        try:
            await asyncio.wait_for(self._stream_up.wait(), STREAM_CONNECT_S)
        except TimeoutError:
            log.warning(
                "ssi/%s: stream not connected; refusals show as timeouts", self.account.account
            )
            return False
        return True

    async def _listen(self) -> None:
        while True:
            try:
                token = await self._login()
                url = f"{self.account.ws_url}?{urlencode({'notify_id': self._notify_id})}"
                async with self.http.ws_connect(
                    url, headers={"Authorization": f"Bearer {token}"}, heartbeat=30
                ) as ws:
                    self._stream_up.set()
                    async for message in ws:
                        if message.type is aiohttp.WSMsgType.TEXT:
                            self.on_stream(message.data)
                        elif message.type is aiohttp.WSMsgType.ERROR:
                            break
            except aiohttp.WSServerHandshakeError as exc:
                if exc.status == 401:
                    self._token = None
                log.warning("ssi/%s: stream refused (HTTP %s)", self.account.account, exc.status)
            except (aiohttp.ClientError, VenueError, OSError, TimeoutError, ValueError) as exc:
                log.warning("ssi/%s: stream failed: %s", self.account.account, exc)
            self._stream_up.clear()
            self._notify_id = max(self._notify_id, 0)  # replay what the gap missed
            await asyncio.sleep(STREAM_RETRY_S)

    def on_stream(self, text: str | bytes) -> None:
        """One stream message: settle the cancel whose requestID an `orderError` names."""
        try:
            message = orjson.loads(text)
            data = message.get("data")
            if isinstance(data, str | bytes):
                data = orjson.loads(data)
        except (orjson.JSONDecodeError, AttributeError):
            return
        if not isinstance(data, dict):
            return
        notify = data.get("notifyID")
        if isinstance(notify, int) and not isinstance(notify, bool):
            self._notify_id = max(self._notify_id, notify)
        if message.get("type") != "orderError":
            return
        for key in ("uniqueID", "requestID"):
            refusal = self._refusals.get(str(data.get(key) or ""))
            if refusal is not None and not refusal.done():
                code = str(data.get("errorCode") or "") or None
                refusal.set_result(BusinessError(code, str(data.get("message") or "orderError")))
                return

    def _expect_refusal(self, request_id: str) -> asyncio.Future[VenueError]:
        future: asyncio.Future[VenueError] = asyncio.get_running_loop().create_future()
        self._refusals[request_id] = future
        future.add_done_callback(lambda _f: self._refusals.pop(request_id, None))
        return future

    async def _login(self) -> str:
        async with self._lock:
            if self._token is None:
                creds = self.account.credentials
                async with self.transport():
                    self._token = await access_token(
                        self.http, self.account.base_url, creds.api_key, creds.secret_key,
                        self._secret("pin") or "", self.timeout,
                    )  # fmt: skip
            return self._token

    def _secret(self, name: str) -> str | None:
        """`private_key` / `pin`: the account's override, else the venue credentials'."""
        value = getattr(self.account, name, None) or getattr(self.account.credentials, name, None)
        return value if isinstance(value, str) and value else None

    async def cancel_order(self, state: OrderState) -> Ack:
        private_key = self._secret("private_key")
        if private_key is None:
            raise BusinessError("config", "no RSA private key configured for this SSI account")
        listening = await self._listening()
        for attempt in (1, 2):
            token = await self._login()
            request_id = str(next(_REQUEST_IDS) % 100_000_000)
            refusal = self._expect_refusal(request_id) if listening else None
            try:
                ack = await self._send_cancel(state, private_key, token, request_id, attempt)
            except BaseException:
                if refusal is not None:
                    refusal.cancel()
                raise
            if ack is None:  # 401: a new token, a new request id
                if refusal is not None:
                    refusal.cancel()
                continue
            if refusal is not None:
                ack.refusals[state.order_id] = refusal
            return ack
        raise BusinessError("401", "SSI refused the access token")

    async def _send_cancel(
        self, state: OrderState, private_key: str, token: str, request_id: str, attempt: int
    ) -> Ack | None:
        raw = orjson.dumps(
            {
                "account": self.account.account,
                "requestID": request_id,
                "orderID": state.order_id,
                "instrumentID": state.venue_symbol,
                "marketID": "VNFE" if state.venue_symbol.startswith("VN30F") else "VN",
                "buySell": "B" if state.side.value == "buy" else "S",
                "code": "",
                "deviceId": "",
                "userAgent": "trading-pipeline",
            }
        )
        headers = {
            "Authorization": f"Bearer {token}",
            "Content-Type": "application/json",
            "X-Signature": ssi_auth.signature(private_key, raw),
        }
        status, body = await self.request_json(
            "POST",
            f"{self.account.base_url}/api/v2/Trading/CancelOrder",
            data=raw,
            headers=headers,
        )
        if status == 401 and attempt == 1:
            self._token = None
            return None
        if not ssi_errors.failed(status, body):
            return Ack(order_ids=[state.order_id])
        raise ssi_errors.classify(status, body)

    async def cancel_scope(self, venue_symbol: str | None, states: list[OrderState]) -> Ack:
        raise BusinessError("unsupported", "ssi cancels one order at a time")

    async def amend(self, state: OrderState, new_qty: Decimal) -> Ack:
        raise BusinessError("unsupported", "ssi amends are not used by cancel commands")

    async def close(self) -> None:
        if self._stream is not None:
            self._stream.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._stream
        for refusal in list(self._refusals.values()):
            refusal.cancel()
        await super().close()
