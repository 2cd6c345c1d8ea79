"""`CancelCommand`: the cancel command on `commands.cancel`, parsed and validated (pure).

Scopes (seed 000, schemas/json/cancel_command.v1.json):

    venue                          every open order on the venue (all accounts unless given)
    venue + symbol                 every open order of that symbol
    venue + symbol + order_id      that order's whole remainder
    ... + qty                      cancel that much of it (qty >= remaining: the remainder)

`parse_command` turns a decoded JSON object into a `CancelCommand` or raises
`CommandRejected` naming the first problem; nothing is sent to a venue for a rejected command.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any

import orjson

from pipeline.errors import PipelineError
from pipeline.venues.registry import VENUES

FIELDS = frozenset(
    {
        "command_id",
        "venue",
        "account",
        "symbol",
        "order_id",
        "qty",
        "issued_by",
        "issued_at",
        "signature",
    }
)
REQUIRED = ("command_id", "venue", "issued_by", "issued_at")


#: Longest identifier (account, symbol, order id, issuer, command id) a command may carry.
MAX_ID_CHARS = 128
MAX_SIGNATURE_CHARS = 256
MAX_ISSUED_AT = 2**53  # epoch ms far beyond any clock, and within what JSON carries exactly


class CommandRejected(PipelineError):
    """A command that must not run; `reason` is safe to publish (it never holds a secret).
    `detail`: what the operator's log may say beyond it (auth.py: why authentication
    failed, which is not published)."""

    def __init__(
        self, reason: str, command_id: str | None = None, detail: str | None = None
    ) -> None:
        self.reason = reason
        self.command_id = command_id
        self.detail = detail
        super().__init__(reason)


class Scope(StrEnum):
    VENUE = "venue"
    SYMBOL = "symbol"
    ORDER = "order"
    PARTIAL = "partial"


@dataclass(frozen=True, slots=True)
class CancelCommand:
    command_id: str
    venue: str
    issued_by: str
    issued_at: int
    account: str | None = None
    symbol: str | None = None
    order_id: str | None = None
    qty: Decimal | None = None
    signature: str | None = None

    @property
    def scope(self) -> Scope:
        if self.qty is not None:
            return Scope.PARTIAL
        if self.order_id is not None:
            return Scope.ORDER
        if self.symbol is not None:
            return Scope.SYMBOL
        return Scope.VENUE

    def to_dict(self) -> dict[str, Any]:
        """The wire form (optional fields omitted when unset)."""
        out: dict[str, Any] = {
            "command_id": self.command_id,
            "venue": self.venue,
            "issued_by": self.issued_by,
            "issued_at": self.issued_at,
        }
        for name in ("account", "symbol", "order_id"):
            value = getattr(self, name)
            if value is not None:
                out[name] = value
        if self.qty is not None:
            out["qty"] = format(self.qty, "f")
        if self.signature is not None:
            out["signature"] = self.signature
        return out

    @property
    def digest(self) -> str:
        """SHA-256 of the canonical form: two deliveries of one command have the same."""
        return hashlib.sha256(canonical_bytes(self.to_dict())).hexdigest()


def canonical_bytes(command: Mapping[str, Any]) -> bytes:
    """The bytes that are signed: every field but `signature`, keys sorted, compact JSON."""
    body = {k: v for k, v in command.items() if k != "signature"}
    return orjson.dumps(body, option=orjson.OPT_SORT_KEYS)


def _text(obj: Mapping[str, Any], name: str, required: bool) -> str | None:
    value = obj.get(name)
    if value is None:
        if required:
            raise CommandRejected(f"missing field {name!r}", _id(obj))
        return None
    if not isinstance(value, str) or not value.strip():
        raise CommandRejected(f"field {name!r} must be a non-empty string", _id(obj))
    if len(value) > MAX_ID_CHARS:
        raise CommandRejected(f"field {name!r} is longer than {MAX_ID_CHARS} characters", _id(obj))
    if not value.isprintable() or "|" in value:
        raise CommandRejected(
            f"field {name!r} holds a control, separator or '|' character", _id(obj)
        )
    return value


def _id(obj: Mapping[str, Any]) -> str | None:
    """The command id to answer a rejected command with, when it is a usable one."""
    value = obj.get("command_id")
    if isinstance(value, str) and value and len(value) <= MAX_ID_CHARS and value.isprintable():
        return value
    return None


def check_account(command: CancelCommand, accounts: Mapping[str, frozenset[str]]) -> None:
    """Refuse an `account` not configured for the command's venue. Only for authenticated
    commands: the answer tells which accounts exist."""
    if command.account is not None and command.account not in accounts.get(
        command.venue, frozenset()
    ):
        raise CommandRejected(
            f"unknown account {command.account!r} on {command.venue}", command.command_id
        )


def parse_qty(value: Any, command_id: str | None = None) -> Decimal:
    """A positive decimal from a decimal string (or an int); floats are refused as inexact."""
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise CommandRejected('qty must be a decimal string like "0.5"', command_id)
    try:
        qty = Decimal(str(value).strip())
    except InvalidOperation:
        raise CommandRejected(f"qty {str(value)[:40]!r} is not a decimal", command_id) from None
    if not qty.is_finite():
        raise CommandRejected("qty must be a finite decimal", command_id)
    if qty <= 0:
        raise CommandRejected(f"qty must be > 0 (got {qty})", command_id)
    return qty


def parse_command(obj: Any, accounts: Mapping[str, frozenset[str]] | None = None) -> CancelCommand:
    """Validate one decoded command; `accounts` (venue -> known accounts) checks `account`
    (`check_account`; the executor calls that after authentication instead)."""
    if not isinstance(obj, dict):
        raise CommandRejected("a command is a JSON object")
    unknown = sorted(set(obj) - FIELDS)
    if unknown:
        raise CommandRejected(f"unknown field(s) {unknown}", _id(obj))
    command_id = _text(obj, "command_id", True)
    assert command_id is not None
    venue = _text(obj, "venue", True)
    if venue not in VENUES:
        raise CommandRejected(f"unknown venue {venue!r}; known: {list(VENUES)}", command_id)
    issued_by = _text(obj, "issued_by", True)
    issued_at = obj.get("issued_at")
    if (
        isinstance(issued_at, bool)
        or not isinstance(issued_at, int)
        or not 0 <= issued_at < MAX_ISSUED_AT
    ):
        raise CommandRejected("issued_at must be epoch milliseconds (an integer)", command_id)
    account = _text(obj, "account", False)
    symbol = _text(obj, "symbol", False)
    order_id = _text(obj, "order_id", False)
    if order_id is not None and symbol is None:
        raise CommandRejected("order_id requires symbol (seed 000 scope 3)", command_id)
    qty = None
    if obj.get("qty") is not None:
        if order_id is None:
            raise CommandRejected("qty requires order_id and symbol (partial cancel)", command_id)
        qty = parse_qty(obj["qty"], command_id)
    signature = obj.get("signature")
    if signature is not None and (
        not isinstance(signature, str) or len(signature) > MAX_SIGNATURE_CHARS
    ):
        raise CommandRejected("signature must be a hex string", command_id)
    assert issued_by is not None
    command = CancelCommand(
        command_id=command_id,
        venue=venue,
        issued_by=issued_by,
        issued_at=issued_at,
        account=account,
        symbol=symbol,
        order_id=order_id,
        qty=qty,
        signature=signature,
    )
    if accounts is not None:
        check_account(command, accounts)
    return command
