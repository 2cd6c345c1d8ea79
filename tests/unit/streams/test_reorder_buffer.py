"""The reorder buffer: event-time order within the lateness window, late items released."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.streams.reorder import NO_WATERMARK, ReorderBuffer


def test_reorder_buffer_holds_items_until_the_watermark_passes_them() -> None:
    buffer: ReorderBuffer[str] = ReorderBuffer(lateness_ms=100)
    assert buffer.watermark == NO_WATERMARK
    assert not buffer.push(1_000, "a", "a")
    assert not buffer.push(950, "b", "b")
    assert buffer.drain() == []  # watermark 900: nothing is old enough
    assert not buffer.push(1_200, "c", "c")  # watermark 1100
    assert buffer.drain() == ["b", "a"]
    assert len(buffer) == 1


def test_reorder_buffer_item_behind_the_watermark_is_late_and_not_held() -> None:
    buffer: ReorderBuffer[str] = ReorderBuffer(lateness_ms=100)
    buffer.push(5_000, "a", "a")
    assert buffer.push(4_899, "late", "late")
    assert buffer.push(4_900, "edge", "edge") is False  # exactly at the watermark is on time
    assert "late" not in buffer.flush()


def test_reorder_buffer_ties_leave_in_tie_order() -> None:
    buffer: ReorderBuffer[str] = ReorderBuffer(lateness_ms=0)
    for tie in ("c", "a", "b"):
        buffer.push(10, tie, tie)
    assert buffer.flush() == ["a", "b", "c"]


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.integers(min_value=0, max_value=10_000), min_size=1, max_size=60),
    st.integers(min_value=0, max_value=2_000),
)
def test_reorder_buffer_output_is_sorted_except_late_and_loses_nothing(
    times: list[int], lateness: int
) -> None:
    buffer: ReorderBuffer[int] = ReorderBuffer(lateness_ms=lateness)
    released: list[int] = []
    late: list[int] = []
    for index, at in enumerate(times):
        if buffer.push(at, f"{index:05d}", at):
            late.append(at)
        released += buffer.drain()
    released += buffer.flush()
    assert sorted(released + late) == sorted(times)  # nothing lost, nothing duplicated
    assert released == sorted(released)  # on-time items leave in event-time order
