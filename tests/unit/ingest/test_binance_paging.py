"""Binance gap recovery pages `allOrders` / `myTrades` in 24 h windows, 1000 items a page."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from pipeline.ingest.binance import DAY_MS, HISTORY_PAGE, BinanceIngestor
from pipeline.ingest.publisher import now_ms


class FakeVenue:
    """Answers each request with the next page, and records what was asked."""

    def __init__(self, pages: list[list[dict[str, Any]]]) -> None:
        self.pages = pages
        self.asked: list[tuple[str, dict[str, Any], str | None, str | None]] = []

    async def request(
        self, method: str, params: dict[str, Any], channel: str | None, symbol: str | None
    ) -> dict[str, Any]:
        self.asked.append((method, dict(params), channel, symbol))
        return {"id": "x", "status": 200, "result": self.pages.pop(0) if self.pages else []}


async def _walk(venue: FakeVenue, method: str, since: int, channel: str | None) -> list[int]:
    me = SimpleNamespace(request=venue.request)
    sizes = []
    async for items in BinanceIngestor._pages(me, method, "BTCUSDT", since, channel):  # type: ignore[arg-type]
        sizes.append(len(items))
    return sizes


async def test_windows_of_a_day_up_to_now_and_full_pages_continue_from_their_newest_time() -> None:
    since = now_ms() - DAY_MS - 3_600_000  # 25 hours ago: two windows
    full = [{"time": since + 10 + i // 2} for i in range(HISTORY_PAGE)]
    venue = FakeVenue([full, [{"time": since + 600}], []])
    sizes = await _walk(venue, "myTrades", since, "wsapi.myTrades")
    assert sizes == [HISTORY_PAGE, 1, 0]
    (m1, p1, c1, s1), (_, p2, _, _), (_, p3, _, _) = venue.asked
    assert (m1, c1, s1) == ("myTrades", "wsapi.myTrades", "BTCUSDT")  # published by the reader
    assert (p1["startTime"], p1["endTime"]) == (since, since + DAY_MS - 1)
    assert p2["startTime"] == full[-1]["time"]  # the full page's last millisecond, read again
    assert p2["endTime"] == p2["startTime"] + DAY_MS - 1  # a window is 24 h from its start
    assert p3["startTime"] == p2["endTime"] + 1  # the next window, ending now
    assert p3["endTime"] >= p3["startTime"]


async def test_all_orders_replies_are_not_published_and_a_week_is_the_limit() -> None:
    venue = FakeVenue([])
    since = now_ms() - 30 * DAY_MS
    sizes = await _walk(venue, "allOrders", since, None)
    assert len(sizes) == 8  # 7 days in 24 h windows, the last one ending now
    assert all(channel is None and symbol is None for _, _, channel, symbol in venue.asked)
    assert venue.asked[0][1]["startTime"] >= now_ms() - 7 * DAY_MS - 1_000
