"""Golden tests of the SSI normalizer: every documented payload shape, every status row."""

from __future__ import annotations

import copy
from decimal import Decimal
from typing import Any

import orjson
import pytest
from venue_harness import VenueHarness

from pipeline.domain.events import CancelReason, Fill, Liquidity, OrderEvent, OrderStatus, Side
from pipeline.errors import NormalizationError
from pipeline.venues import normalizer_for
from pipeline.venues.ssi import STATUS_ALIASES, STATUS_MAP, SsiNormalizer, status_code, to_symbol

RECEIVED = 1733101999000
D = Decimal
NORMALIZER = SsiNormalizer()


HARNESS = VenueHarness("ssi", NORMALIZER, "consumer", RECEIVED)
load, run = HARNESS.load, HARNESS.run


def event(**kw: Any) -> OrderEvent:
    base: dict[str, Any] = {"venue": "ssi", "received_at": RECEIVED}
    return OrderEvent(**{**base, **kw})


# --- documented shapes, complete expected events -------------------------------------------


def test_audit_order_book_sample_ignores_last_error_event() -> None:
    assert run("rest.auditOrderBook", load("ssi_fctrading_auditOrderBook_response.json")) == [
        event(
            event_id="ssi:state:19450163:QU:0:0:1689653133000",
            account="0001011",
            order_id="19450163",
            symbol="BSR/VND",
            venue_symbol="BSR",
            side=Side.BUY,
            order_type="limit",
            status=OrderStatus.OPEN,  # not the RJ of its lastErrorEvent (a failed request)
            venue_status="QU",
            event_time=1689653133000,
            qty=D(100),
            price=D(15400),
            filled_qty=D(0),
            canceled_qty=D(0),
            client_order_id="71298546",
            is_snapshot=True,
            fills_implied=True,
        ),
        event(
            event_id="ssi:state:19450161:CL:0:100:1689652692000",
            account="0001011",
            order_id="19450161",
            symbol="SSI/VND",
            venue_symbol="SSI",
            side=Side.BUY,
            order_type="market",
            status=OrderStatus.CANCELED,
            venue_status="CL",
            event_time=1689652692000,
            qty=D(100),
            price=D(24050),
            filled_qty=D(0),
            canceled_qty=D(100),
            client_order_id="69252413",
            cancel_reason=CancelReason.UNFILLED_REMAINDER,
            is_snapshot=True,
            fills_implied=True,
        ),
    ]


def test_order_book_reply_yields_one_snapshot_per_order() -> None:
    rejected, partial, ffpc = run("rest.orderBook", load("orderBook_response.json"))
    common = {"account": "1184418", "is_snapshot": True, "fills_implied": True}
    assert rejected == event(
        event_id="ssi:state:T202306146w273885549:RJ:0:0:1686730747945",
        order_id="T202306146w273885549",
        symbol="VN30F2306/VND",
        venue_symbol="VN30F2306",
        side=Side.BUY,
        order_type="limit",
        status=OrderStatus.REJECTED,
        venue_status="RJ",
        event_time=1686730747945,
        qty=D(100),
        price=D(1000),
        filled_qty=D(0),
        canceled_qty=D(0),
        client_order_id="73885549",
        **common,
    )
    assert partial == event(
        event_id="ssi:state:T202306146w273885601:PF:400:0:1686731065000",
        order_id="T202306146w273885601",
        symbol="HPG/VND",
        venue_symbol="HPG",
        side=Side.SELL,
        order_type="limit",
        status=OrderStatus.PARTIALLY_FILLED,
        venue_status="PF",
        event_time=1686731065000,
        qty=D(1000),
        price=D(27150),
        filled_qty=D(400),
        avg_fill_price=D(27150),
        canceled_qty=D(0),
        client_order_id="73885601",
        **common,
    )
    assert ffpc == event(
        event_id="ssi:state:T202306146w273885677:FFPC:300:200:1686731200450",
        order_id="T202306146w273885677",
        symbol="HPG/VND",
        venue_symbol="HPG",
        side=Side.BUY,
        order_type="market",
        status=OrderStatus.CANCELED,
        venue_status="FFPC",
        event_time=1686731200450,
        qty=D(500),
        filled_qty=D(300),
        avg_fill_price=D("27116.67"),
        canceled_qty=D(200),
        client_order_id="73885677",
        time_in_force="ioc",
        cancel_reason=CancelReason.UNFILLED_REMAINDER,
        **common,
    )


def test_stream_order_event_sample_cancel_is_canceled_with_sequence() -> None:
    assert run("stream", load("ssi_fctrading_stream_orderEvent_cancel_CL.json")) == [
        event(
            event_id="ssi:event:12663204:12",
            account="0901358",
            order_id="12663204",
            symbol="VN30F2106/VND",
            venue_symbol="VN30F2106",
            side=Side.BUY,
            order_type="limit",
            status=OrderStatus.CANCELED,
            venue_status="CL",
            event_time=1606277330861,
            qty=D(2),
            price=D(1410),
            filled_qty=D(0),
            canceled_qty=D(2),
            client_order_id="30304045",  # origRequestID: uniqueID is the cancel request
            cancel_reason=CancelReason.USER,
            sequence=12,
        )
    ]


def test_stream_cancel_of_an_order_without_request_id_keeps_no_client_order_id() -> None:
    """An order placed without a requestID (origRequestID empty) and cancelled through the
    API: the event's uniqueID is the cancel request's id, not the order's. Found by the
    role-kill test, where it became the order's client_order_id."""
    payload = copy.deepcopy(load("ssi_fctrading_stream_orderEvent_cancel_CL.json"))
    payload["data"]["origRequestID"] = ""
    (cancel,) = run("stream", payload)
    assert cancel.status is OrderStatus.CANCELED
    assert cancel.client_order_id is None


def test_stream_order_event_partial_fill_does_not_imply_fills() -> None:
    assert run("stream", load("stream_orderEvent_PF.json")) == [
        event(
            event_id="ssi:event:12663300:21",
            account="0901358",
            order_id="12663300",
            symbol="VN30F2412/VND",
            venue_symbol="VN30F2412",
            side=Side.SELL,
            order_type="limit",
            status=OrderStatus.PARTIALLY_FILLED,
            venue_status="PF",
            event_time=1733101260012,
            qty=D(5),
            price=D("1285.5"),
            filled_qty=D(2),
            avg_fill_price=D("1285.5"),
            canceled_qty=D(0),
            client_order_id="30304100",
            sequence=21,
        )
    ]


def test_stream_stop_order_ready_is_untriggered_with_stop_price() -> None:
    (result,) = run("stream", load("stream_orderEvent_stop_SOR.json"))
    assert (result.status, result.stop_price, result.venue_status) == (
        OrderStatus.UNTRIGGERED,
        D(1272),
        "SOR",
    )


def test_stream_match_event_sample_carries_fill() -> None:
    expected_fill = Fill(
        venue="ssi",
        account="1184411",
        symbol="BVS/VND",
        venue_symbol="BVS",
        order_id="16201867",
        trade_id="00000000000000101180:16201867",
        side=Side.BUY,
        price=D(1000),
        qty=D(100),
        fee=D(0),
        fee_asset=None,
        liquidity=Liquidity.UNKNOWN,
        trade_time=1656665019000,
        received_at=RECEIVED,
    )
    assert run("stream", load("ssi_fctrading_stream_orderMatchEvent.json")) == [
        event(
            event_id="ssi:match:00000000000000101180:16201867",
            account="1184411",
            order_id="16201867",
            symbol="BVS/VND",
            venue_symbol="BVS",
            side=Side.BUY,
            order_type="",
            status=OrderStatus.PARTIALLY_FILLED,
            venue_status="match",
            event_time=1656665019000,
            fill=expected_fill,
            sequence=101180,
        )
    ]


def test_stream_match_event_decimal_price_is_exact() -> None:
    (result,) = run("stream", load("stream_orderMatchEvent_VN30F2412.json"))
    assert result.fill is not None
    assert (result.fill.price, result.fill.qty, result.fill.side) == (D("1285.5"), D(2), Side.SELL)


def test_stream_order_error_on_placing_request_rejects_order() -> None:
    assert run("stream", load("stream_orderError_new_order_ORD015.json")) == [
        event(
            event_id="ssi:error:T20230504w3806163422:6163422:ORD015",
            account="0322206",
            order_id="T20230504w3806163422",
            symbol="SSI/VND",
            venue_symbol="SSI",
            side=Side.BUY,
            order_type="limit",
            status=OrderStatus.REJECTED,
            venue_status="ORD015",
            event_time=1683165600161,
            qty=D(200),
            price=D(19600),
            client_order_id="6163422",
        )
    ]


def test_stream_order_error_of_other_request_yields_nothing() -> None:
    assert run("stream", load("stream_orderError_request_ERR500.json")) == []
    payload = load("stream_orderError_new_order_ORD015.json")
    payload["data"]["uniqueID"] = "7000001"  # a cancel/modify request on that order
    assert run("stream", payload) == []


def test_stream_portfolio_event_yields_nothing() -> None:
    assert run("stream", {"type": "clientPortfolioEvent", "data": {"account": "0901358"}}) == []


def test_stream_data_encoded_as_json_string_is_decoded() -> None:
    payload = load("stream_orderEvent_PF.json")
    payload["data"] = orjson.dumps(payload["data"]).decode()
    assert run("stream", payload) == run("stream", load("stream_orderEvent_PF.json"))


def test_stream_without_account_uses_envelope_account() -> None:
    payload = load("stream_orderEvent_PF.json")
    del payload["data"]["account"]
    assert run("stream", payload, account="0901358")[0].account == "0901358"


def test_registry_serves_ssi_normalizer() -> None:
    assert isinstance(normalizer_for("ssi"), SsiNormalizer)


def test_to_symbol_stock_and_derivative() -> None:
    assert to_symbol("HPG", "x") == "HPG/VND"
    assert to_symbol("VN30F2412", "x") == "VN30F2412/VND"


# --- status mapping, every row ---------------------------------------------------------------

# code, quantity overrides, expected status, expected cancel reason
STATUS_ROWS: list[tuple[str, dict[str, Any], OrderStatus, CancelReason | None]] = [
    ("WA", {"filledQty": 0, "osQty": 5}, OrderStatus.OPEN, None),
    ("RS", {"filledQty": 0, "osQty": 5}, OrderStatus.OPEN, None),
    ("SD", {"filledQty": 0, "osQty": 5}, OrderStatus.OPEN, None),
    ("QU", {"filledQty": 0, "osQty": 5}, OrderStatus.OPEN, None),
    ("QU", {}, OrderStatus.PARTIALLY_FILLED, None),
    ("PF", {}, OrderStatus.PARTIALLY_FILLED, None),
    ("FF", {"filledQty": 5, "osQty": 0}, OrderStatus.FILLED, None),
    ("FFPC", {"cancelQty": 3, "osQty": 0}, OrderStatus.CANCELED, CancelReason.USER),
    ("FFPC", {"filledQty": 5, "osQty": 0}, OrderStatus.FILLED, None),
    ("WM", {}, OrderStatus.PARTIALLY_FILLED, None),
    ("WM", {"filledQty": 0, "osQty": 5}, OrderStatus.OPEN, None),
    ("WC", {}, OrderStatus.PENDING_CANCEL, None),
    ("CL", {"cancelQty": 3, "osQty": 0}, OrderStatus.CANCELED, CancelReason.USER),
    ("RJ", {"filledQty": 0}, OrderStatus.REJECTED, None),
    ("EX", {"filledQty": 0, "cancelQty": 5}, OrderStatus.EXPIRED, None),
    ("SOR", {"filledQty": 0}, OrderStatus.UNTRIGGERED, None),
    ("SOS", {"filledQty": 0}, OrderStatus.OPEN, None),
    ("IAV", {"filledQty": 0}, OrderStatus.OPEN, None),
    ("SOI", {"filledQty": 0}, OrderStatus.UNTRIGGERED, None),
    ("PD", {"filledQty": 0}, OrderStatus.OPEN, None),
]


def test_status_rows_cover_every_code() -> None:
    assert {row[0] for row in STATUS_ROWS} == set(STATUS_MAP)


@pytest.mark.parametrize(("code", "overrides", "expected", "reason"), STATUS_ROWS)
def test_order_event_status_code_maps_to_canonical(
    code: str, overrides: dict[str, Any], expected: OrderStatus, reason: CancelReason | None
) -> None:
    payload = load("stream_orderEvent_PF.json")
    payload["data"].update(orderStatus=code, **overrides)
    (result,) = run("stream", payload)
    assert (result.status, result.cancel_reason, result.venue_status) == (expected, reason, code)


@pytest.mark.parametrize(("alias", "code"), sorted(STATUS_ALIASES.items()))
def test_status_long_name_resolves_to_code(alias: str, code: str) -> None:
    assert status_code(alias, "orderStatus") == code


@pytest.mark.parametrize(
    ("label", "expected"),
    [
        ("PENDING_APPROVAL", OrderStatus.OPEN),  # seed 001 spellings
        ("READY", OrderStatus.OPEN),
        ("SENT", OrderStatus.OPEN),
        ("QUEUED", OrderStatus.OPEN),
        ("PARTIAL_FILLED", OrderStatus.PARTIALLY_FILLED),
        ("Qu", OrderStatus.OPEN),  # the spec appendix's mixed case
        ("Queue in Exch", OrderStatus.OPEN),
        ("cancelled", OrderStatus.CANCELED),
    ],
)
def test_order_event_status_spellings_are_accepted(label: str, expected: OrderStatus) -> None:
    payload = load("stream_orderEvent_PF.json")
    payload["data"].update(orderStatus=label, filledQty=0, avgPrice=0, osQty=5)
    (result,) = run("stream", payload)
    assert (result.status, result.venue_status) == (expected, label)


# --- malformed payloads ----------------------------------------------------------------------


def _stream(**changes: Any) -> Any:
    payload = load("stream_orderEvent_PF.json")
    payload["data"].update(changes)
    return payload


def _match(**changes: Any) -> Any:
    payload = load("stream_orderMatchEvent_VN30F2412.json")
    payload["data"].update(changes)
    return payload


@pytest.mark.parametrize(
    ("channel", "payload", "field"),
    [
        ("stream", _stream(orderID=None), "data.orderID"),
        ("stream", _stream(orderStatus="ZZ"), "data.orderStatus"),
        ("stream", _stream(buySell="X"), "data.buySell"),
        ("stream", _stream(orderType="XYZ"), "data.orderType"),
        ("stream", _stream(quantity="many"), "data.quantity"),
        ("stream", _stream(filledQty=True), "data.filledQty"),
        ("stream", _stream(modifiedTime="noon"), "data.modifiedTime"),
        ("stream", _stream(instrumentID="HPG VN"), "data.instrumentID"),
        ("stream", _stream(notifyID="twelve"), "data.notifyID"),
        ("stream", _match(notifyID=None), "data.notifyID"),
        ("stream", _match(matchQty=0), "data.matchQty"),
        ("stream", _match(matchPrice="?"), "data.matchPrice"),
        ("stream", _match(matchTime=None), "data.matchTime"),
        ("stream", {"type": "orderEvent", "data": "{not json"}, "data"),
        ("stream", {"type": "orderEvent", "data": [1]}, "data"),
        ("stream", {"type": "somethingNew", "data": {}}, "type"),
        ("stream", {"data": {}}, "type"),
        ("rest.orderBook", load("error_reply.json"), "status"),
        ("rest.orderBook", {"status": 200, "data": {"account": "1"}}, "data.orders"),
        ("rest.orderBook", {"status": 200, "data": {"orders": [3]}}, "data.orders[0]"),
        ("rest.orderBook", {"status": 200, "data": {"orders": [{}]}}, "data.orders[0].orderID"),
        ("rest.orderHistories", {}, "channel"),
    ],
)
def test_malformed_payload_raises_naming_field(channel: str, payload: Any, field: str) -> None:
    with pytest.raises(NormalizationError) as caught:
        run(channel, payload)
    assert caught.value.field == field
    assert caught.value.venue == "ssi"


# --- stable event ids ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("channel", "name"),
    [
        ("rest.orderBook", "orderBook_response.json"),
        ("rest.auditOrderBook", "ssi_fctrading_auditOrderBook_response.json"),
        ("stream", "ssi_fctrading_stream_orderEvent_cancel_CL.json"),
        ("stream", "stream_orderEvent_PF.json"),
        ("stream", "ssi_fctrading_stream_orderMatchEvent.json"),
        ("stream", "stream_orderError_new_order_ORD015.json"),
    ],
)
def test_event_ids_do_not_depend_on_arrival(channel: str, name: str) -> None:
    first = [e.event_id for e in run(channel, load(name), received_at=1)]
    assert first == [e.event_id for e in run(channel, load(name), received_at=2)]
    assert len(set(first)) == len(first)


def test_snapshot_event_id_changes_with_state() -> None:
    payload = load("orderBook_response.json")
    before = run("rest.orderBook", copy.deepcopy(payload))[1].event_id
    payload["data"]["orders"][1].update(filledQty=500, modifiedTime="1686731070000")
    assert run("rest.orderBook", payload)[1].event_id != before


def test_match_trade_ids_of_one_millisecond_sort_in_stream_order() -> None:
    # notifyID 9 then 10 of order "B", then 11 of order "A": the order of execution
    reports = [_match(notifyID=n, orderID=o) for n, o in ((9, "B"), (10, "B"), (11, "A"))]
    fills = [run("stream", r)[0].fill for r in reports]
    assert all(f is not None for f in fills)
    keys = [(f.trade_time, f.trade_id, f.order_id) for f in fills if f is not None]  # positions'
    assert keys == sorted(keys)
    assert len({f.trade_id for f in fills if f is not None}) == 3


def test_match_with_negative_notify_id_raises_naming_it() -> None:
    with pytest.raises(NormalizationError) as info:
        run("stream", _match(notifyID=-1))
    assert info.value.field == "data.notifyID"


def test_order_history_reply_gives_the_events_of_the_same_orders_in_the_book() -> None:
    """Issue 14 item 7: past days' orders (`orderHistory`) read like the day's order book."""
    import json
    from pathlib import Path

    from pipeline.envelope import RawEnvelope
    from pipeline.venues import normalizer_for

    here = Path(__file__).parents[2] / "resources" / "venues" / "ssi"
    history = json.loads((here / "derived_orderHistory_response.json").read_text())
    book = json.loads((here / "orderBook_response.json").read_text())
    ssi = normalizer_for("ssi")
    got = ssi.normalize(RawEnvelope("ssi", "main", "rest.orderHistory", 1, history))
    want = ssi.normalize(RawEnvelope("ssi", "main", "rest.orderBook", 1, book))
    assert len(got) == len(history["data"]["orderHistories"]) >= 2
    assert got == want
