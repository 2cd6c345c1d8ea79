"""Binance event ids are idempotent: the same payload twice yields the same events, distinct
reports distinct ids.
"""

from __future__ import annotations

import pytest
from binance_cases import (
    RECEIVED,
    RESOURCES,
    load,
    one,
    run,
)

from pipeline.venues.binance import (
    CHANNEL_USER_DATA,
)

# --- idempotent event ids ----------------------------------------------------------------------


def _channel(name: str) -> str:
    if name.startswith("docs_wsapi_"):
        return "wsapi." + name.removeprefix("docs_wsapi_").removesuffix(".json")
    for method in (
        "order.amend.keepPriority",
        "order.cancelReplace",
        "order.cancel",
        "order.place",
        "order.status",
        "order.test",
        "openOrders.status",
        "openOrders.cancelAll",
    ):
        if f"wsapi_{method}" in name:
            return f"wsapi.{method}"
    return CHANNEL_USER_DATA


VALID_FIXTURES = sorted(p.name for p in RESOURCES.glob("*.json") if "BTUCSDT" not in p.name)


@pytest.mark.parametrize("name", VALID_FIXTURES)
def test_same_payload_normalized_twice_yields_identical_events(name: str) -> None:
    first = run(_channel(name), load(name))
    assert first == run(_channel(name), load(name))
    redelivered = run(_channel(name), load(name), received_at=RECEIVED + 60_000)
    assert [e.event_id for e in redelivered] == [e.event_id for e in first]


def test_distinct_reports_yield_distinct_event_ids() -> None:
    same_reports = {
        "fixture_executionReport_NEW_combined_stream.json",  # the NEW event, rewrapped
        "binance_wsapi_order.cancelReplace_409_partial_failure.json",  # = seed004 409
        "binance_wsapi_openOrders.cancelAll_response.json",  # restates seed004 cancels
        "seed004_wsapi_order.cancel_orderList.json",  # restated by the cancelAll sample
        "seed004_wsapi_order.cancelReplace_409_cancel_failed.json",  # new half of the 200
        "seed004_wsapi_order.cancelReplace_409_new_failed.json",  # cancel half of the 200
        "seed004_wsapi_order.place_RESULT.json",  # the same NEW as the cancelReplace 200 new half
        "derived_nautilus_execution_report_trade_empty_c.json",  # the same TRADE, `c` emptied
    }
    ids: dict[str, str] = {}
    for name in VALID_FIXTURES:
        if name in same_reports:
            continue
        for got in run(_channel(name), load(name)):
            assert got.event_id not in ids, (name, ids.get(got.event_id))
            ids[got.event_id] = name


def test_trade_and_expiry_in_same_millisecond_yield_distinct_event_ids() -> None:
    trade = one(CHANNEL_USER_DATA, load("fixture_executionReport_IOC_TRADE.json"))
    expired = one(CHANNEL_USER_DATA, load("fixture_executionReport_IOC_EXPIRED_partial.json"))
    assert trade.event_time == expired.event_time
    assert trade.event_id != expired.event_id
