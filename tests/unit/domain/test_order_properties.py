"""Order ledger invariants under any event set and arrival order (hypothesis)."""

from __future__ import annotations

from decimal import Decimal

from domain_builders import T0, event, fill
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.domain.events import TERMINAL_STATUSES, CancelReason, OrderStatus, Side
from pipeline.domain.ledger import OrderLedger
from pipeline.domain.orders import order_sort_key

KEY = ("upbit", "acc", "o1")
quantities = st.decimals(min_value=0, max_value=20, places=1)


@st.composite
def order_events(draw, order_id="o1", symbol="BTC/KRW", max_size=8):
    """Distinct reports of one order: any statuses, stale figures, snapshots, fills, ties."""
    quote_sized = draw(st.booleans())
    qty = None if quote_sized else draw(st.decimals(min_value=1, max_value=20, places=1))
    n = draw(st.integers(1, max_size))
    events = []
    for i in range(n):
        trade = None
        if draw(st.integers(0, 3)) == 0:
            trade = fill(
                f"t{draw(st.integers(0, 3))}",
                draw(st.decimals(min_value=0, max_value=5, places=1)),
                draw(st.decimals(min_value=1, max_value=200, places=0)),
                at=T0 + i,
                fee=draw(st.decimals(min_value=0, max_value=3, places=1)),
                order_id=order_id,
                symbol=symbol,
            )
        events.append(
            event(
                f"{order_id}-e{i}",
                draw(st.sampled_from(list(OrderStatus))),
                at=T0 + draw(st.integers(0, 4)),
                order_id=order_id,
                symbol=symbol,
                side=Side.BUY,
                qty=qty if draw(st.booleans()) else None,
                quote_qty=Decimal(1000) if quote_sized else None,
                price=Decimal(100),
                filled_qty=draw(st.none() | quantities),
                avg_fill_price=draw(st.none() | st.decimals(min_value=90, max_value=110, places=0)),
                canceled_qty=draw(st.none() | quantities),
                fee=draw(st.none() | st.decimals(min_value=0, max_value=2, places=2)),
                sequence=draw(st.none() | st.integers(0, 3)),
                is_snapshot=draw(st.booleans()),
                fills_implied=draw(st.booleans()),
                cancel_reason=draw(st.none() | st.sampled_from(list(CancelReason))),
                fill=trade,
            )
        )
    return events


def final_fills(events):
    """Fold events in the given order; the fills downstream ends up holding, by trade id."""
    ledger = OrderLedger(KEY)
    held = {}
    for e in events:
        update = ledger.apply(e)
        for f in update.fills if update else []:
            held[f.trade_id] = f
    return ledger, {tid: f for tid, f in held.items() if f.qty}


@settings(max_examples=200, deadline=None)
@given(events=order_events(), data=st.data())
def test_order_any_arrival_order_equals_sorted_fold(events, data):
    arrival = data.draw(st.permutations(events))
    by_arrival, arrival_fills = final_fills(arrival)
    by_sort, sorted_fills = final_fills(sorted(events, key=order_sort_key))
    assert by_arrival.state == by_sort.state
    assert by_arrival.state.version == len(events)
    assert arrival_fills.keys() == sorted_fills.keys()
    for trade_id, f in arrival_fills.items():
        g = sorted_fills[trade_id]
        assert (f.qty, f.price, f.fee, f.trade_time) == (g.qty, g.price, g.fee, g.trade_time)


@settings(max_examples=200, deadline=None)
@given(events=order_events(), data=st.data())
def test_order_duplicates_change_nothing(events, data):
    extra = data.draw(st.lists(st.sampled_from(events), min_size=1, max_size=6))
    arrival = data.draw(st.permutations(events + extra))
    assert final_fills(arrival)[0].state == final_fills(events)[0].state


@settings(max_examples=200, deadline=None)
@given(events=order_events())
def test_order_every_step_monotone_and_conserving(events):
    ledger = OrderLedger(KEY)
    previous = None
    for e in sorted(events, key=order_sort_key):
        state = ledger.apply(e).state
        assert state.filled_qty >= 0
        assert state.canceled_qty >= 0
        assert state.remaining_qty >= 0
        assert state.filled_qty + state.canceled_qty + state.remaining_qty == state.qty
        if previous is not None:
            assert state.filled_qty >= previous.filled_qty
            assert state.version == previous.version + 1
            if previous.status in TERMINAL_STATUSES:
                assert state.status in TERMINAL_STATUSES
        if state.status in TERMINAL_STATUSES:
            assert state.remaining_qty == 0
        previous = state
    assert ledger.is_terminal == (previous.status in TERMINAL_STATUSES)


@settings(max_examples=200, deadline=None)
@given(events=order_events())
def test_order_real_and_derived_fills_never_mixed(events):
    _, fills = final_fills(events)
    real = {e.fill.trade_id for e in events if e.fill is not None and e.fill.qty}
    if real:
        assert set(fills) == real
    else:
        assert all(tid.startswith("o1:") for tid in fills)
        assert sum((f.qty for f in fills.values()), Decimal(0)) <= max(
            (e.filled_qty for e in events if e.filled_qty is not None), default=Decimal(0)
        )


@st.composite
def fills_and_fee_polls(draw):
    """One order's trades, each reported live with its fee (no cumulative figures), plus REST
    polls at any time (ties included) stating the cumulative filled quantity and fee of the
    trades done by then; a poll may be stamped at a trade's millisecond and include it, or
    not yet (then it is stale).
    """
    n = draw(st.integers(1, 5))
    times = sorted(draw(st.lists(st.integers(1, 12), min_size=n, max_size=n)))
    trades = [
        (f"t{i}", times[i], draw(st.decimals(min_value=1, max_value=3, places=0)),
         draw(st.decimals(min_value=0, max_value=5, places=2)))
        for i in range(n)
    ]  # fmt: skip
    qty = sum((q for _, _, q, _ in trades), Decimal(0)) + draw(st.integers(0, 2))
    events = [event("open", OrderStatus.OPEN, at=T0, qty=qty, fee="0", is_snapshot=True)]
    for trade_id, at, q, fee in trades:
        report = fill(trade_id, q, "100", at=T0 + at, fee=fee)
        events.append(event(f"ws-{trade_id}", OrderStatus.PARTIALLY_FILLED, at=T0 + at,
                            fill=report))  # fmt: skip
    for j in range(draw(st.integers(0, 4))):
        at = draw(st.integers(0, 13))
        # a poll at a trade's millisecond may have been answered before or after that trade
        done = [t for t in trades if t[1] < at or (t[1] == at and draw(st.booleans()))]
        filled = sum((q for _, _, q, _ in done), Decimal(0))
        events.append(
            event(
                f"poll{j}",
                OrderStatus.PARTIALLY_FILLED if filled else OrderStatus.OPEN,
                at=T0 + at,
                qty=qty,
                filled_qty=filled,
                fee=sum((f for _, _, _, f in done), Decimal(0)),
                is_snapshot=True,
                fills_implied=True,
            )
        )
    return events, sum((f for _, _, _, f in trades), Decimal(0))


@settings(max_examples=200, deadline=None)
@given(case=fills_and_fee_polls(), data=st.data())
def test_order_fee_is_every_fill_once_whatever_the_polls_and_arrival_order(case, data):
    events, total_fee = case
    by_arrival, _ = final_fills(data.draw(st.permutations(events)))
    by_sort, _ = final_fills(sorted(events, key=order_sort_key))
    assert by_arrival.state == by_sort.state
    assert by_sort.state.fee == total_fee
