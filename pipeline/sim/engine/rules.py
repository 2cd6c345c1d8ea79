"""Per-venue engine policies and identifier schemes: what differs between venues' matching.

The matching itself is the same everywhere (price-time priority); venues differ in what
they allow and how they name things. `VenueRules` is the switchboard a venue kit sets once;
`IdScheme` makes order, trade and client ids in the venue's style, deterministically from
a seed so that a seeded run reproduces the same ids.
"""

from __future__ import annotations

import random
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
    keeps ids as strings), they still sort in issue order.
    """

    def __init__(self, style: IdStyle, seed: int, client_prefix: str = "sim-") -> None:
        self.style = style
        self._rng = random.Random(f"ids:{style}:{seed}")
        self._order_seq = 1_000_000_000
        self._trade_seq = 1_000_000_000
        self._client_seq = 0
        self._match_seq = 0
        self.client_prefix = client_prefix

    def _uuid(self) -> str:
        return str(uuid.UUID(int=self._rng.getrandbits(128), version=4))

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
        token = "".join(self._rng.choices("abcdefghijklmnopqrstuvwxyz0123456789", k=10))
        return f"{self.client_prefix}{self._client_seq}-{token}"

    def match_id(self) -> int:
        self._match_seq += 1
        return self._match_seq
