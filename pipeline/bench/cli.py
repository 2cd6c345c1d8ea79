"""`pipeline bench`'s arguments, and the options they build (the CLI only parses)."""

from __future__ import annotations

import argparse
from pathlib import Path

from pipeline.bench.run import BenchOptions
from pipeline.errors import ConfigError

PEERS = ("limit", "handfold", "quix", "faust")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--events", type=int, default=200_000, help="raw envelopes generated")
    parser.add_argument("--seed", type=int, default=1, help="generator seed (reproducible flow)")
    parser.add_argument("--partitions", type=int, default=4, help="partitions per topic")
    parser.add_argument(
        "--peers", default=",".join(PEERS),
        help=f"comma-separated peers to run before the pipeline, of {', '.join(PEERS)} "
        "('' for none; quix only when quixstreams is installed: the bench extra)",
    )  # fmt: skip
    parser.add_argument(
        "--peer-timeout", type=float, default=90.0,
        help="seconds per peer; a slower peer reports what it did by then",
    )  # fmt: skip
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds for the pipeline")
    parser.add_argument("--output", type=Path, default=Path("bench-results.json"))
    parser.add_argument("--compare", type=Path, metavar="PREVIOUS.json",
                        help="print the change of each figure from an earlier run")  # fmt: skip
    parser.add_argument("--work-dir", type=Path, help="broker log and store here (kept)")
    parser.add_argument(
        "--latency-rate", type=float, default=0.0, metavar="EVENTS_PER_S",
        help="also measure latency at this offered load (e.g. 5000); 0 = not measured",
    )  # fmt: skip
    parser.add_argument("--latency-seconds", type=float, default=60.0)


def options_from(args: argparse.Namespace) -> BenchOptions:
    if args.events < 100:
        raise ConfigError("--events", args.events, "must be at least 100")
    peers = tuple(name.strip() for name in args.peers.split(",") if name.strip())
    unknown = [name for name in peers if name not in PEERS]
    if unknown:
        raise ConfigError("--peers", args.peers, f"unknown peer {unknown[0]!r}")
    if args.compare is not None and not args.compare.is_file():
        raise ConfigError("--compare", str(args.compare), "no such file")
    return BenchOptions(
        events=args.events, seed=args.seed, partitions=args.partitions, peers=peers,
        peer_timeout=args.peer_timeout, pipeline_timeout=args.timeout, output=args.output,
        compare=args.compare, work_dir=args.work_dir, latency_rate=args.latency_rate,
        latency_seconds=args.latency_seconds,
    )  # fmt: skip
