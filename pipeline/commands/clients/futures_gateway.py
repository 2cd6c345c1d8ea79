"""Futures gateway cancels (seed 002): `POST /trade/api/v2/futures/cancel_all` for the
exchange (the account) or one symbol, TP/SL included, 10 requests per 60 s; `DELETE /order`
for one order. Both only raise the cancel (CANCELLATION_RAISED -> CANCELLED later)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import orjson

from pipeline.commands.clients.base import Ack, HttpClientBase
from pipeline.domain.orders import OrderState
from pipeline.venues.futures_gateway import auth as gateway_auth
from pipeline.venues.futures_gateway import errors as gateway_errors

PREFIX = "/trade/api/v2/futures"


class GatewayCancelClient(HttpClientBase):
    async def call(
        self,
        method: str,
        path: str,
        params: dict[str, str] | None = None,
        body: dict[str, Any] | None = None,
    ) -> Any:
        exchange = {"exchange": self.account.account}
        if body is None:
            query, raw = {**exchange, **(params or {})}, b""
        else:
            query, raw = dict(params or {}), orjson.dumps({**exchange, **body})
        full = PREFIX + path
        now = self.clock() if self.clock else None
        headers = gateway_auth.headers(self.account.credentials, method, full, query, raw, now)
        if raw:
            headers["Content-Type"] = "application/json"
        url = self.account.base_url + full + ("?" + urlencode(query) if query else "")
        status, reply = await self.request_json(method, url, data=raw or None, headers=headers)
        if status == 200 and isinstance(reply, dict):
            return reply.get("data")
        raise gateway_errors.classify(status, reply)

    async def cancel_order(self, state: OrderState) -> Ack:
        await self.call("DELETE", "/order", params={"order_id": state.order_id})
        return Ack(order_ids=[state.order_id])

    async def cancel_scope(self, venue_symbol: str | None, states: list[OrderState]) -> Ack:
        body = {} if venue_symbol is None else {"symbol": venue_symbol}
        data = await self.call("POST", "/cancel_all", body=body)
        return Ack(order_ids=[str(i) for i in (data or {}).get("orders_ids", [])])
