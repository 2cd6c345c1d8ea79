"""Binance Spot cancels over the WebSocket API (FACTS.md §1.4-1.6, seed 004): `order.cancel`,
`openOrders.cancelAll` (one symbol), `order.amend.keepPriority` (reduce, keeping priority).
Signed per request (HMAC-SHA256 over the sorted parameters); one connection per account,
opened on first use and re-opened after a failure."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from decimal import Decimal
from typing import Any

import aiohttp
import orjson

from pipeline.commands.clients.base import (
    Ack,
    BusinessError,
    HttpClientBase,
    TransientError,
)
from pipeline.domain.orders import OrderState
from pipeline.ingest.auth import binance_signature

TRANSIENT_CODES = {-1003, -1007, -1015, -1021}  # throttled, timeout, too many, clock


class BinanceCancelClient(HttpClientBase):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._reader: asyncio.Task[None] | None = None
        self._pending: dict[str, asyncio.Future[Any]] = {}
        self._ids = itertools.count(1)
        self._lock = asyncio.Lock()

    async def _connect(self) -> aiohttp.ClientWebSocketResponse:
        async with self._lock:
            if self._ws is None or self._ws.closed:
                url = self.account.ws_url or self.account.base_url
                async with self.transport():
                    self._ws = await self.http.ws_connect(
                        url, timeout=aiohttp.ClientWSTimeout(ws_close=self.timeout.total or 10)
                    )
                self._reader = asyncio.get_running_loop().create_task(self._read(self._ws))
            return self._ws

    async def _read(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        try:
            async for message in ws:
                if message.type is not aiohttp.WSMsgType.TEXT:
                    continue
                payload = orjson.loads(message.data)
                future = self._pending.pop(str(payload.get("id")), None)
                if future is not None and not future.done():
                    future.set_result(payload)
        finally:
            for future in self._pending.values():
                if not future.done():
                    future.set_exception(TransientError("disconnected", "binance: connection lost"))
            self._pending.clear()

    async def call(self, method: str, params: dict[str, Any]) -> Any:
        ws = await self._connect()
        signed = dict(params)
        signed["apiKey"] = self.account.credentials.api_key
        signed["timestamp"] = self.clock() if self.clock else time.time_ns() // 1_000_000
        signed["signature"] = binance_signature(self.account.credentials.secret_key, signed)
        request_id = f"cx-{next(self._ids)}"
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending[request_id] = future
        async with self.transport():
            await ws.send_str(
                orjson.dumps({"id": request_id, "method": method, "params": signed}).decode()
            )
            response = await asyncio.wait_for(future, self.timeout.total or 10)
        if response.get("status") == 200:
            return response.get("result")
        error = response.get("error") or {}
        code, message = error.get("code"), str(error.get("msg", ""))
        status = int(response.get("status", 400))
        if status in (429, 418) or status >= 500 or code in TRANSIENT_CODES:
            retry = (
                (error.get("data") or {}).get("retryAfter")
                if isinstance(error.get("data"), dict)
                else None
            )
            wait = None if retry is None else max(0, int(retry) - int(time.time() * 1000))
            raise TransientError(str(code), message, wait)
        raise BusinessError(str(code), message)

    async def cancel_order(self, state: OrderState) -> Ack:
        result = await self.call(
            "order.cancel", {"symbol": state.venue_symbol, "orderId": int(state.order_id)}
        )
        executed = Decimal(str(result.get("executedQty", "0")))
        orig = Decimal(str(result.get("origQty", state.qty)))
        return Ack(order_ids=[str(result.get("orderId"))], canceled_qty=orig - executed)

    async def cancel_scope(self, venue_symbol: str | None, states: list[OrderState]) -> Ack:
        assert venue_symbol is not None, "openOrders.cancelAll needs a symbol"
        result = await self.call("openOrders.cancelAll", {"symbol": venue_symbol})
        ids: list[str] = []
        for item in result or []:
            reports = item.get("orderReports") if isinstance(item, dict) else None
            for report in reports or [item]:
                ids.append(str(report.get("orderId")))
        return Ack(order_ids=ids)

    async def amend(self, state: OrderState, new_qty: Decimal) -> Ack:
        result = await self.call(
            "order.amend.keepPriority",
            {
                "symbol": state.venue_symbol,
                "orderId": int(state.order_id),
                "newQty": format(new_qty, "f"),
            },
        )
        amended = result.get("amendedOrder", {})
        qty = Decimal(str(amended.get("qty", new_qty)))
        executed = Decimal(str(amended.get("executedQty", "0")))
        return Ack(
            order_ids=[str(amended.get("orderId", state.order_id))],
            canceled_qty=state.qty - qty,
            remaining_qty=qty - executed,
        )

    async def close(self) -> None:
        if self._ws is not None:
            await self._ws.close()
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
        await super().close()
