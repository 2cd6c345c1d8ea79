"""The live view's lines (issue 16 item 8): the endpoints header stays on every redraw,
ingest dead letters are counted with the processor's, the reorder buffer and the group's lag
are shown, and the store gives this minute's raw -> row latency (p50/p99)."""

from __future__ import annotations

from types import SimpleNamespace

from pipeline.ingest.stats import IngestStats
from pipeline.liveview import Rates, render
from pipeline.sink.store import Store


def _roles(store_lag: int | None = 0) -> SimpleNamespace:
    ingest = IngestStats()
    ingest.venue("upbit").published = 100
    ingest.venue("upbit").dead_letters = 3
    process = SimpleNamespace(stats=SimpleNamespace(
        records=40, normalized=60, duplicates=1, late=0, dead_letters=2, reorder_depth=7,
    ))  # fmt: skip
    ctx = SimpleNamespace(endpoints=("broker: 127.0.0.1:9092", "metrics: http://127.0.0.1:9400"))
    return SimpleNamespace(ctx=ctx, ingest_stats=ingest, process=process, sink=None,
                           process_lag=store_lag)  # fmt: skip


def test_header_dead_letters_reorder_buffer_and_group_lag() -> None:
    roles = _roles(store_lag=0)
    for _ in range(2):  # every redraw, not only the first
        lines = render(roles, Rates(), None)
        assert lines[1:3] == ["broker: 127.0.0.1:9092", "metrics: http://127.0.0.1:9400"]
    processed = next(line for line in lines if line.startswith("processed "))
    assert "5 dead letters of which 3 at ingest" in processed
    assert "reorder buffer 7" in processed
    # the group's lag (0: another worker did the rest), not published - processed here (60)
    assert processed.endswith("lag 0")
    unknown = next(line for line in render(_roles(None), Rates(), None) if "processed" in line)
    assert "lag" not in unknown.split(";")[-1]


def test_store_lines_give_this_minutes_latency(store: Store) -> None:
    db = store.database
    store.command(
        f"INSERT INTO {db}.order_events (event_id, venue, account, order_id, symbol, "
        "venue_symbol, side, order_type, status, venue_status, is_snapshot, event_time, "
        "received_at, written_at) SELECT toString(number), 'upbit', 'a', toString(number), "
        "'BTC/KRW', 'KRW-BTC', 'buy', 'limit', 'open', 'wait', 0, now64(3), "
        "now64(3) - toIntervalMillisecond(number * 10), now64(3) FROM numbers(100)"
    )
    lines = render(SimpleNamespace(ingest_stats=None, process=None, sink=None), Rates(), store)
    latency = next(line for line in lines if line.startswith("latency raw -> row"))
    assert latency.startswith("latency raw -> row (last 60 s, 100 events): p50 ")
    p50 = int(latency.split("p50 ")[1].split(" ms")[0])
    p99 = int(latency.split("p99 ")[1].split(" ms")[0])
    assert 480 <= p50 <= 510
    assert 970 <= p99 <= 1000
