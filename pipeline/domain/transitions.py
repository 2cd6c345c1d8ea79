"""The order state machine: one explicit (status, incoming status) -> action table.

In the nautilus_trader style every status change is looked up in `TRANSITIONS`; nothing else
decides whether a venue's label is taken. Quantities are handled afterwards by the fold (see
`orders.fold_event`), which may still correct a label from the quantities ("where a venue's
label lies, derive the truth from quantities").

Actions:
- `ACCEPT`   take the incoming status (and the venue's raw label with it).
- `LIVE`     take it only from a live report (`is_snapshot` false). Used for leaving
             `pending_cancel` towards `open` / `partially_filled`: only the venue announcing a
             rejected cancel may do that; a REST poll or a cancel reply still saying "open" is
             stale and must not undo the cancel request.
- `IGNORE`   keep the current status: regressions (`partially_filled` -> `open`), anything
             after a terminal status (terminal never reopens), a trigger going backwards.

Arrival order does not matter here: the ledger always folds events in sort order, so the table
only ever sees "the next report in event-time order".
"""

from __future__ import annotations

from enum import Enum

from pipeline.domain.events import TERMINAL_STATUSES, OrderStatus


class Action(Enum):
    ACCEPT = "accept"
    LIVE = "accept_if_live"
    IGNORE = "ignore"


_S = OrderStatus
_ALL: tuple[OrderStatus, ...] = tuple(OrderStatus)

#: How far an order has progressed; the third sort key of events with equal time and sequence.
PROGRESS_RANK: dict[OrderStatus, int] = {
    _S.UNTRIGGERED: 0,
    _S.OPEN: 1,
    _S.PARTIALLY_FILLED: 2,
    _S.PENDING_CANCEL: 3,
    _S.REJECTED: 4,
    _S.EXPIRED: 4,
    _S.CANCELED: 4,
    _S.FILLED: 4,
}


def _row(default: Action, **overrides: Action) -> dict[OrderStatus, Action]:
    row = dict.fromkeys(_ALL, default)
    for name, action in overrides.items():
        row[OrderStatus(name)] = action
    return row


_A, _L, _I = Action.ACCEPT, Action.LIVE, Action.IGNORE

_ROWS: dict[OrderStatus | None, dict[OrderStatus, Action]] = {
    # The first report of an order is taken as it is.
    None: _row(_A),
    # A conditional order may trigger, fill, be cancelled or end; it does not un-trigger.
    _S.UNTRIGGERED: _row(_A),
    _S.OPEN: _row(_A, untriggered=_I),
    # Cumulative fills cannot be undone: an "open" report after a fill is stale.
    _S.PARTIALLY_FILLED: _row(_A, untriggered=_I, open=_I),
    # A cancel request is only withdrawn by a live report (the venue rejected the cancel).
    _S.PENDING_CANCEL: _row(_A, untriggered=_I, open=_L, partially_filled=_L),
}
for _terminal in TERMINAL_STATUSES:
    # Terminal never reopens and never turns into another terminal by label alone; the same
    # label restated (e.g. Upbit `trade` then `done`) refreshes the raw venue label.
    _ROWS[_terminal] = {incoming: (_A if incoming is _terminal else _I) for incoming in _ALL}

#: The one transition table: (current status or None for a new order, incoming) -> action.
TRANSITIONS: dict[tuple[OrderStatus | None, OrderStatus], Action] = {
    (current, incoming): action
    for current, row in _ROWS.items()
    for incoming, action in row.items()
}


def next_status(
    current: OrderStatus | None, incoming: OrderStatus, is_snapshot: bool
) -> OrderStatus | None:
    """The status after `incoming` is reported in state `current`; `None` when ignored."""
    action = TRANSITIONS[(current, incoming)]
    if action is Action.ACCEPT or (action is Action.LIVE and not is_snapshot):
        return incoming
    return None


#: `next_status` precomputed for the fold's hot path (one lookup instead of a call), one
#: table per `is_snapshot` (False/0, True/1, and None read as "not a snapshot", as `not`
#: would): NEXT_STATUS[is_snapshot][(current, incoming)] -> the status taken, or None.
NEXT_STATUS: dict[bool | None, dict[tuple[OrderStatus | None, OrderStatus], OrderStatus | None]] = {
    snapshot: {
        (current, incoming): next_status(current, incoming, bool(snapshot))
        for current, incoming in TRANSITIONS
    }
    for snapshot in (False, True, None)
}
