"""Per-venue engine policies and identifier schemes: what differs between venues' matching.

The matching itself is the same everywhere (price-time priority); venues differ in what
they allow and how they name things. `VenueRules` is the switchboard a venue kit sets once;
`IdScheme` makes order, trade and client ids in the venue's style, deterministically from
a seed so that a seeded run reproduces the same ids.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from enum import StrEnum

from pipeline.sim.engine.model import StpMode


class PostOnlyPolicy(StrEnum):
    REJECT = "reject"  # the request fails; no order exists (Binance LIMIT_MAKER)
    CANCEL = "cancel"  # the order is accepted, then canceled by the venue (Coinone)


class ClientIdReuse(StrEnum):
    NEVER = "never"  # Upbit identifier, Coinone user_order_id: never reusable
    WHILE_OPEN = "while_open"  # Binance: unique among the account's open orders


@dataclass(frozen=True, slots=True)
class VenueRules:
    """What one venue's engine allows.

    `generate_client_ids`: the venue names every order with a client id of its own making
    when the client sends none (Binance); otherwise the order simply has none (Upbit).
    `cancel_delay_ms`: a deferred cancel (`Exchange.request_cancel`) completes this long
    after it was acknowledged; Upbit and SSI register a cancel and finish it later, and a
    fill can still land in between (FACTS.md §6.2).
    """

    stp_modes: frozenset[StpMode] = frozenset(StpMode)
    post_only: PostOnlyPolicy = PostOnlyPolicy.REJECT
    reject_stop_triggering_now: bool = False
    partial_cancel: bool = False
    amend_keep_priority: bool = False
    max_amends: int = 10
    client_id_reuse: ClientIdReuse = ClientIdReuse.WHILE_OPEN
    generate_client_ids: bool = True
    cancel_delay_ms: int = 0


class IdStyle(StrEnum):
    UUID = "uuid"  # Upbit, Coinone, the futures gateway
    NUMERIC = "numeric"  # Binance, SSI


class IdScheme:
    """Order, trade and client ids for one venue, reproducible from `seed`.

    Numeric ids start at a 10-digit base so that, compared as text (the canonical model
    keeps ids as strings), they still sort in issue order. UUIDs and client-id tokens are
    hashed from the seed and a draw counter rather than read from a random stream, so that
    the whole scheme is a handful of counters (`state()`): a venue that keeps its state
    across restarts continues its sequences exactly and never issues an id twice.
    """

    def __init__(self, style: IdStyle, seed: int, client_prefix: str = "sim-") -> None:
        self.style = style
        self.seed = seed
        self._order_seq = 1_000_000_000
        self._trade_seq = 1_000_000_000
        self._client_seq = 0
        self._match_seq = 0
        self._uuid_seq = 0
        self.client_prefix = client_prefix

    def _digest(self, purpose: str, n: int) -> bytes:
        text = f"ids:{self.style}:{self.seed}:{purpose}:{n}"
        return hashlib.blake2b(text.encode(), digest_size=16).digest()

    def _uuid(self) -> str:
        self._uuid_seq += 1
        return str(uuid.UUID(bytes=self._digest("uuid", self._uuid_seq), version=4))

    def order_id(self) -> str:
        if self.style is IdStyle.UUID:
            return self._uuid()
        self._order_seq += 1
        return str(self._order_seq)

    def trade_id(self) -> str:
        if self.style is IdStyle.UUID:
            return self._uuid()
        self._trade_seq += 1
        return str(self._trade_seq)

    def client_order_id(self) -> str:
        self._client_seq += 1
        number = int.from_bytes(self._digest("client", self._client_seq), "big")
        token = ""
        for _ in range(10):
            number, digit = divmod(number, len(_TOKEN_ALPHABET))
            token += _TOKEN_ALPHABET[digit]
        return f"{self.client_prefix}{self._client_seq}-{token}"

    def match_id(self) -> int:
        self._match_seq += 1
        return self._match_seq

    def state(self) -> dict[str, int]:
        """Every counter of the scheme: with the seed, all it needs to continue."""
        return {
            "order": self._order_seq,
            "trade": self._trade_seq,
            "client": self._client_seq,
            "match": self._match_seq,
            "uuid": self._uuid_seq,
        }

    def restore(self, state: dict[str, int]) -> None:
        """Continue from `state()` of an earlier run (KeyError if a counter is missing)."""
        self._order_seq = int(state["order"])
        self._trade_seq = int(state["trade"])
        self._client_seq = int(state["client"])
        self._match_seq = int(state["match"])
        self._uuid_seq = int(state["uuid"])


_TOKEN_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789"
