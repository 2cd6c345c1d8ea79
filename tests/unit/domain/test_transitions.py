"""Every row of the order transition table, written out independently of the code."""

from __future__ import annotations

import pytest

from pipeline.domain.events import OrderStatus
from pipeline.domain.transitions import PROGRESS_RANK, TRANSITIONS, Action, next_status

S = OrderStatus
COLUMNS = [
    S.UNTRIGGERED,
    S.OPEN,
    S.PARTIALLY_FILLED,
    S.PENDING_CANCEL,
    S.FILLED,
    S.CANCELED,
    S.REJECTED,
    S.EXPIRED,
]
# A = accept, L = accept only from a live (non-snapshot) report, . = ignore
EXPECTED = {
    None: "AAAAAAAA",
    S.UNTRIGGERED: "AAAAAAAA",
    S.OPEN: ".AAAAAAA",
    S.PARTIALLY_FILLED: "..AAAAAA",
    S.PENDING_CANCEL: ".LLAAAAA",
    S.FILLED: "....A...",
    S.CANCELED: ".....A..",
    S.REJECTED: "......A.",
    S.EXPIRED: ".......A",
}
CODES = {"A": Action.ACCEPT, "L": Action.LIVE, ".": Action.IGNORE}
ROWS = [
    (current, incoming, CODES[code])
    for current, codes in EXPECTED.items()
    for incoming, code in zip(COLUMNS, codes, strict=True)
]


def test_transition_table_covers_every_pair_exactly():
    assert set(TRANSITIONS) == {(current, incoming) for current, incoming, _ in ROWS}


@pytest.mark.parametrize(("current", "incoming", "action"), ROWS)
def test_transition_row_matches_spec(current, incoming, action):
    assert TRANSITIONS[(current, incoming)] is action


@pytest.mark.parametrize(("current", "incoming", "action"), ROWS)
def test_next_status_row_live_and_snapshot(current, incoming, action):
    live = next_status(current, incoming, is_snapshot=False)
    snapshot = next_status(current, incoming, is_snapshot=True)
    assert live == (None if action is Action.IGNORE else incoming)
    assert snapshot == (incoming if action is Action.ACCEPT else None)


@pytest.mark.parametrize("terminal", [S.FILLED, S.CANCELED, S.REJECTED, S.EXPIRED])
def test_terminal_status_any_report_never_reopens(terminal):
    for incoming in COLUMNS:
        result = next_status(terminal, incoming, is_snapshot=False)
        assert result is None or result is terminal


def test_progress_rank_terminal_highest():
    assert max(PROGRESS_RANK.values()) == PROGRESS_RANK[S.FILLED] == PROGRESS_RANK[S.EXPIRED]
    assert PROGRESS_RANK[S.OPEN] < PROGRESS_RANK[S.PARTIALLY_FILLED] < PROGRESS_RANK[S.FILLED]
