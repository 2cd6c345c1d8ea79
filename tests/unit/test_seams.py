"""The line seams: normalize (raw envelopes -> events) and fold (events -> states)."""

from __future__ import annotations

import io
from decimal import Decimal

import orjson
import pytest

from pipeline.codec import event_from_dict, event_to_dict
from pipeline.domain.events import Fill, Liquidity, OrderEvent, OrderStatus, Side
from pipeline.envelope import RawEnvelope
from pipeline.errors import NormalizationError
from pipeline.seams import fold_lines, normalize_lines
from pipeline.venues import registry

T0 = 1_700_000_000_000


class FakeNormalizer:
    """Payload `{"id", "status", "qty", "filled"?, "trade"?}` -> one event; `{}` -> error."""

    venue = "fake"

    def normalize(self, envelope: RawEnvelope) -> list[OrderEvent]:
        p = envelope.payload
        if "id" not in p:
            raise NormalizationError(self.venue, "id", None, "required field is missing")
        trade = p.get("trade")
        fill = None
        if trade is not None:
            fill = Fill(
                "fake", envelope.account, "BTC/USDT", "BTCUSDT", p["order"], trade["id"],
                Side.BUY, Decimal(trade["price"]), Decimal(trade["qty"]), Decimal(0), None,
                Liquidity.MAKER, p["t"], envelope.received_at,
            )  # fmt: skip
        return [
            OrderEvent(
                event_id=p["id"],
                venue="fake",
                account=envelope.account,
                order_id=p["order"],
                symbol="BTC/USDT",
                venue_symbol="BTCUSDT",
                side=Side.BUY,
                order_type="limit",
                status=OrderStatus(p["status"]),
                venue_status=p["status"].upper(),
                event_time=p["t"],
                received_at=envelope.received_at,
                qty=Decimal(p["qty"]),
                filled_qty=Decimal(p["filled"]) if "filled" in p else None,
                fill=fill,
            )
        ]


@pytest.fixture
def fake_venue(monkeypatch):
    monkeypatch.setitem(registry._normalizers, "fake", FakeNormalizer())


def envelope(payload, account="acc") -> str:
    raw = {
        "venue": "fake",
        "account": account,
        "channel": "ws",
        "received_at": T0,
        "payload": payload,
    }
    return orjson.dumps(raw).decode()


def run(seam, text):
    out, err = io.StringIO(), io.StringIO()
    code = seam(io.StringIO(text), out, err)
    return code, out.getvalue().splitlines(), err.getvalue().splitlines()


OPEN = {"id": "e1", "order": "o1", "status": "open", "qty": "2", "t": T0}
TRADE = {
    "id": "e2",
    "order": "o1",
    "status": "partially_filled",
    "qty": "2",
    "t": T0 + 1,
    "trade": {"id": "t1", "price": "100", "qty": "0.5"},
}


def test_normalize_lines_good_input_writes_events_exit_zero(fake_venue):
    code, out, err = run(normalize_lines, envelope(OPEN) + "\n\n" + envelope(TRADE) + "\n")
    assert (code, err) == (0, [])
    events = [event_from_dict(orjson.loads(line)) for line in out]
    assert [e.event_id for e in events] == ["e1", "e2"]
    assert events[1].fill is not None
    assert events[1].fill.qty == Decimal("0.5")


def test_normalize_lines_bad_lines_reported_and_skipped_exit_one(fake_venue):
    text = "\n".join(
        [
            "not json",
            envelope({}),
            envelope(OPEN).replace('"fake"', '"nowhere"'),
            orjson.dumps({"venue": "fake"}).decode(),
            envelope(OPEN),
        ]
    )
    code, out, err = run(normalize_lines, text)
    assert code == 1
    assert len(out) == 1
    assert [line.split(":")[0] for line in err] == ["line 1", "line 2", "line 3", "line 4"]
    assert err[0].startswith("line 1: bad_envelope:")
    assert err[1].startswith("line 2: bad_payload: fake: field 'id'")
    assert err[2].startswith("line 3: unknown_venue:")


def events_text(*payloads) -> str:
    _, out, _ = run_normalized(payloads)
    return "\n".join(out) + "\n"


def run_normalized(payloads):
    return run(normalize_lines, "\n".join(envelope(p) for p in payloads))


@pytest.mark.usefixtures("fake_venue")
def test_fold_lines_prints_sorted_orders_then_positions():
    other = {**OPEN, "id": "x1", "order": "a0"}
    code, out, err = run(fold_lines, events_text(TRADE, OPEN, other))
    assert (code, err) == (0, [])
    rows = [orjson.loads(line) for line in out]
    assert [(r["type"], r.get("order_id")) for r in rows] == [
        ("order", "a0"),
        ("order", "o1"),
        ("position", None),
    ]
    order = rows[1]
    assert (order["status"], order["filled_qty"], order["remaining_qty"], order["version"]) == (
        "partially_filled",
        "0.5",
        "1.5",
        2,
    )
    assert (rows[2]["qty"], rows[2]["avg_price"], rows[2]["version"]) == ("0.5", "100", 1)


@pytest.mark.usefixtures("fake_venue")
def test_fold_lines_input_order_and_duplicates_do_not_matter():
    forward = run(fold_lines, events_text(OPEN, TRADE))
    backward = run(fold_lines, events_text(TRADE, OPEN, TRADE))
    assert forward == backward


@pytest.mark.usefixtures("fake_venue")
def test_fold_lines_bad_and_illegal_lines_reported_exit_one():
    bad_event = event_to_dict(event_from_dict(orjson.loads(events_text(OPEN))))
    bad_event["filled_qty"] = "-1"
    bad_event["event_id"] = "neg"
    text = "{]\n" + orjson.dumps(bad_event).decode() + "\n" + events_text(OPEN)
    code, out, err = run(fold_lines, text)
    assert code == 1
    assert err[0].startswith("line 1: bad_input: not valid JSON")
    assert err[1].startswith("line 2: illegal_event:")
    assert len(out) == 1
