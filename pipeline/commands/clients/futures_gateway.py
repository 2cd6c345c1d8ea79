"""Futures gateway cancels (seed 002): `POST /trade/api/v2/futures/cancel_all` for the
exchange (the account) or one symbol, TP/SL included, 10 requests per 60 s; `DELETE /order`
for one order. Both only raise the cancel (CANCELLATION_RAISED -> CANCELLED later)."""

from __future__ import annotations

from typing import Any

from pipeline.commands.clients.base import Ack, HttpClientBase
from pipeline.domain.orders import OrderState
from pipeline.venues.futures_gateway import client as gateway_client


class GatewayCancelClient(HttpClientBase):
    async def call(
        self,
        method: str,
        path: str,
        params: dict[str, str] | None = None,
        body: dict[str, Any] | None = None,
    ) -> Any:
        """The `data` of a 200 reply; the classified `VenueError` otherwise. The exchange
        goes in the query, or in the body when there is one."""
        exchange = {"exchange": self.account.account}
        if body is None:
            params = {**exchange, **(params or {})}
        else:
            body = {**exchange, **body}
        async with self.transport():
            reply = await gateway_client.request(
                self.http, self.account.credentials, method, self.account.base_url, path,
                params, body, self.clock() if self.clock else None, self.timeout,
            )  # fmt: skip
        payload = reply.json()
        if reply.ok and isinstance(payload, dict):
            return payload.get("data")
        raise reply.error()

    async def cancel_order(self, state: OrderState) -> Ack:
        await self.call("DELETE", "/order", params={"order_id": state.order_id})
        return Ack(order_ids=[state.order_id])

    async def cancel_scope(self, venue_symbol: str | None, states: list[OrderState]) -> Ack:
        body = {} if venue_symbol is None else {"symbol": venue_symbol}
        data = await self.call("POST", "/cancel_all", body=body)
        return Ack(order_ids=[str(i) for i in (data or {}).get("orders_ids", [])])
