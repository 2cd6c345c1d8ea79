"""The pure domain core: canonical events, the order state machine, positions and PnL.

Imports only the standard library (a test enforces it). Time is passed in, never read here.

    events.py       OrderEvent, Fill, statuses: what normalizers produce
    transitions.py  the one (status, incoming status) -> action table
    orders.py       OrderState and the fold step (quantities, labels vs truth)
    implied.py      fills derived from cumulative quantities (`fills_implied`)
    ledger.py       OrderLedger: dedupe, ordering, refold, fills to emit
    positions.py    Position, PositionLedger: average cost, realized PnL, fees
    book.py         TradingBook: one `apply(event)` for the stream processor
    errors.py       DomainError and its subclasses
"""

from pipeline.domain.book import BookOutput, TradingBook
from pipeline.domain.errors import DomainError, ForeignEventError, InvalidQuantityError
from pipeline.domain.events import (
    AvgPriceSource,
    CancelReason,
    Fill,
    Liquidity,
    OrderEvent,
    OrderStatus,
    Side,
)
from pipeline.domain.ledger import OrderLedger, OrderUpdate
from pipeline.domain.orders import OrderState, order_sort_key
from pipeline.domain.positions import Position, PositionLedger

__all__ = [
    "AvgPriceSource",
    "BookOutput",
    "CancelReason",
    "DomainError",
    "Fill",
    "ForeignEventError",
    "InvalidQuantityError",
    "Liquidity",
    "OrderEvent",
    "OrderLedger",
    "OrderState",
    "OrderStatus",
    "OrderUpdate",
    "Position",
    "PositionLedger",
    "Side",
    "TradingBook",
    "order_sort_key",
]
