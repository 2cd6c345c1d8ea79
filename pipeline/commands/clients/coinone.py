"""Coinone v2.1 cancels (FACTS.md §3.1-3.3, §3.6): `/v2.1/order/cancel` cancels an order's
whole remainder and answers synchronously with what it removed. v2.1 has no partial cancel,
so a partial cancel is a cancel followed by a new LIMIT order for the reduced remainder at
the same price (a new order id; the queue priority is lost)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from pipeline.commands.clients.base import (
    Ack,
    BusinessError,
    HttpClientBase,
    VenueError,
)
from pipeline.domain.orders import OrderState
from pipeline.venues.coinone import client as coinone_client


def _pair(venue_symbol: str) -> dict[str, str]:
    target, _, quote = venue_symbol.partition("-")
    return {"target_currency": target, "quote_currency": quote}


class CoinoneCancelClient(HttpClientBase):
    async def post(self, path: str, params: dict[str, Any]) -> dict[str, Any]:
        """The success reply of one signed POST; the classified `VenueError` otherwise."""
        async with self.transport():
            reply = await coinone_client.post(
                self.http, self.account.base_url, path, params, self.account.credentials,
                self.timeout,
            )  # fmt: skip
        if reply.failed:
            raise reply.error()
        assert isinstance(reply.body, dict)  # not failed: a success reply
        return reply.body

    async def cancel_order(self, state: OrderState) -> Ack:
        body = await self.post(
            "/v2.1/order/cancel", {"order_id": state.order_id, **_pair(state.venue_symbol)}
        )
        return Ack(
            order_ids=[str(body.get("order_id", state.order_id))],
            canceled_qty=Decimal(str(body.get("qty", "0"))),
            remaining_qty=Decimal(str(body.get("remain_qty", "0"))),
        )

    async def cancel_scope(self, venue_symbol: str | None, states: list[OrderState]) -> Ack:
        raise BusinessError("unsupported", "coinone scope cancels go order by order")

    async def replace(self, state: OrderState, reduce_by: Decimal) -> Ack:
        """Cancel, then re-place what the cancel removed less `reduce_by` (same price)."""
        canceled = await self.cancel_order(state)
        removed = canceled.canceled_qty or Decimal(0)
        keep = removed - reduce_by
        ack = Ack(
            order_ids=canceled.order_ids,
            canceled_qty=min(removed, reduce_by),
            remaining_qty=keep if keep > 0 else Decimal(0),
        )
        if keep <= 0:
            return ack
        try:
            placed = await self.post(
                "/v2.1/order",
                {
                    "side": state.side.value.upper(),
                    "type": "LIMIT",
                    **_pair(state.venue_symbol),
                    "price": format(state.price, "f"),
                    "qty": format(keep, "f"),
                    "post_only": False,
                },
            )
        except VenueError as exc:
            ack.errors[state.order_id] = exc
            ack.canceled_qty = removed
            return ack
        ack.new_order_id = str(placed.get("order_id"))
        return ack
