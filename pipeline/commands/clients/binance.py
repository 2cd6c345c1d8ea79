"""Binance Spot cancels over the WebSocket API (FACTS.md §1.4-1.6, seed 004): `order.cancel`,
`openOrders.cancelAll` (one symbol), `order.amend.keepPriority` (reduce, keeping priority).
Signed per request (HMAC-SHA256 over the sorted parameters); one connection per account,
opened on first use and re-opened after a failure."""

from __future__ import annotations

import asyncio
import contextlib
from decimal import Decimal
from typing import Any

import aiohttp
import orjson

from pipeline.commands.clients.base import (
    Ack,
    HttpClientBase,
    TransientError,
)
from pipeline.domain.orders import OrderState
from pipeline.venues.binance import errors as binance_errors
from pipeline.venues.binance.client import WsApiClient, is_reply


class BinanceCancelClient(HttpClientBase):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._api: WsApiClient | None = None
        self._reader: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()

    async def _connect(self) -> WsApiClient:
        async with self._lock:
            if self._api is None or self._api.ws.closed:
                url = self.account.ws_url or self.account.base_url
                async with self.transport():
                    ws = await self.http.ws_connect(
                        url, timeout=aiohttp.ClientWSTimeout(ws_close=self.timeout.total or 10)
                    )
                self._api = WsApiClient(ws, self.account.credentials, "cx", self.clock)
                self._reader = asyncio.get_running_loop().create_task(self._read(self._api))
            return self._api

    async def _read(self, api: WsApiClient) -> None:
        try:
            async for message in api.ws:
                if message.type is not aiohttp.WSMsgType.TEXT:
                    continue
                payload = orjson.loads(message.data)
                if is_reply(payload):
                    api.resolve(payload)
        finally:
            api.fail_all(TransientError("disconnected", "binance: connection lost"))

    async def call(self, method: str, params: dict[str, Any]) -> Any:
        api = await self._connect()
        async with self.transport():
            response = await api.request(method, params, timeout=self.timeout.total or 10)
        if response.get("status") == 200:
            return response.get("result")
        raise binance_errors.classify(response)

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
        if self._api is not None:
            await self._api.ws.close()
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
        await super().close()
