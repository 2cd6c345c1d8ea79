"""Fault injection for the simulator's outgoing traffic, seeded and per connection.

Real venue connections duplicate, reorder and drop; the pipeline must survive that, so the
simulator can do it on request. A `FaultPlan` holds probabilities; each connection gets its
own `FaultInjector` (its own seeded random stream), which decides for every outgoing stream
frame what actually goes on the wire, as a list of actions:

- duplicate: the frame is sent twice;
- reorder: the frame is held back and sent after up to `reorder_window` later frames (or when
  the connection goes idle);
- drop: the connection is closed *instead of* sending the frame (it is lost, as in a real
  disconnect; clients must reconnect and resynchronise);
- malformed: a corrupted copy (truncated JSON or garbage) is sent before the real frame, so
  the receiver must dead-letter it without losing the real one;
- slow: a pause before the frame (and before request replies).

Replies to requests (REST, WebSocket API) are only ever slowed: duplicating or reordering a
reply would break request/response correlation, which no venue does.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace
from typing import Any


@dataclass(frozen=True, slots=True)
class FaultPlan:
    """Probabilities per outgoing frame (0 = never). `slow_ms` is the (min, max) pause."""

    duplicate: float = 0.0
    reorder: float = 0.0
    reorder_window: int = 3
    drop: float = 0.0
    malformed: float = 0.0
    slow: float = 0.0
    slow_ms: tuple[int, int] = (20, 200)

    def __post_init__(self) -> None:
        for name in ("duplicate", "reorder", "drop", "malformed", "slow"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"fault {name}={value}: a probability must be within [0, 1]")
        low, high = self.slow_ms
        if self.reorder_window < 1 or low < 0 or high < low:
            raise ValueError(f"fault plan out of range: {self}")

    @property
    def active(self) -> bool:
        return any((self.duplicate, self.reorder, self.drop, self.malformed, self.slow))

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> FaultPlan:
        """A plan from JSON-like values (unknown names are an error)."""
        known = set(cls.__dataclass_fields__)
        unknown = set(values) - known
        if unknown:
            raise ValueError(f"unknown fault(s): {', '.join(sorted(unknown))}")
        changes: dict[str, Any] = {}
        for name, value in values.items():
            if name == "slow_ms":
                low, high = value
                changes[name] = (int(low), int(high))
            elif name == "reorder_window":
                changes[name] = int(value)
            else:
                changes[name] = float(value)
        return replace(cls(), **changes)

    @classmethod
    def parse(cls, text: str) -> FaultPlan:
        """`duplicate=0.05,reorder=0.1,slow_ms=10-50` (the CLI form); empty means none."""
        values: dict[str, Any] = {}
        for item in filter(None, (part.strip() for part in text.split(","))):
            name, _, value = item.partition("=")
            if name == "slow_ms":
                low, _, high = value.partition("-")
                values[name] = (low, high or low)
            else:
                values[name] = value
        return cls.from_mapping(values)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class Send:
    text: str


@dataclass(frozen=True, slots=True)
class Pause:
    seconds: float


@dataclass(frozen=True, slots=True)
class Drop:
    """Close the connection; nothing more is sent on it."""


FaultAction = Send | Pause | Drop


class FaultInjector:
    """One connection's fault decisions. Pure: the caller performs the actions."""

    def __init__(self, plan: FaultPlan, rng: random.Random) -> None:
        self.plan = plan
        self._rng = rng
        self._held: list[str] = []
        self.counts: dict[str, int] = {
            "duplicate": 0, "reorder": 0, "drop": 0, "malformed": 0, "slow": 0,
        }  # fmt: skip

    def _hit(self, probability: float) -> bool:
        return probability > 0 and self._rng.random() < probability

    def _pause(self) -> Pause:
        low, high = self.plan.slow_ms
        self.counts["slow"] += 1
        return Pause(self._rng.uniform(low, high) / 1000)

    def outgoing(self, frame: str) -> list[FaultAction]:
        """What to do to send one stream frame."""
        plan = self.plan
        if not plan.active and not self._held:
            return [Send(frame)]
        if self._hit(plan.drop):
            self.counts["drop"] += 1
            self._held.clear()
            return [Drop()]
        actions: list[FaultAction] = []
        if self._hit(plan.slow):
            actions.append(self._pause())
        if self._hit(plan.malformed):
            self.counts["malformed"] += 1
            actions.append(Send(self._corrupt(frame)))
        if len(self._held) < plan.reorder_window and self._hit(plan.reorder):
            self.counts["reorder"] += 1
            self._held.append(frame)
            return actions
        actions.append(Send(frame))
        if self._hit(plan.duplicate):
            self.counts["duplicate"] += 1
            actions.append(Send(frame))
        if self._held and (len(self._held) >= plan.reorder_window or self._rng.random() < 0.5):
            actions.extend(self.flush())
        return actions

    def flush(self) -> list[FaultAction]:
        """Release the frames held back for reordering (on idle, or before closing)."""
        held, self._held = self._held, []
        return [Send(frame) for frame in held]

    def reply(self, frame: str) -> list[FaultAction]:
        """What to do to send one reply to a request: possibly a pause, then the reply."""
        if self._hit(self.plan.slow):
            return [self._pause(), Send(frame)]
        return [Send(frame)]

    def reply_delay(self) -> float:
        """Seconds to stall an HTTP reply (0 unless the plan says slow)."""
        return self._pause().seconds if self._hit(self.plan.slow) else 0.0

    def _corrupt(self, frame: str) -> str:
        if self._rng.random() < 0.5 and len(frame) > 2:
            return frame[: self._rng.randrange(1, len(frame) - 1)]  # truncated JSON
        return "\x00garbage{" + frame[::-1][:16]  # not JSON at all
