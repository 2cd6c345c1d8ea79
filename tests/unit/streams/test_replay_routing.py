"""`pipeline replay --input` routes each line to its raw topic by the envelope's venue."""

from __future__ import annotations

import pytest

from pipeline.envelope import RawEnvelope
from pipeline.streams.replay import _route


def test_a_line_the_pipeline_wrote_is_routed_by_its_leading_venue() -> None:
    line = RawEnvelope("binance", "acc", "userData", 1, {"e": "executionReport"}).encode()
    assert line.startswith(b'{"venue":"binance"')
    assert _route(line) == "raw.binance"


@pytest.mark.parametrize(
    ("line", "topic"),
    [
        (b'{"account": "a", "venue": "upbit", "payload": {}}', "raw.upbit"),  # other order
        (b' { "venue" : "ssi", "account": "a"}', "raw.ssi"),
        (b'{"venue": "nasdaq", "account": "a"}', "replay.unrouted"),  # no such raw topic
        (b'{"account": "a", "venue": 7}', "replay.unrouted"),
        (b"[1, 2]", "replay.unrouted"),
        (b"not json", "replay.unrouted"),
    ],
)
def test_other_lines_are_parsed_and_unknown_venues_are_unrouted(line: bytes, topic: str) -> None:
    assert _route(line) == topic
