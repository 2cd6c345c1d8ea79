"""Per-order outcomes and the command result on `commands.results` (command_result.v1).

An outcome starts `pending` once its request was sent (or `failed` / `not_found` /
`already_terminal` without one) and is resolved from the canonical state: `canceled`,
`partially_canceled`, `replaced`, or `already_terminal` when a fill won the race.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from typing import Any

from pipeline.domain.events import OrderStatus


class OutcomeStatus(StrEnum):
    """An outcome's `outcome` field on `commands.results` (the wire form is the value)."""

    PENDING = "pending"
    CANCELED = "canceled"
    PARTIALLY_CANCELED = "partially_canceled"
    REPLACED = "replaced"
    ALREADY_TERMINAL = "already_terminal"
    NOT_FOUND = "not_found"
    FAILED = "failed"


class CommandStatus(StrEnum):
    """A command result's `status` on `commands.results` (the wire form is the value)."""

    IN_PROGRESS = "in_progress"  # version 1: requests sent, confirmation pending
    COMPLETED = "completed"
    PARTIALLY_COMPLETED = "partially_completed"  # some outcomes failed, others succeeded
    FAILED = "failed"
    TIMED_OUT = "timed_out"  # some outcome not confirmed by the canonical state in time
    REJECTED = "rejected"  # refused before anything was sent (`reason` says why)


PENDING = OutcomeStatus.PENDING
CANCELED = OutcomeStatus.CANCELED
PARTIALLY_CANCELED = OutcomeStatus.PARTIALLY_CANCELED
REPLACED = OutcomeStatus.REPLACED
ALREADY_TERMINAL = OutcomeStatus.ALREADY_TERMINAL
NOT_FOUND = OutcomeStatus.NOT_FOUND
FAILED = OutcomeStatus.FAILED
SUCCESSES = frozenset({CANCELED, PARTIALLY_CANCELED, REPLACED})


class Expect(StrEnum):
    """What the confirmation of an outcome waits for in the canonical state (not published).

    The planner sets it from the request it plans, the executor from the venue's answer.
    """

    CANCEL = "cancel"  # the order ends canceled (another terminal state: already_terminal)
    REDUCE = "reduce"  # its quantity shrinks (amend): partially_canceled
    REPLACE = "replace"  # canceled and re-placed under a new id: replaced
    NONE = "none"  # settled when planned or sent: nothing to wait for
    ERROR = "error"  # the venue refused: the state may explain it within a grace, else failed
    EXTRA = "extra"  # a scope request canceled an order the plan did not know: canceled


def _dec(value: Decimal | None) -> str | None:
    return None if value is None else format(value.normalize(), "f")


@dataclass
class Outcome:
    order_id: str
    account: str | None = None
    symbol: str | None = None
    outcome: OutcomeStatus = PENDING
    requested_qty: Decimal | None = None
    canceled_qty: Decimal | None = None
    filled_qty: Decimal | None = None
    remaining_qty: Decimal | None = None
    new_order_id: str | None = None
    venue_error_code: str | None = None
    venue_error: str | None = None
    note: str | None = None
    latency_ms: int | None = None
    # what confirmation compares against (not published)
    base_canceled: Decimal = field(default=Decimal(0), repr=False)
    base_qty: Decimal | None = field(default=None, repr=False)
    expect: Expect = field(default=Expect.CANCEL, repr=False)
    sent_at: int | None = field(default=None, repr=False)

    @property
    def resolved(self) -> bool:
        return self.outcome != PENDING

    def to_dict(self) -> dict[str, Any]:
        return {
            "order_id": self.order_id,
            "account": self.account,
            "symbol": self.symbol,
            "outcome": self.outcome.value,
            "requested_qty": _dec(self.requested_qty),
            "canceled_qty": _dec(self.canceled_qty),
            "filled_qty": _dec(self.filled_qty),
            "remaining_qty": _dec(self.remaining_qty),
            "new_order_id": self.new_order_id,
            "venue_error_code": self.venue_error_code,
            "venue_error": self.venue_error,
            "note": self.note,
            "latency_ms": self.latency_ms,
        }

    def fail(self, code: str | None, message: str, note: str | None = None) -> None:
        self.outcome = FAILED
        self.venue_error_code = code
        self.venue_error = message[:300]
        if note:
            self.add_note(note)

    def add_note(self, note: str) -> None:
        self.note = note if not self.note else f"{self.note}; {note}"


def overall_status(outcomes: list[Outcome], final: bool, timed_out: bool) -> CommandStatus:
    if not final:
        return CommandStatus.IN_PROGRESS
    if timed_out:
        return CommandStatus.TIMED_OUT
    failed = sum(o.outcome == FAILED for o in outcomes)
    succeeded = sum(o.outcome in SUCCESSES for o in outcomes)
    if failed and succeeded:
        return CommandStatus.PARTIALLY_COMPLETED
    if failed:
        return CommandStatus.FAILED
    return CommandStatus.COMPLETED


def result_dict(
    command_id: str,
    venue: str,
    account: str | None,
    outcomes: list[Outcome],
    *,
    final: bool,
    started_at: int,
    finished_at: int,
    version: int,
    timed_out: bool = False,
    reason: str | None = None,
    status: CommandStatus | None = None,
    digest: str | None = None,
) -> dict[str, Any]:
    return {
        "command_id": command_id,
        "venue": venue,
        "account": account,
        "status": (status or overall_status(outcomes, final, timed_out)).value,
        "final": final,
        "reason": reason,
        "outcomes": [o.to_dict() for o in outcomes],
        "started_at": started_at,
        "finished_at": finished_at,
        "version": version,
        "command_digest": digest,
    }


def rejected_result(
    command_id: str, venue: str, account: str | None, reason: str, now: int, version: int = 1
) -> dict[str, Any]:
    return result_dict(
        command_id,
        venue,
        account,
        [],
        final=True,
        started_at=now,
        finished_at=now,
        version=version,
        reason=reason,
        status=CommandStatus.REJECTED,
    )


TERMINAL_NOTES = {
    OrderStatus.FILLED: "filled before the cancel took effect",
    OrderStatus.EXPIRED: "expired before the cancel took effect",
    OrderStatus.REJECTED: "rejected by the venue",
}
