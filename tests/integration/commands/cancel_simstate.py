"""A stand-in for the pipeline in cancel tests: the simulator's ground truth as canonical
order states. STUB: the real path is venue -> ingest -> raw.* -> process -> orders.state;
here each simulated order is converted directly (status, quantities, cancel in flight)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from decimal import Decimal

from pipeline.domain.events import OrderStatus, Side
from pipeline.domain.orders import OrderState
from pipeline.sim.engine import Order
from pipeline.sim.server import Simulator


def order_state(order: Order, version: int) -> OrderState:
    status = OrderStatus(order.status.value)
    if order.cancel_pending and not status.is_terminal:
        status = OrderStatus.PENDING_CANCEL
    remaining = (
        Decimal(0) if status.is_terminal else order.qty - order.filled_qty - order.canceled_qty
    )
    if status is OrderStatus.CANCELED:
        canceled = order.qty - order.filled_qty
    else:
        canceled = order.canceled_qty
    return OrderState(
        venue=order.venue,
        account=order.account,
        order_id=order.order_id,
        symbol=order.instrument.symbol,
        venue_symbol=order.venue_symbol,
        side=Side(order.side.value),
        order_type=order.order_type.value,
        status=status,
        venue_status=order.status.value,
        cancel_reason=None,
        qty=order.qty,
        price=order.price,
        stop_price=order.stop_price,
        quote_qty=order.quote_qty,
        filled_qty=order.filled_qty,
        remaining_qty=remaining,
        canceled_qty=canceled,
        avg_fill_price=None,
        fee=order.fee,
        fee_asset=None,
        client_order_id=order.client_order_id,
        time_in_force=None,
        created_at=order.created_at,
        updated_at=order.updated_at,
        version=version,
        last_event_id=f"sim-{version}",
    )


class SimStateFeed:
    """Polls the simulator every `period` s and hands changed orders to `sink`."""

    def __init__(self, sim: Simulator, sink: Callable[[OrderState], None], period: float = 0.02):
        self.sim, self.sink, self.period = sim, sink, period
        self.paused = False
        self._seen: dict[str, tuple] = {}
        self._versions: dict[str, int] = {}
        self._task: asyncio.Task[None] | None = None

    def poll(self) -> None:
        for exchange in self.sim.exchanges.values():
            for order in list(exchange.orders.values()):
                mark = (
                    order.status,
                    order.filled_qty,
                    order.canceled_qty,
                    order.qty,
                    order.cancel_pending,
                )
                if self._seen.get(order.order_id) != mark:
                    self._seen[order.order_id] = mark
                    version = self._versions[order.order_id] = (
                        self._versions.get(order.order_id, 0) + 1
                    )
                    self.sink(order_state(order, version))

    async def _run(self) -> None:
        while True:
            if not self.paused:
                self.poll()
            await asyncio.sleep(self.period)

    def start(self) -> None:
        self.poll()
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
