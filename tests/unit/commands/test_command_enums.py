"""The closed sets of the cancel path are enums, and their wire form did not change.

`commands.results` consumers and the `command_results` table read the outcome strings, so
the JSON a result serializes to must stay byte-identical to the strings used before.
"""

from __future__ import annotations

import json
from decimal import Decimal

import orjson

from pipeline.commands import results as r
from pipeline.commands.planner import ActionKind
from pipeline.domain.ledger import FoldOutcome
from pipeline.metrics import COMMAND_STATUSES, ORDER_OUTCOMES


def test_outcome_statuses_keep_their_wire_strings():
    assert {s.name: s.value for s in r.OutcomeStatus} == {
        "PENDING": "pending",
        "CANCELED": "canceled",
        "PARTIALLY_CANCELED": "partially_canceled",
        "REPLACED": "replaced",
        "ALREADY_TERMINAL": "already_terminal",
        "NOT_FOUND": "not_found",
        "FAILED": "failed",
    }
    assert {"canceled", "partially_canceled", "replaced"} == r.SUCCESSES


def test_command_statuses_keep_their_wire_strings():
    assert [s.value for s in r.CommandStatus] == [
        "in_progress", "completed", "partially_completed", "failed", "timed_out", "rejected",
    ]  # fmt: skip
    rejected = r.rejected_result("c2", "binance", None, "not authenticated", now=5)
    assert orjson.dumps(rejected) == (
        b'{"command_id":"c2","venue":"binance","account":null,"status":"rejected","final":true,'
        b'"reason":"not authenticated","outcomes":[],"started_at":5,"finished_at":5,'
        b'"version":1,"command_digest":null}'
    )
    assert type(rejected["status"]) is str


def test_metric_label_sets_are_the_final_statuses_and_outcomes():
    """The metrics pre-create a series per final status / outcome (pipeline/metrics.py)."""
    assert set(COMMAND_STATUSES) == set(r.CommandStatus) - {r.CommandStatus.IN_PROGRESS}
    assert set(ORDER_OUTCOMES) == set(r.OutcomeStatus) - {r.OutcomeStatus.PENDING}


def test_result_json_is_byte_identical_to_the_string_form():
    done = r.Outcome("o1", "alice", "BTC/KRW", r.CANCELED, canceled_qty=Decimal("0.50"))
    late = r.Outcome("o2", "alice", "BTC/KRW", requested_qty=Decimal("1"))
    late.fail("-2011", "Unknown order sent.")
    result = r.result_dict(
        "c1", "upbit", "alice", [done, late], final=True, started_at=1, finished_at=2, version=2
    )
    expected = (
        b'{"command_id":"c1","venue":"upbit","account":"alice","status":"partially_completed",'
        b'"final":true,"reason":null,"outcomes":['
        b'{"order_id":"o1","account":"alice","symbol":"BTC/KRW","outcome":"canceled",'
        b'"requested_qty":null,"canceled_qty":"0.5","filled_qty":null,"remaining_qty":null,'
        b'"new_order_id":null,"venue_error_code":null,"venue_error":null,"note":null,'
        b'"latency_ms":null},'
        b'{"order_id":"o2","account":"alice","symbol":"BTC/KRW","outcome":"failed",'
        b'"requested_qty":"1","canceled_qty":null,"filled_qty":null,"remaining_qty":null,'
        b'"new_order_id":null,"venue_error_code":"-2011","venue_error":"Unknown order sent.",'
        b'"note":null,"latency_ms":null}],'
        b'"started_at":1,"finished_at":2,"version":2,"command_digest":null}'
    )
    assert orjson.dumps(result) == expected
    # the outcome is a plain str in the dict: every JSON encoder writes the same text
    assert type(result["outcomes"][0]["outcome"]) is str
    assert json.dumps(result, separators=(",", ":")).encode() == expected


def test_expect_and_action_kinds_are_closed_sets():
    assert [e.value for e in r.Expect] == ["cancel", "reduce", "replace", "none", "error", "extra"]
    assert r.Outcome("o1").expect is r.Expect.CANCEL
    assert [k.value for k in ActionKind] == ["cancel", "cancel_scope", "amend", "replace"]


def test_fold_outcomes_keep_their_codes():
    assert {o.name: int(o) for o in FoldOutcome} == {
        "DUPLICATE": -1,
        "IN_ORDER": 0,
        "LATE": 1,
        "REPLACED": 2,
    }
