"""`bench-results.json`: the figures of one `pipeline bench` run, printed, written, compared.

The headline keys (`limit_events_per_s`, `naive_events_per_s`, `pipeline_events_per_s`,
`latency_p99_ms`, ...) are flat numbers so that two runs compare key by key; the details of
each measured program sit under `runs`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, TextIO

import orjson

# headline key -> label, in print order
HEADLINES: dict[str, str] = {
    "limit_events_per_s": "bare aiokafka getmany + orjson (limit)",
    "handfold_events_per_s": "minimal fold hand-rolled on aiokafka",
    "quix_events_per_s": "minimal fold, Quix Streams",
    "naive_events_per_s": "minimal fold, faust-streaming agent (naive peer)",
    "process_events_per_s": "our process role alone, full job",
    "pipeline_events_per_s": "our pipeline end to end (process + sink -> ClickHouse)",
    "sink_rows_per_s": "our sink role alone, rows/s",
    "sink_cpu_us_per_row": "our sink role alone, CPU µs per row",
    "process_vs_limit": "process / limit",
    "pipeline_vs_limit": "pipeline / limit",
    "process_vs_quix": "process / Quix Streams",
    "process_vs_naive": "process / faust",
    "latency_p50_ms": "latency p50, raw -> trading.orders (ms)",
    "latency_p99_ms": "latency p99, raw -> trading.orders (ms)",
}


def ratios(results: dict[str, Any]) -> None:
    """Add the ratio keys (None when a side was not measured)."""

    def ratio(a: str, b: str) -> float | None:
        x, y = results.get(a), results.get(b)
        return round(x / y, 3) if x and y else None

    results["process_vs_limit"] = ratio("process_events_per_s", "limit_events_per_s")
    results["pipeline_vs_limit"] = ratio("pipeline_events_per_s", "limit_events_per_s")
    results["process_vs_quix"] = ratio("process_events_per_s", "quix_events_per_s")
    results["process_vs_naive"] = ratio("process_events_per_s", "naive_events_per_s")


def print_table(results: dict[str, Any], out: TextIO) -> None:
    runs = results.get("runs", {})
    print(f"{'program':<58} {'events/s':>10} {'vs limit':>9} {'CPU µs/ev':>10} "
          f"{'peak RSS MB':>12}", file=out)  # fmt: skip
    limit = results.get("limit_events_per_s") or 0
    for name, run in runs.items():
        if name == "sink":
            if run.get("rows_per_s"):
                print(f"{run['label']:<58} {run['rows_per_s']:>10,.0f} {'rows/s':>9} "
                      f"{run['cpu_us_per_row']:>10.1f} {run['peak_rss_mb']:>12.0f}",
                      file=out)  # fmt: skip
            continue
        rate = run.get("events_per_s")
        if rate is None:
            print(f"{run.get('label', name):<58} {'-':>10}  ({run.get('skipped', '')})", file=out)
            continue
        vs = f"{rate / limit:.2f}" if limit else "-"
        rss = run.get("peak_rss_mb")
        rss_text = rss if isinstance(rss, str) else f"{rss:.0f}"
        print(f"{run.get('label', name):<58} {rate:>10,.0f} {vs:>9} "
              f"{run.get('cpu_us_per_event', 0):>10.1f} {rss_text:>12}", file=out)  # fmt: skip
    check = results.get("check", {})
    print(f"correctness: {'OK' if results.get('correct') else 'FAILED'} "
          f"({check.get('summary', '')})", file=out)  # fmt: skip
    for key in ("process_vs_limit", "pipeline_vs_limit", "process_vs_quix", "process_vs_naive"):
        if results.get(key) is not None:
            print(f"{HEADLINES[key]:<30} {results[key]:.3f}", file=out)
    process = runs.get("process", {})
    if process.get("orders_held"):
        blocked = process.get("event_loop_blocked", {})
        print(f"process role: {process['orders_held']:,} orders held, peak RSS / order "
              f"{process['peak_rss_bytes_per_order_held']:,} bytes; event loop blocked p99 "
              f"{blocked.get('p99_ms', 0):.0f} ms, max {blocked.get('max_ms', 0):.0f} ms",
              file=out)  # fmt: skip
    latency = results.get("latency")
    if latency:
        blocked = latency.get("event_loop_blocked", {})
        print(f"latency run: {latency['achieved_events_per_s']:,.0f} events/s offered for "
              f"{latency['seconds']:.0f} s; process event loop blocked p99 "
              f"{blocked.get('p99_ms', 0):.0f} ms, max {blocked.get('max_ms', 0):.0f} ms",
              file=out)  # fmt: skip
        for target, figures in latency.get("targets", {}).items():
            print(f"latency -> {target:<22} p50 {figures['p50_ms']:>8.0f} ms   "
                  f"p99 {figures['p99_ms']:>8.0f} ms   max {figures['max_ms']:>8.0f} ms",
                  file=out)  # fmt: skip


def write(results: dict[str, Any], path: Path) -> None:
    path.write_bytes(orjson.dumps(results, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS))


def compare(previous: dict[str, Any], current: dict[str, Any], out: TextIO) -> None:
    """Print each headline figure's change from `previous` to `current`."""
    print(f"{'figure':<58} {'previous':>12} {'now':>12} {'change':>8}", file=out)
    for key, label in HEADLINES.items():
        old, new = previous.get(key), current.get(key)
        if old is None and new is None:
            continue
        change = f"{(new - old) / old * 100:+.1f}%" if old and new is not None else "-"
        print(f"{label:<58} {_num(old):>12} {_num(new):>12} {change:>8}", file=out)


def _num(value: Any) -> str:
    if value is None:
        return "-"
    return f"{value:,.3f}" if isinstance(value, float) and value < 10 else f"{value:,.0f}"
