"""`pipeline`: the command line. It only parses arguments, builds settings and calls run().

Exit codes: 0 success, 1 a runtime failure or rejected input, 2 a configuration error (one
line on stderr naming the setting and its masked value).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from pipeline.config import (
    ENV_CLICKHOUSE,
    ENV_KAFKA,
    Settings,
    load_settings,
    parse_bootstrap,
    parse_clickhouse_url,
)
from pipeline.errors import ConfigError, PipelineError

log = logging.getLogger("pipeline")


_COMMON_FLAGS = ("kafka_bootstrap", "clickhouse_url", "data_dir", "partitions", "log_level")


def _common(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("settings (override the PIPELINE_* environment)")
    group.add_argument("--kafka-bootstrap", metavar="HOST:PORT", help=f"overrides {ENV_KAFKA}")
    group.add_argument(
        "--clickhouse-url",
        metavar="URL",
        help=f"overrides {ENV_CLICKHOUSE} (http(s)://user:pass@host:port/db or chdb:///path)",
    )
    group.add_argument("--data-dir", type=Path, help="embedded data directory (default: data)")
    group.add_argument("--partitions", type=int, help="partitions per created topic")
    group.add_argument("--log-level", choices=["DEBUG", "INFO", "WARNING", "ERROR"])


def _metrics_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--metrics-port",
        type=int,
        metavar="PORT",
        help="serve Prometheus /metrics on PORT, 0 = off (default: PIPELINE_METRICS_PORT or "
        "9400; one port per process)",
    )


def build_settings(args: argparse.Namespace) -> Settings:
    settings = load_settings()
    changes: dict[str, Any] = {}
    if args.kafka_bootstrap:
        changes["kafka_bootstrap"] = parse_bootstrap(args.kafka_bootstrap, "--kafka-bootstrap")
    if args.clickhouse_url:
        changes["clickhouse"] = parse_clickhouse_url(args.clickhouse_url, "--clickhouse-url")
    if args.data_dir:
        changes["data_dir"] = args.data_dir
    if args.partitions is not None:
        if args.partitions <= 0:
            raise ConfigError("--partitions", args.partitions, "must be greater than zero")
        changes["partitions"] = args.partitions
    if args.log_level:
        changes["log_level"] = args.log_level
    return replace(settings, **changes)


def _ingest_config() -> object | None:
    """The ingestors' configuration file named by PIPELINE_INGEST_CONFIG, if any."""
    import os

    from pipeline.ingest import ENV_INGEST_CONFIG, load_ingest_config

    path = os.environ.get(ENV_INGEST_CONFIG)
    return load_ingest_config(path) if path else None


def _cancel_config() -> object | None:
    """The cancel role's configuration file named by PIPELINE_CANCEL_CONFIG, if any."""
    import os

    from pipeline.commands.config import ENV_CANCEL_CONFIG, load_cancel_config

    path = os.environ.get(ENV_CANCEL_CONFIG)
    return load_cancel_config(path) if path else None


def cmd_run(args: argparse.Namespace, settings: Settings) -> int:
    from pipeline.runner import run_pipeline

    if args.rate is not None and args.rate < 0:
        raise ConfigError("--rate", args.rate, "must not be negative")
    ingest = _ingest_config()
    sim_rate = None if args.no_sim or ingest is not None else args.rate
    return run_pipeline(
        settings, sys.stdout, args.duration, sim_rate, args.seed,
        ingest_config=ingest, cancel_config=_cancel_config(), sim_faults=args.faults,
        metrics_port=args.metrics_port,
    )  # fmt: skip


def cmd_worker(args: argparse.Namespace, settings: Settings) -> int:
    from pipeline.runner import run_worker

    roles = ("process", "sink") if args.role == "all" else (args.role,)
    ingest = _ingest_config() if args.role == "ingest" else None
    if args.role == "ingest" and ingest is None:
        raise ConfigError(
            "PIPELINE_INGEST_CONFIG", "(unset)", "the ingest role needs the ingestors' file"
        )
    cancel = _cancel_config() if args.role == "cancel" else None
    if args.role == "cancel" and cancel is None:
        raise ConfigError(
            "PIPELINE_CANCEL_CONFIG", "(unset)", "the cancel role needs its configuration file"
        )
    return run_worker(
        settings, sys.stdout, roles, args.duration, ingest_config=ingest, cancel_config=cancel,
        metrics_port=args.metrics_port,
    )  # fmt: skip


def cmd_replay(args: argparse.Namespace, settings: Settings) -> int:
    from pipeline.local.stack import resolve_bootstrap
    from pipeline.sink.migrations import migrate
    from pipeline.sink.store import open_store
    from pipeline.streams.replay import replay_file, replay_topics, truncate_tables

    if args.input is not None and not args.input.is_file():
        raise ConfigError("--input", str(args.input), "no such file")
    bootstrap = resolve_bootstrap(settings) if args.from_topics else None
    store = open_store(settings.store)
    migrate(store, cluster=settings.clickhouse_cluster)
    if args.truncate:
        truncate_tables(store)
    if bootstrap is not None:
        report = asyncio.run(replay_topics(bootstrap, store, settings.processing))
    else:
        report = replay_file(args.input, store, settings.processing)
    print(report.summary())
    return 0


def cmd_cancel(args: argparse.Namespace, settings: Settings) -> int:
    from pipeline.commands import cli as cancel_cli

    return cancel_cli.run(args, settings)


def cmd_sim(args: argparse.Namespace, settings: Settings) -> int:
    from pipeline.sim import cli as sim_cli

    return sim_cli.run(args)


def cmd_broker(args: argparse.Namespace, settings: Settings) -> int:
    from pipeline.runner import run_broker

    return run_broker(replace(settings, kafka_bootstrap=None), sys.stdout, args.duration)


def cmd_migrate(args: argparse.Namespace, settings: Settings) -> int:
    from pipeline.sink.migrations import migrate
    from pipeline.sink.store import open_store

    applied = migrate(open_store(settings.store), cluster=settings.clickhouse_cluster)
    names = ", ".join(f"{m.version:04d}_{m.name}" for m in applied) or "none (up to date)"
    print(f"{settings.store.masked_url}: applied {names}")
    return 0


def cmd_topics(args: argparse.Namespace, settings: Settings) -> int:
    from pipeline.kafka import describe_topics, ensure_topics
    from pipeline.local.stack import resolve_bootstrap

    bootstrap = resolve_bootstrap(settings)
    created = asyncio.run(
        ensure_topics(bootstrap, settings.partitions, settings.replication_factor)
    )
    print(f"created: {', '.join(created) or 'none (all exist)'}")
    for name, partitions in sorted(asyncio.run(describe_topics(bootstrap)).items()):
        print(f"  {name:<20} partitions={partitions}")
    return 0


def cmd_sql(args: argparse.Namespace, settings: Settings) -> int:
    from pipeline.local.query import run_query
    from pipeline.tables import render

    sql = args.query if args.query != "-" else sys.stdin.read()
    result = run_query(settings, sql, write=args.write)
    sys.stdout.write(render(result, args.format))
    return 0


def cmd_status(args: argparse.Namespace, settings: Settings) -> int:
    from pipeline.reports import status

    shown = status(settings)
    print("\n".join(shown.lines))
    return 0 if shown.running else 1


def cmd_report(args: argparse.Namespace, settings: Settings) -> int:
    from pipeline.reports import parse_since, report
    from pipeline.tables import render

    since = parse_since(args.since) if args.since else None
    result = report(settings, args.kind, venue=args.venue, account=args.account, since=since)
    sys.stdout.write(render(result, args.format))
    return 0


def cmd_normalize(args: argparse.Namespace, settings: Settings) -> int:
    from pipeline.seams import normalize_lines

    return normalize_lines(sys.stdin.buffer, sys.stdout, sys.stderr)  # bytes: see its docstring


def cmd_fold(args: argparse.Namespace, settings: Settings) -> int:
    from pipeline.seams import fold_lines

    return fold_lines(sys.stdin, sys.stdout, sys.stderr)


def cmd_bench(args: argparse.Namespace, settings: Settings) -> int:
    from pipeline.bench.cli import options_from
    from pipeline.bench.run import run_bench

    return run_bench(options_from(args), sys.stdout)


def make_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pipeline",
        description="Event-sourced pipeline for exchange orders and trades.",
    )
    from pipeline import __version__

    parser.add_argument("--version", action="version", version=f"pipeline {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def add(name: str, handler: Callable[..., int], help_text: str) -> argparse.ArgumentParser:
        command = sub.add_parser(name, help=help_text, description=help_text)
        _common(command)
        command.set_defaults(handler=handler)
        return command

    run = add("run", cmd_run, "run the pipeline on the embedded stack (or the configured one)")
    run.add_argument("--duration", type=float, metavar="SECONDS", help="stop after SECONDS")
    run.add_argument(
        "--rate", type=float, default=20.0, help="simulator order-flow actions per second"
    )
    run.add_argument("--seed", type=int, default=1, help="simulator seed (reproducible flow)")
    run.add_argument(
        "--faults",
        metavar="SPEC",
        help="simulator faults on every venue, e.g. duplicate=0.05,reorder=0.05,malformed=0.01",
    )
    run.add_argument(
        "--no-sim",
        action="store_true",
        help="no simulator: process what arrives on raw.* (implied by PIPELINE_INGEST_CONFIG)",
    )
    _metrics_flag(run)
    worker = add("worker", cmd_worker, "run pipeline roles against a configured or running stack")
    worker.add_argument(
        "--role", choices=["ingest", "process", "sink", "cancel", "all"], required=True
    )
    worker.add_argument("--duration", type=float, metavar="SECONDS", help="stop after SECONDS")
    _metrics_flag(worker)
    replay = add("replay", cmd_replay, "rebuild tables from a file of raw envelopes or raw.*")
    source = replay.add_mutually_exclusive_group(required=True)
    source.add_argument("--input", type=Path, metavar="FILE", help="raw envelopes, JSON lines")
    source.add_argument("--from-topics", action="store_true", help="from the start of raw.*")
    replay.add_argument("--truncate", action="store_true", help="empty the rebuilt tables first")
    broker = add("broker", cmd_broker, "run the embedded Kafka broker alone, for development")
    broker.add_argument("--duration", type=float, metavar="SECONDS", help="stop after SECONDS")
    add("migrate", cmd_migrate, "apply the ClickHouse migrations (idempotent)")
    add("topics", cmd_topics, "create the pipeline's Kafka topics (idempotent) and list them")
    sql = add("sql", cmd_sql, "query the store and print the result (works during `run`)")
    sql.add_argument("query", help="the SQL, or - to read it from stdin")
    sql.add_argument(
        "--format",
        choices=["table", "csv", "json", "jsonl"],
        default="table",
        help="json: one document {meta, data, rows}; jsonl: one object per row",
    )
    sql.add_argument(
        "--write",
        action="store_true",
        help="allow statements that change the store (default: read-only, readonly=1); "
        "refused while a run owns the embedded store",
    )
    add("status", cmd_status, "who runs, the groups' lag, last event, open orders and positions "
        "per venue, dead letters in the last hour (exit code 1: no pipeline running)")  # fmt: skip
    rep = add("report", cmd_report, "orders, fills or positions as a table or CSV (works "
              "during `run` and after it)")  # fmt: skip
    rep.add_argument("kind", choices=["orders", "fills", "positions"])
    rep.add_argument("--venue", help="one venue")
    rep.add_argument("--account", help="one account")
    rep.add_argument("--since", metavar="WHEN", help="a duration back (30m, 6h, 7d) or an ISO time")
    rep.add_argument("--format", choices=["table", "csv", "json", "jsonl"], default="table")
    sim = sub.add_parser(
        "sim",
        help="run the exchange simulator (the venues' protocols on loopback)",
        description="Run the exchange simulator: the venues' real protocols on loopback.",
    )
    from pipeline.sim import cli as sim_cli

    sim_cli.add_arguments(sim)
    sim.set_defaults(handler=cmd_sim, **dict.fromkeys(_COMMON_FLAGS))
    from pipeline.commands import cli as cancel_cli

    cancel = add("cancel", cmd_cancel, "publish a signed cancel command and print its result")
    cancel_cli.add_arguments(cancel)
    add("normalize", cmd_normalize, "raw envelopes (JSON lines, stdin) -> canonical events")
    add("fold", cmd_fold, "canonical events (JSON lines, stdin) -> final orders and positions")
    help_text = "benchmark the pipeline beside its peers on the embedded stack (bench-results.json)"
    bench = sub.add_parser("bench", help=help_text, description=help_text)
    from pipeline.bench import cli as bench_cli

    bench_cli.add_arguments(bench)
    bench.set_defaults(
        handler=cmd_bench, **dict.fromkeys(f for f in _COMMON_FLAGS if f != "partitions")
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = make_parser()
    args = parser.parse_args(argv)
    try:
        settings = build_settings(args)
        logging.basicConfig(
            level=settings.log_level,
            format="%(asctime)s %(levelname)s %(name)s: %(message)s",
            stream=sys.stderr,
        )
        if settings.log_level != "DEBUG":  # aiokafka's INFO is a line per join and rebalance
            logging.getLogger("aiokafka").setLevel(max(logging.WARNING, log.getEffectiveLevel()))
        return int(args.handler(args, settings))
    except ConfigError as exc:
        print(f"pipeline: configuration error: {exc}", file=sys.stderr)
        return 2
    except PipelineError as exc:
        print(f"pipeline: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `pipeline report fills | head`: the reader has what it wanted
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    sys.exit(main())
