"""`pipeline sim`: run the exchange simulator from the command line.

    pipeline sim --rate 50 --duration 60 --seed 7 --secrets-out sim-keys.json \
                 --truth-out truth.json --faults upbit:duplicate=0.05,reorder=0.05

It prints the endpoints and account names, runs the order flow for `--duration` seconds (or
until interrupted), then settles (pending cancels complete) and prints a summary; the ground
truth goes to `--truth-out`. API keys are never printed: `--secrets-out` writes them to a
file readable only by its owner, for the pipeline's ingestors to load.

`add_arguments(parser)` and `run(args)` let `pipeline/cli.py` mount this as a subcommand.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import sys
from pathlib import Path
from typing import Any, TextIO

import orjson

from pipeline.sim.faults import FaultPlan
from pipeline.sim.kits import VENUE_KITS
from pipeline.sim.server import SimConfig, Simulator
from pipeline.sim.ssi import ANY_PIN
from pipeline.sim.worker_configs import cancel_config_document, ingest_config_document, write_json


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--rate", type=float, default=20.0, help="flow actions per second")
    parser.add_argument("--duration", type=float, help="seconds to run (default: until Ctrl-C)")
    parser.add_argument("--seed", type=int, default=1, help="seed of flow, ids and keys")
    parser.add_argument(
        "--venues", default=",".join(VENUE_KITS), help=f"comma list of {', '.join(VENUE_KITS)}"
    )
    parser.add_argument("--accounts", default="alice,bob,carol", help="comma list of accounts")
    parser.add_argument("--no-house", action="store_true", help="no liquidity provider")
    parser.add_argument(
        "--start-paused",
        action="store_true",
        help="no order flow until POST /control/flow?action=resume (once the ingestors are in)",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (loopback)")
    parser.add_argument(
        "--port", action="append", default=[], metavar="VENUE=PORT", help="fixed port per venue"
    )
    parser.add_argument("--control-port", type=int, default=0, help="control API port (0: any)")
    parser.add_argument(
        "--faults",
        action="append",
        default=[],
        metavar="[VENUE:]SPEC",
        help="fault plan, e.g. upbit:duplicate=0.05,reorder=0.1,slow_ms=10-50",
    )
    parser.add_argument("--secrets-out", type=Path, help="write the API keys here (mode 0600)")
    parser.add_argument("--truth-out", type=Path, help="write the ground truth here (JSON)")
    parser.add_argument(
        "--ingest-config-out",
        type=Path,
        help="write a PIPELINE_INGEST_CONFIG file for these venues (needs --secrets-out)",
    )
    parser.add_argument(
        "--cancel-config-out",
        type=Path,
        help="write a PIPELINE_CANCEL_CONFIG file for these venues (needs --secrets-out)",
    )
    parser.add_argument(
        "--cancel-issuer",
        default="ops",
        help="the issuer the cancel config allows everywhere (default: ops)",
    )


def build_config(args: argparse.Namespace) -> SimConfig:
    """A `SimConfig` from parsed arguments; `ValueError` names the bad argument."""
    venues = tuple(v for v in args.venues.split(",") if v)
    ports: dict[str, int] = {}
    for item in args.port:
        venue, _, port = item.partition("=")
        if venue not in venues or not port.isdigit():
            raise ValueError(f"--port {item!r}: expected VENUE=PORT for one of {venues}")
        ports[venue] = int(port)
    faults: dict[str, FaultPlan] = {}
    for item in args.faults:
        venue, sep, spec = item.partition(":")
        targets = (venue,) if sep else venues
        plan = FaultPlan.parse(spec if sep else item)
        for target in targets:
            if target not in venues:
                raise ValueError(f"--faults {item!r}: unknown venue {target!r}")
            faults[target] = plan
    if args.rate < 0:
        raise ValueError("--rate must not be negative")
    for flag, value in (("--ingest-config-out", args.ingest_config_out),
                        ("--cancel-config-out", args.cancel_config_out)):  # fmt: skip
        if value is not None and args.secrets_out is None:
            raise ValueError(f"{flag} {value}: needs --secrets-out (the file names the keys)")
    return SimConfig(
        seed=args.seed,
        rate=args.rate,
        venues=venues,
        accounts=tuple(a for a in args.accounts.split(",") if a),
        house=not args.no_house,
        host=args.host,
        ports=ports,
        control_port=args.control_port,
        faults=faults,
    )


def write_secrets(path: Path, simulator: Simulator) -> None:
    """The keys as `{venue: [{account, api_key, secret_key}]}`, readable by the owner only;
    SSI entries add `private_key` (the RSA key PEM that signs writes) and `pin` (any
    non-empty code opens the simulated AccessToken)."""

    def entry(credential: Any) -> dict[str, str]:
        found = {"account": credential.account, "api_key": credential.key,
                 "secret_key": credential.secret}  # fmt: skip
        if getattr(credential, "private_key", None):
            found.update(private_key=credential.private_key, pin=ANY_PIN)
        return found

    secrets = {
        venue: [entry(c) for c in simulator.credentials(venue)] for venue in simulator.servers
    }
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(orjson.dumps(secrets, option=orjson.OPT_INDENT_2))
    path.chmod(0o600)


async def serve(config: SimConfig, args: argparse.Namespace, out: TextIO) -> int:
    simulator = Simulator(config)
    await simulator.start(flow=not args.start_paused)
    try:
        for venue, endpoints in simulator.endpoints().items():
            accounts = ", ".join(c.account for c in simulator.credentials(venue))
            urls = " ".join(f"{name}={url}" for name, url in endpoints.items())
            out.write(f"{venue}: {urls} accounts: {accounts}\n")
        if simulator.control_url:
            out.write(f"control: {simulator.control_url}/control/status\n")
        if args.secrets_out:
            write_secrets(args.secrets_out, simulator)
            out.write(f"keys written to {args.secrets_out}\n")
            secrets = args.secrets_out.resolve()
            if args.ingest_config_out:
                write_json(args.ingest_config_out, ingest_config_document(simulator, secrets))
                out.write(f"ingest config written to {args.ingest_config_out}\n")
            if args.cancel_config_out:
                document = cancel_config_document(simulator, secrets, args.cancel_issuer)
                write_json(args.cancel_config_out, document)
                out.write(f"cancel config written to {args.cancel_config_out}\n")
        out.flush()
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, stop.set)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=args.duration)
        await simulator.quiesce()
        truth = simulator.truth()
        out.write(f"{truth.summary()}\n")
        out.write(f"flow: {sum(simulator.flow.actions.values())} actions\n")
        if args.truth_out:
            args.truth_out.write_bytes(orjson.dumps(truth.to_json(), option=orjson.OPT_INDENT_2))
            out.write(f"ground truth written to {args.truth_out}\n")
        return 0
    finally:
        await simulator.stop()


def run(args: argparse.Namespace) -> int:
    """Run the simulator; 0 on a clean end, 2 on a bad argument."""
    try:
        config = build_config(args)
    except ValueError as exc:
        sys.stderr.write(f"pipeline sim: {exc}\n")
        return 2
    return asyncio.run(serve(config, args, sys.stdout))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="pipeline sim", description=__doc__.split("\n")[0])
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
