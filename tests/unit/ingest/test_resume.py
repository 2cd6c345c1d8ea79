"""Where a restarted ingestor resumes on a cluster (pipeline/ingest/resume.py), on the recorded
scenario: the orders the pipeline's states leave unfinished, and those the unprocessed raw
tail opens or ends."""

from __future__ import annotations

from scenario_data import scenario_envelopes

from pipeline.domain.book import TradingBook
from pipeline.domain.events import TERMINAL_STATUSES
from pipeline.domain.orders import OrderState, order_sort_key
from pipeline.ingest.resume import UnprocessedTail, resume_points
from pipeline.venues import normalizer_for


def _states() -> list[OrderState]:
    """The latest state of every order of the scenario, as `orders.state` holds them."""
    events = [
        event
        for _, envelope in scenario_envelopes()
        for event in normalizer_for(envelope.venue).normalize(envelope)
    ]
    book, latest = TradingBook(), {}
    for event in sorted(events, key=order_sort_key):
        for output in book.apply(event):
            if isinstance(output, OrderState):
                latest[output.key] = output
    return list(latest.values())


def test_unfinished_states_are_live_and_each_venue_resumes_at_its_newest_event() -> None:
    states = _states()
    resume, live = resume_points(states)
    unfinished = {s.key for s in states if s.status not in TERMINAL_STATUSES}
    assert unfinished, "the scenario has open orders"
    assert {(v, a, o) for (v, a), orders in live.items() for o in orders} == unfinished
    for state in states:
        if state.key in unfinished:
            assert live[(state.venue, state.account)][state.order_id] == state.venue_symbol
    assert resume == {
        venue: max(s.updated_at for s in states if s.venue == venue)
        for venue in {s.venue for s in states}
    }


def test_the_unprocessed_tail_opens_and_ends_orders_and_moves_the_resume_point() -> None:
    envelopes = [envelope for _, envelope in scenario_envelopes()]
    first = envelopes[0]
    tail = UnprocessedTail({first.venue: 0}, {})
    for envelope in envelopes:
        tail.add(envelope.encode())
    tail.add(b"not an envelope")  # dead-lettered by the processor: names no order here
    for venue in {e.venue for e in envelopes}:
        assert tail.resume[venue] == max(e.received_at for e in envelopes if e.venue == venue)
    # an order whose last report in the tail ends it is not live; one left open is
    ended, opened = set(), set()
    for envelope in envelopes:
        for event in normalizer_for(envelope.venue).normalize(envelope):
            key = event.order_key
            (ended if event.status in TERMINAL_STATUSES else opened).add(key)
            (opened if event.status in TERMINAL_STATUSES else ended).discard(key)
    assert ended
    assert opened
    live = {(v, a, o) for (v, a), orders in tail.live.items() for o in orders}
    assert live == opened
