"""Order states and fake clients for the cancel-command unit tests."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

from pipeline.commands.clients.base import Ack, BusinessError, TransientError, VenueAccount
from pipeline.domain.events import OrderStatus, Side
from pipeline.domain.orders import OrderState
from pipeline.venues.credentials import Credentials

D = Decimal
SYMBOLS = {
    "upbit": ("BTC/KRW", "KRW-BTC"),
    "binance": ("BTC/USDT", "BTCUSDT"),
    "coinone": ("BTC/KRW", "BTC-KRW"),
    "ssi": ("HPG/VND", "HPG"),
    "futures_gateway": ("BTC/USDT:USDT", "BTCUSDT"),
}


def state(
    venue: str,
    order_id: str,
    account: str = "alice",
    status: OrderStatus = OrderStatus.OPEN,
    qty: str = "1",
    filled: str = "0",
    canceled: str = "0",
    symbol: tuple[str, str] | None = None,
    version: int = 1,
    price: str | None = "100",
) -> OrderState:
    unified, venue_symbol = symbol or SYMBOLS[venue]
    q, f, c = D(qty), D(filled), D(canceled)
    remaining = D(0) if status.is_terminal else q - f - c
    return OrderState(
        venue=venue,
        account=account,
        order_id=order_id,
        symbol=unified,
        venue_symbol=venue_symbol,
        side=Side.BUY,
        order_type="limit",
        status=status,
        venue_status="x",
        cancel_reason=None,
        qty=q,
        price=None if price is None else D(price),
        stop_price=None,
        quote_qty=None,
        filled_qty=f,
        remaining_qty=remaining,
        canceled_qty=c,
        avg_fill_price=None,
        fee=D(0),
        fee_asset=None,
        client_order_id=None,
        time_in_force=None,
        created_at=1,
        updated_at=1,
        version=version,
        last_event_id="e",
    )


def canceled(s: OrderState) -> OrderState:
    return replace(
        s,
        status=OrderStatus.CANCELED,
        canceled_qty=s.remaining_qty,
        remaining_qty=D(0),
        version=s.version + 1,
    )


class FakeClient:
    """Records calls; `on_call` may update the view (the venue's confirmation)."""

    def __init__(self, venue: str, account: str = "alice", view=None, confirm: bool = True):
        self.account = VenueAccount(venue, account, "http://x", Credentials("k", "s"))
        self.calls: list[tuple] = []
        self.view = view
        self.confirm = confirm
        self.fail_with: list[Exception] = []
        self.on_call = None  # e.g. a fill landing while the request is in flight

    def _maybe_fail(self) -> None:
        if self.on_call is not None:
            self.on_call()
        if self.fail_with:
            raise self.fail_with.pop(0)

    def _confirm(self, s: OrderState) -> None:
        if self.confirm and self.view is not None:
            self.view.apply(canceled(s))

    async def cancel_order(self, s: OrderState) -> Ack:
        self.calls.append(("cancel", s.order_id))
        self._maybe_fail()
        self._confirm(s)
        return Ack(order_ids=[s.order_id])

    async def cancel_scope(self, venue_symbol, states) -> Ack:
        self.calls.append(("scope", venue_symbol, tuple(s.order_id for s in states)))
        self._maybe_fail()
        for s in states:
            self._confirm(s)
        return Ack(order_ids=[s.order_id for s in states])

    async def amend(self, s: OrderState, new_qty: Decimal) -> Ack:
        self.calls.append(("amend", s.order_id, new_qty))
        self._maybe_fail()
        if self.view is not None:
            self.view.apply(
                replace(s, qty=new_qty, remaining_qty=new_qty - s.filled_qty, version=s.version + 1)
            )
        return Ack(order_ids=[s.order_id])

    async def replace(self, s: OrderState, reduce_by: Decimal) -> Ack:
        self.calls.append(("replace", s.order_id, reduce_by))
        self._maybe_fail()
        self._confirm(s)
        return Ack(order_ids=[s.order_id], new_order_id="new-1")

    async def close(self) -> None:
        pass


__all__ = ["BusinessError", "TransientError"]
