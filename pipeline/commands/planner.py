"""From a command and the canonical order states to venue requests (pure).

`plan(command, view, caps, scope_budget, accounts)` returns a `Plan`: one `Outcome` per
order the command concerns and the `Action`s (venue requests) to send. Targets are the
cancellable orders (open, partially_filled, untriggered); a `pending_cancel` order already
has a cancel in flight (no request, its outcome waits for the confirmation); for an
order-scope command a terminal order is reported `already_terminal` and an unknown one
`not_found`. Venue rules come from `VenueCapabilities`; `scope_budget` (account -> scope
requests available now) decides between a scope endpoint and per-order cancels.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum

from pipeline.commands.capabilities import Partial, ScopeCancel, VenueCapabilities
from pipeline.commands.model import CancelCommand, Scope
from pipeline.commands.results import ALREADY_TERMINAL, FAILED, NOT_FOUND, Expect, Outcome
from pipeline.commands.state_view import StateView
from pipeline.domain.events import CANCELLABLE_STATUSES, OrderStatus
from pipeline.domain.orders import OrderState


class ActionKind(StrEnum):
    """The venue request an `Action` sends (the executor picks the client method by it)."""

    CANCEL = "cancel"  # cancel one order
    CANCEL_SCOPE = "cancel_scope"  # the venue's cancel-all / cancel-by-symbol endpoint
    AMEND = "amend"  # reduce one order's quantity in place (Binance keepPriority)
    REPLACE = "replace"  # cancel one order and re-place its remainder less qty


CANCEL = ActionKind.CANCEL
CANCEL_SCOPE = ActionKind.CANCEL_SCOPE
AMEND = ActionKind.AMEND
REPLACE = ActionKind.REPLACE


@dataclass
class Action:
    """One venue request: `cancel` / `amend` / `replace` one order, or `cancel_scope`."""

    kind: ActionKind
    account: str
    orders: list[OrderState]
    venue_symbol: str | None = None
    new_qty: Decimal | None = None  # amend: the order's new total quantity
    reduce_by: Decimal | None = None  # replace: how much less the re-placed order keeps


@dataclass
class Plan:
    outcomes: list[Outcome] = field(default_factory=list)
    actions: list[Action] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _outcome(state: OrderState, requested: Decimal | None = None) -> Outcome:
    return Outcome(
        order_id=state.order_id,
        account=state.account,
        symbol=state.symbol,
        requested_qty=requested,
        filled_qty=state.filled_qty,
        remaining_qty=state.remaining_qty,
        base_canceled=state.canceled_qty,
        base_qty=state.qty,
    )


def _matches_symbol(state: OrderState, text: str, venue_symbol: str) -> bool:
    return state.venue_symbol.upper() == venue_symbol or state.symbol.upper() == text.upper()


def plan(
    command: CancelCommand,
    view: StateView,
    caps: VenueCapabilities,
    scope_budget: Mapping[str, int] | None = None,
) -> Plan:
    if command.scope in (Scope.ORDER, Scope.PARTIAL):
        return _plan_order(command, view, caps)
    return _plan_scope(command, view, caps, dict(scope_budget or {}))


def _plan_order(command: CancelCommand, view: StateView, caps: VenueCapabilities) -> Plan:
    assert command.order_id is not None
    assert command.symbol is not None
    out = Plan()
    state = view.get(command.venue, command.order_id, command.account)
    venue_symbol = caps.venue_symbol(command.symbol)
    if state is None or not _matches_symbol(state, command.symbol, venue_symbol):
        missing = Outcome(
            command.order_id,
            command.account,
            command.symbol,
            NOT_FOUND,
            requested_qty=command.qty,
            expect=Expect.NONE,
        )
        missing.note = (
            "not in the canonical state; nothing sent"
            if state is None
            else f"the order is on {state.symbol}, not {command.symbol}; nothing sent"
        )
        out.outcomes.append(missing)
        return out
    outcome = _outcome(state, command.qty)
    out.outcomes.append(outcome)
    if state.status.is_terminal:
        outcome.outcome, outcome.expect = ALREADY_TERMINAL, Expect.NONE
        outcome.canceled_qty = state.canceled_qty
        outcome.note = f"order is {state.status.value}; nothing sent"
        return out
    if state.status is OrderStatus.PENDING_CANCEL:
        outcome.add_note("a cancel is already in flight; waiting for it")
        return out
    qty = command.qty
    if qty is None or qty >= state.remaining_qty:
        if qty is not None:
            outcome.add_note("qty >= remaining: the whole remainder is canceled")
        out.actions.append(Action(CANCEL, state.account, [state], state.venue_symbol))
        return out
    if caps.partial is Partial.IGNORE:
        outcome.add_note(
            f"{caps.venue} cancels whole orders only: qty ignored, whole remainder canceled"
        )
        out.actions.append(Action(CANCEL, state.account, [state], state.venue_symbol))
    elif caps.partial is Partial.AMEND:
        outcome.expect = Expect.REDUCE
        outcome.add_note("reduced with order.amend.keepPriority (queue priority kept)")
        out.actions.append(
            Action(AMEND, state.account, [state], state.venue_symbol, new_qty=state.qty - qty)
        )
    elif caps.partial is Partial.REPLACE and state.price is not None:
        outcome.expect = Expect.REPLACE
        outcome.add_note(
            f"{caps.venue} cancels whole orders only: canceled and re-placed the remainder "
            "less qty at the same price (new order id, queue priority lost)"
        )
        out.actions.append(
            Action(REPLACE, state.account, [state], state.venue_symbol, reduce_by=qty)
        )
    else:
        outcome.outcome, outcome.expect = FAILED, Expect.NONE
        outcome.note = (
            f"{caps.venue} cannot cancel part of this order; nothing sent "
            "(send the command without qty to cancel the whole remainder)"
        )
    return out


def _plan_scope(
    command: CancelCommand, view: StateView, caps: VenueCapabilities, budget: dict[str, int]
) -> Plan:
    out = Plan()
    venue_symbol = None if command.symbol is None else caps.venue_symbol(command.symbol)
    targets: dict[str, list[OrderState]] = {}
    for state in sorted(
        view.orders(command.venue, command.account),
        key=lambda s: (s.account, s.created_at, s.order_id),
    ):
        if command.symbol is not None and not _matches_symbol(
            state, command.symbol, venue_symbol or ""
        ):
            continue
        if state.status is OrderStatus.PENDING_CANCEL:
            pending = _outcome(state)
            pending.add_note("a cancel is already in flight; waiting for it")
            out.outcomes.append(pending)
        elif state.status in CANCELLABLE_STATUSES:
            out.outcomes.append(_outcome(state))
            targets.setdefault(state.account, []).append(state)
    for account, orders in targets.items():
        out.actions += _scope_actions(caps, account, orders, venue_symbol, budget, out)
    if not out.outcomes:
        out.notes.append("no open orders in scope")
    return out


def _per_order(account: str, orders: Iterable[OrderState]) -> list[Action]:
    return [Action(CANCEL, account, [s], s.venue_symbol) for s in orders]


def _scope_actions(
    caps: VenueCapabilities,
    account: str,
    orders: list[OrderState],
    venue_symbol: str | None,
    budget: dict[str, int],
    out: Plan,
) -> list[Action]:
    if caps.scope_cancel is ScopeCancel.NONE:
        return _per_order(account, orders)
    if caps.scope_cancel is ScopeCancel.SYMBOL:
        actions: list[Action] = []
        by_symbol: dict[str, list[OrderState]] = {}
        for state in orders:
            by_symbol.setdefault(state.venue_symbol, []).append(state)
        for symbol, group in by_symbol.items():
            if len(group) >= caps.scope_min_orders:
                actions.append(Action(CANCEL_SCOPE, account, group, symbol))
            else:
                actions += _per_order(account, group)
        return actions
    covered = [
        s
        for s in orders
        if caps.scope_includes_untriggered or s.status is not OrderStatus.UNTRIGGERED
    ]
    rest = [s for s in orders if s not in covered]
    if len(covered) < caps.scope_min_orders:
        return _per_order(account, orders)
    if budget.get(account, 1) <= 0:
        limit = caps.scope_limit
        rate = f"{limit.count} per {limit.window_ms // 1000} s" if limit else "none left"
        out.notes.append(f"{account}: scope-cancel budget exhausted ({rate}): order by order")
        return _per_order(account, orders)
    budget[account] = budget.get(account, 1) - 1
    if caps.scope_batch is not None and len(covered) > caps.scope_batch:
        # A second scope request would wait for the scope budget (upbit: 1 per 2 s) and could
        # hit orders whose cancel is only registered; the order group is far larger (30/s).
        out.notes.append(
            f"{account}: {len(covered)} orders exceed the scope cancel's {caps.scope_batch} "
            "per request: one scope request, the orders it did not reach order by order"
        )
    return [Action(CANCEL_SCOPE, account, covered, venue_symbol), *_per_order(account, rest)]
