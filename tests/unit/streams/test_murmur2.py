"""The producer's murmur2 partitions exactly as Kafka's default partitioner (aiokafka's)."""

from __future__ import annotations

from aiokafka.partitioner import murmur2 as reference
from hypothesis import given
from hypothesis import strategies as st

from pipeline.streams.producer import murmur2


@given(st.binary(max_size=200))
def test_murmur2_equals_kafkas_for_any_key(data: bytes) -> None:
    assert murmur2(data) == reference(data)


def test_murmur2_known_keys_of_every_tail_length() -> None:
    for key in (b"", b"a", b"ab", b"abc", b"abcd", b"binance|alice|BTCUSDT", b"\xff" * 7):
        assert murmur2(key) == reference(key)
