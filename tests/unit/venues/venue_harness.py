"""What every venue's golden tests share: recorded payloads and a normalizer to run them.

`VenueHarness(venue, normalizer, account, received_at)` gives `load(name)` (a payload from
tests/resources/venues/<venue>/), `run(channel, payload)` (the events of one raw envelope) and
`one(channel, payload)` (exactly one event), so each venue's test file states only what is
particular to its venue.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pipeline.domain.events import OrderEvent
from pipeline.envelope import RawEnvelope
from pipeline.venues.base import Normalizer

RESOURCES = Path(__file__).parents[2] / "resources" / "venues"


class VenueHarness:
    def __init__(self, venue: str, normalizer: Normalizer, account: str, received_at: int) -> None:
        self.venue = venue
        self.normalizer = normalizer
        self.account = account
        self.received_at = received_at
        self.resources = RESOURCES / venue

    def load(self, name: str) -> Any:
        return json.loads((self.resources / name).read_text())

    def run(
        self,
        channel: str,
        payload: Any,
        received_at: int | None = None,
        account: str | None = None,
    ) -> list[OrderEvent]:
        envelope = RawEnvelope(
            self.venue,
            self.account if account is None else account,
            channel,
            self.received_at if received_at is None else received_at,
            payload,
        )
        return self.normalizer.normalize(envelope)

    def one(self, channel: str, payload: Any) -> OrderEvent:
        events = self.run(channel, payload)
        assert len(events) == 1, events
        return events[0]
