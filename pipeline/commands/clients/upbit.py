"""Upbit cancels (FACTS.md §2.3-2.4): `DELETE /v1/order` per order, `DELETE /v1/orders/open`
for a scope (WAIT orders only, 1 request per 2 s per account). Both only register the cancel:
the `cancel` state follows on myOrder, so confirmation comes from the canonical state."""

from __future__ import annotations

from typing import Any

import orjson

from pipeline.commands.clients.base import Ack, HttpClientBase, VenueError
from pipeline.domain.orders import OrderState
from pipeline.venues.upbit import errors as upbit_errors
from pipeline.venues.upbit.client import signed_request

SCOPE_COUNT = 300  # the endpoint's maximum (its default is 20)


class UpbitCancelClient(HttpClientBase):
    async def _delete(self, path: str, pairs: list[tuple[str, Any]]) -> Any:
        async with self.transport():
            status, raw = await signed_request(
                self.http, "DELETE", self.account.base_url, path, pairs,
                self.account.credentials, self.timeout,
            )  # fmt: skip
        try:
            body = orjson.loads(raw)
        except orjson.JSONDecodeError:
            body = None
        if status != 200:
            raise upbit_errors.classify(status, body)
        return body

    async def cancel_order(self, state: OrderState) -> Ack:
        body = await self._delete("/v1/order", [("uuid", state.order_id)])
        return Ack(order_ids=[str(body.get("uuid", state.order_id))])

    async def cancel_scope(self, venue_symbol: str | None, states: list[OrderState]) -> Ack:
        pairs: list[tuple[str, Any]] = [("cancel_side", "all"), ("count", SCOPE_COUNT)]
        if venue_symbol is not None:
            pairs.append(("pairs", venue_symbol))
        body = await self._delete("/v1/orders/open", pairs)
        ack = Ack(order_ids=[o["uuid"] for o in body.get("success", {}).get("orders", [])])
        for failed in body.get("failed", {}).get("orders", []):
            error = failed.get("error", {})
            ack.errors[str(failed.get("uuid"))] = VenueError(
                error.get("name"), error.get("message", "")
            )
        return ack
