"""Where a restarted ingestor picks up on a Kafka cluster: from what the pipeline already holds.

An ingestor's memory (the time of the last message it published, the orders it believes open)
dies with its process. Restarted with a blank memory it would take a fresh snapshot of open
orders and never hear again of an order that was open before and ended while it was down: a
venue lists open orders, not the ones that left. On the embedded broker the checkpoints and the
raw spool give that memory back (pipeline/roles.py); on a cluster the `orders.state` topic does:
the latest state of every order the pipeline has processed. From it, per venue the newest event
time (the ingestor's gap recovery reads the venue's history from there) and per account the
orders not finished (each one the venue no longer lists as open is asked about).

Found by the role-kill test (tests/e2e/test_role_kills.py): an ingest worker SIGKILLed and
restarted left cancels and fills of such orders out of the books.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from aiokafka import AIOKafkaConsumer

from pipeline import venues
from pipeline.codec import order_state_from_dict
from pipeline.domain.events import TERMINAL_STATUSES
from pipeline.domain.orders import OrderState
from pipeline.envelope import decode_envelope
from pipeline.errors import PipelineError
from pipeline.kafka import (
    ORDERS_STATE,
    PROCESSOR_GROUP,
    RAW_TOPICS,
    read_from_committed,
    read_to_highwater,
)

normalizer_for = venues.normalizer_for

ResumePoints = dict[str, int]  # venue -> epoch ms from which its history is read again
LiveOrders = dict[tuple[str, str], dict[str, str]]  # (venue, account) -> {order id: symbol}


def resume_points(states: Iterable[OrderState]) -> tuple[ResumePoints, LiveOrders]:
    """Per venue the newest event time among `states` (the latest state of each order), and
    per account the orders not finished, with their venue symbols."""
    resume: ResumePoints = {}
    live: LiveOrders = {}
    for state in states:
        if state.updated_at > resume.get(state.venue, -1):
            resume[state.venue] = state.updated_at
        if state.status not in TERMINAL_STATUSES:
            live.setdefault((state.venue, state.account), {})[state.order_id] = state.venue_symbol
    return resume, live


class LatestStates:
    """The newest version of each order among `orders.state` records, fed one at a time."""

    def __init__(self) -> None:
        self.states: dict[tuple[str, str, str], OrderState] = {}

    def add(self, value: Mapping[str, Any]) -> None:
        state = order_state_from_dict(dict(value))
        current = self.states.get(state.key)
        if current is None or current.version <= state.version:
            self.states[state.key] = state


class UnprocessedTail:
    """Folds the raw records the processors have not committed into the resume points: an
    order they open is live (its end, lost with the ingestor, must be asked for), an order
    they end is not, and each venue resumes after the newest of them it published."""

    def __init__(self, resume: ResumePoints, live: LiveOrders) -> None:
        self.resume, self.live = resume, live

    def add(self, raw: bytes | None) -> None:
        try:
            envelope = decode_envelope(raw or b"")
            events = normalizer_for(envelope.venue).normalize(envelope)
        except PipelineError:  # the processor dead-letters it; it names no order for us
            return
        if envelope.received_at > self.resume.get(envelope.venue, -1):
            self.resume[envelope.venue] = envelope.received_at
        for event in events:
            orders = self.live.setdefault((event.venue, event.account), {})
            if event.status in TERMINAL_STATUSES:
                orders.pop(event.order_id, None)
            else:
                orders[event.order_id] = event.venue_symbol


async def read_resume_points(
    bootstrap: str, group: str = PROCESSOR_GROUP
) -> tuple[ResumePoints, LiveOrders]:
    """`resume_points` of the whole `orders.state` topic, read up to its high watermark, then
    the raw records after the processor group's committed offsets (`UnprocessedTail`)."""
    latest = LatestStates()
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        await read_to_highwater(consumer, ORDERS_STATE, latest.add)
    finally:
        await consumer.stop()
    resume, live = resume_points(latest.states.values())
    tail = UnprocessedTail(resume, live)
    raw = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False)
    await raw.start()
    try:
        for topic in RAW_TOPICS:
            await read_from_committed(raw, topic, tail.add)
    finally:
        await raw.stop()
    return resume, {key: orders for key, orders in live.items() if orders}
