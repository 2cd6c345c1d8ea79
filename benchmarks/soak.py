"""The soak (issue 15): the main job for minutes at a high offered load with faults on.

    python benchmarks/soak.py [--minutes 10] [--rate 400] [--faults SPEC]
                              [--pauses 50,15] [--retention-hours 0.1]
                              [--json soak-results.json]
    make soak                          # the same, defaults as above

It runs `pipeline run` (embedded Tansu + chDB + the simulator of all five venues) as a child
process in a data directory of its own, with the simulator's venue faults on (duplicated,
reordered, malformed and dropped frames: the ingestors reconnect and recover), and pauses the
embedded broker (SIGSTOP ... SIGCONT) at even intervals for the given seconds each: the first
default pause (50 s) outlasts every client timeout, so the roles restart (roles.py), the
second (15 s) outlasts the group session only.

Every 10 s it samples the resident memory of the pipeline process and of the broker
(/proc/<pid>/status VmRSS) and the live view's `processed N raw ...; lag L` line. At the end:
the run's own comparison with the simulator's ground truth (zero loss: every order and
position matches), a duplicate check of the tables under FINAL (zero duplicates: no key with
two rows), the raw events per second achieved, the RSS of the first and last quarter (flat:
the last quarter's median within 15% of the second quarter's), and per pause the highest lag
after it and how long the lag took to come back under its level before the pause.

Exit status 0 when every check held, 1 otherwise. Figures go to --json too.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PIPELINE = Path(sys.executable).parent / "pipeline"
LAG_LINE = re.compile(r"processed (\d+) raw .*?; lag (\d+)")
TRUTH_LINE = re.compile(r"orders (\d+)/(\d+) match, positions (\d+)/(\d+) match")
TABLES = ("orders", "order_events", "fills", "positions")


@dataclass
class Sample:
    at_s: float
    pipeline_rss_mb: float
    broker_rss_mb: float
    processed: int | None
    lag: int | None


@dataclass
class Pause:
    at_s: float
    seconds: float
    lag_before: int | None = None
    lag_peak: int | None = None
    recovered_after_s: float | None = None  # from the resume to the lag back at its level


@dataclass
class Soak:
    minutes: float
    rate: float
    faults: str
    samples: list[Sample] = field(default_factory=list)
    pauses: list[Pause] = field(default_factory=list)
    exit_code: int | None = None
    truth: str | None = None
    duplicates: dict[str, int] = field(default_factory=dict)
    raw_events_per_s: float | None = None
    rss_q2_mb: float | None = None
    rss_q4_mb: float | None = None
    checks: dict[str, bool] = field(default_factory=dict)


def rss_mb(pid: int | None) -> float:
    if pid is None:
        return 0.0
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def broker_pid(data_dir: Path) -> int | None:
    try:
        state = json.loads((data_dir / "stack.json").read_text())
    except (OSError, ValueError):
        return None
    pid = state.get("broker_pid")
    return pid if isinstance(pid, int) else None


def last_lag(log: Path) -> tuple[int | None, int | None]:
    processed = lag = None
    try:
        text = log.read_text(errors="replace")[-20_000:]
    except OSError:
        return None, None
    for match in LAG_LINE.finditer(text):
        processed, lag = int(match.group(1)), int(match.group(2))
    return processed, lag


def count_duplicates(data_dir: Path) -> dict[str, int]:
    """Per table, the keys with more than one row under FINAL. The key is the table's own
    sorting key (what its ReplacingMergeTree replaces by), read from the store."""
    import clickhouse_connect

    client = clickhouse_connect.get_client(dsn=f"chdb://{(data_dir / 'store').resolve()}")
    out = {}
    for table in TABLES:
        key = client.query(
            "SELECT sorting_key FROM system.tables "
            "WHERE database = 'trading' AND name = {t:String}",
            parameters={"t": table},
        ).result_rows[0][0]
        where = " WHERE qty > 0" if table == "fills" else ""  # voids share their fill's key
        out[table] = int(
            client.query(
                f"SELECT count() FROM (SELECT {key}, count() AS n FROM trading.{table} FINAL"
                f"{where} GROUP BY {key} HAVING n > 1)"
            ).result_rows[0][0]
        )
    return out


def run(args: argparse.Namespace) -> Soak:
    soak = Soak(args.minutes, args.rate, args.faults)
    pauses = [float(p) for p in args.pauses.split(",") if p.strip()]
    duration = args.minutes * 60
    data_dir = Path(tempfile.mkdtemp(prefix="soak-"))
    log = data_dir.parent / f"{data_dir.name}.log"
    command = [
        str(PIPELINE), "run", "--data-dir", str(data_dir), "--duration", str(duration),
        "--rate", str(args.rate), "--faults", args.faults, "--seed", str(args.seed),
        "--metrics-port", "0",
    ]  # fmt: skip
    print("soak:", " ".join(command), f"(log {log})", flush=True)
    env = dict(os.environ, PIPELINE_ORDER_RETENTION_HOURS=str(args.retention_hours))
    with open(log, "wb") as out:
        child = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT, env=env)
    started = time.monotonic()
    plan = [(duration * (i + 1) / (len(pauses) + 1), s) for i, s in enumerate(pauses)]
    try:
        next_sample = 0.0
        while child.poll() is None:
            now = time.monotonic() - started
            if plan and now >= plan[0][0]:
                _, seconds = plan.pop(0)
                soak.pauses.append(pause_broker(data_dir, log, seconds, now))
                now = time.monotonic() - started
            if now >= next_sample:
                processed, lag = last_lag(log)
                soak.samples.append(
                    Sample(
                        round(now, 1),
                        round(rss_mb(child.pid), 1),
                        round(rss_mb(broker_pid(data_dir)), 1),
                        processed,
                        lag,
                    )
                )
                print(f"  {soak.samples[-1]}", flush=True)
                next_sample = now + 10
            time.sleep(1.0)
    except KeyboardInterrupt:
        child.send_signal(signal.SIGINT)
    soak.exit_code = child.wait()
    text = log.read_text(errors="replace")
    truth = TRUTH_LINE.findall(text)
    soak.truth = "orders {}/{} match, positions {}/{} match".format(*truth[-1]) if truth else None
    soak.duplicates = count_duplicates(data_dir)
    summarize(soak, duration)
    return soak


def pause_broker(data_dir: Path, log: Path, seconds: float, at: float) -> Pause:
    pause = Pause(round(at, 1), seconds, lag_before=last_lag(log)[1])
    pid = broker_pid(data_dir)
    if pid is None:
        return pause
    print(f"  pausing the broker (pid {pid}) for {seconds:.0f} s", flush=True)
    os.kill(pid, signal.SIGSTOP)
    try:
        time.sleep(seconds)
    finally:
        os.kill(pid, signal.SIGCONT)
    resumed = time.monotonic()
    level = max(pause.lag_before or 0, 1_000)
    peak = 0
    while time.monotonic() - resumed < 240:
        time.sleep(2.0)
        lag = last_lag(log)[1] or 0
        peak = max(peak, lag)
        if time.monotonic() - resumed > 10 and lag <= level:
            pause.recovered_after_s = round(time.monotonic() - resumed, 1)
            break
    pause.lag_peak = peak
    return pause


def summarize(soak: Soak, duration: float) -> None:
    processed = [s.processed for s in soak.samples if s.processed is not None]
    if processed:
        soak.raw_events_per_s = round(max(processed) / duration, 1)
    quarter = max(1, len(soak.samples) // 4)
    q2 = [s.pipeline_rss_mb for s in soak.samples[quarter : 2 * quarter]]
    q4 = [s.pipeline_rss_mb for s in soak.samples[-quarter:]]
    soak.rss_q2_mb = round(statistics.median(q2), 1) if q2 else None
    soak.rss_q4_mb = round(statistics.median(q4), 1) if q4 else None
    soak.checks = {
        "run exited 0 (tables match the ground truth)": soak.exit_code == 0,
        "no duplicates under FINAL": not any(soak.duplicates.values()),
        "RSS flat (last quarter within 15% of the second)": bool(
            soak.rss_q2_mb and soak.rss_q4_mb and soak.rss_q4_mb <= soak.rss_q2_mb * 1.15
        ),
        "lag recovered after every pause": all(
            p.recovered_after_s is not None for p in soak.pauses
        ),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--rate", type=float, default=400.0, help="simulator actions/s")
    parser.add_argument(
        "--faults", default="duplicate=0.05,reorder=0.05,malformed=0.005,drop=0.0005"
    )
    parser.add_argument("--pauses", default="50,15", help="broker pauses, seconds each")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--retention-hours", type=float, default=0.1,
        help="order retention of the run (PIPELINE_ORDER_RETENTION_HOURS): short, so that "
        "the held state reaches its steady size within the soak",
    )  # fmt: skip
    parser.add_argument("--json", type=Path, default=Path("soak-results.json"))
    args = parser.parse_args(argv)
    soak = run(args)
    print(f"\nsoak: {soak.minutes:g} min, simulator rate {soak.rate:g} actions/s, faults "
          f"{soak.faults}")  # fmt: skip
    print(f"  raw events/s processed (average): {soak.raw_events_per_s}")
    print(f"  ground truth: {soak.truth}; exit code {soak.exit_code}")
    print(f"  duplicates under FINAL: {soak.duplicates}")
    print(f"  pipeline RSS median, 2nd quarter {soak.rss_q2_mb} MB, last quarter "
          f"{soak.rss_q4_mb} MB")  # fmt: skip
    for p in soak.pauses:
        print(f"  broker paused {p.seconds:.0f} s at {p.at_s:.0f} s: lag {p.lag_before} before, "
              f"peak {p.lag_peak}, back under its level {p.recovered_after_s} s after the "
              "resume")  # fmt: skip
    for name, ok in soak.checks.items():
        print(f"  [{'ok' if ok else 'FAILED'}] {name}")
    args.json.write_text(json.dumps(asdict(soak), indent=2))
    print(f"figures written to {args.json}")
    return 0 if all(soak.checks.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
