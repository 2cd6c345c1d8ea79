"""Upbit event ids are idempotent: the same payload twice yields the same events, distinct
reports distinct ids.
"""

from __future__ import annotations

import pytest
from upbit_cases import (
    RECEIVED,
    RESOURCES,
    load,
    one,
    run,
)

from pipeline.venues.upbit import (
    CHANNEL_MY_ORDER,
    CHANNEL_REST_ORDER,
    CHANNEL_REST_ORDERS,
)

# --- idempotent event ids ----------------------------------------------------------------------

ALL_FIXTURES = sorted(
    (p.name for p in RESOURCES.glob("*.json") if "error" not in p.name),
)


def _channel(name: str) -> str:
    if name.startswith("fixture_rest_orders"):
        return CHANNEL_REST_ORDERS
    if name.startswith("fixture_rest_order"):
        return CHANNEL_REST_ORDER
    return CHANNEL_MY_ORDER


@pytest.mark.parametrize("name", ALL_FIXTURES)
def test_same_payload_normalized_twice_yields_identical_events(name: str) -> None:
    first = run(_channel(name), load(name))
    assert first, "every order fixture yields at least one event"
    assert first == run(_channel(name), load(name))
    redelivered = run(_channel(name), load(name), received_at=RECEIVED + 60_000)
    assert [e.event_id for e in redelivered] == [e.event_id for e in first]


def test_ws_event_id_does_not_depend_on_ingest_time() -> None:
    payload = load("fixture_myOrder_limit_2_trade.json")
    assert one(CHANNEL_MY_ORDER, payload).event_id == (
        run(CHANNEL_MY_ORDER, payload, received_at=RECEIVED + 5000)[0].event_id
    )


def test_distinct_reports_yield_distinct_event_ids() -> None:
    ids: dict[str, str] = {}
    for name in ALL_FIXTURES:
        if name in {
            "fixture_myOrder_limit_1_wait_SNAPSHOT.json",  # the same report as the REALTIME one
            "seed003_myOrder_trade_SIMPLE.json",  # the same report as the DEFAULT one
            "fixture_myOrder_list_JSON_LIST.json",  # the same reports as wait and done
            "fixture_rest_orders_open.json",  # the same object as the cancel reply
        }:
            continue
        for got in run(_channel(name), load(name)):
            assert got.event_id not in ids, (name, ids.get(got.event_id))
            ids[got.event_id] = name


def test_two_trades_of_one_order_yield_distinct_event_ids_and_fill_ids() -> None:
    first = one(CHANNEL_MY_ORDER, load("fixture_myOrder_limit_2_trade.json"))
    second = one(CHANNEL_MY_ORDER, load("fixture_myOrder_limit_3_trade_last.json"))
    assert first.event_id != second.event_id
    assert first.fill is not None
    assert second.fill is not None
    assert first.fill.key != second.fill.key
