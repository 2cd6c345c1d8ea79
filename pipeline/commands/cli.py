"""`pipeline cancel`: publish one signed cancel command and print its result.

    pipeline cancel --venue binance --account alice --symbol BTC/USDT [--order-id ID]
                    [--qty Q] [--issuer ops-alice] [--no-wait] [--timeout 60]

The issuer's key comes from `PIPELINE_COMMAND_KEY_<ISSUER>` or the keys file named by
`PIPELINE_COMMAND_KEYS`, never from the command line. Exit codes: 0 completed, 1 anything
else (rejected, failed, timed out, no result), 2 a configuration error.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import os
import sys
import time
import uuid
from pathlib import Path
from typing import Any, TextIO

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from pipeline.commands.auth import KeyRing, key_env_name, sign_command
from pipeline.commands.config import ENV_COMMAND_KEYS, load_keys_file
from pipeline.commands.model import CommandRejected, parse_command
from pipeline.config import Settings
from pipeline.errors import ConfigError
from pipeline.kafka import COMMANDS_CANCEL, COMMANDS_RESULTS

ENV_ISSUER = "PIPELINE_COMMAND_ISSUER"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--venue", required=True, choices=["upbit", "binance", "coinone", "ssi", "futures_gateway"]
    )
    parser.add_argument("--account", help="one account (default: every account of the venue)")
    parser.add_argument("--symbol", help="unified (BTC/KRW) or as the venue spells it")
    parser.add_argument("--order-id", help="one order (needs --symbol)")
    parser.add_argument("--qty", help="cancel this much of the order (needs --order-id)")
    parser.add_argument("--issuer", help=f"who issues the command (default ${ENV_ISSUER} or user)")
    parser.add_argument("--command-id", help="default: a fresh UUID")
    parser.add_argument("--no-wait", action="store_true", help="publish and exit")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds to wait for a result")


def build_command(args: argparse.Namespace, now_ms: int) -> dict[str, Any]:
    issuer = args.issuer or os.environ.get(ENV_ISSUER) or getpass.getuser()
    command: dict[str, Any] = {
        "command_id": args.command_id or str(uuid.uuid4()),
        "venue": args.venue,
        "issued_by": issuer,
        "issued_at": now_ms,
    }
    for name in ("account", "symbol", "order_id", "qty"):
        value = getattr(args, name)
        if value is not None:
            command[name] = value
    return command


def issuer_key(issuer: str, settings: Settings | None = None) -> str:
    """The issuer's key: environment, keys file, or the running embedded stack's local key."""
    keys_file = os.environ.get(ENV_COMMAND_KEYS)
    if not keys_file and settings is not None:
        from pipeline.local.statefile import await_ready

        state = await_ready(settings.data_dir)
        keys_file = state.command_keys if state is not None else None
    ring = KeyRing(file_keys=load_keys_file(Path(keys_file)) if keys_file else {})
    key = ring.key(issuer)
    if key is None:
        raise ConfigError(key_env_name(issuer), "(unset)", f"no command key for issuer {issuer!r}")
    return key


def format_result(result: dict[str, Any]) -> list[str]:
    lines = [
        f"command {result['command_id']}: {result['status']}"
        + (f" ({result['reason']})" if result.get("reason") else "")
    ]
    for o in result.get("outcomes", []):
        parts = [
            f"  {o.get('account') or '-'} {o.get('symbol') or '-'} {o['order_id']}: {o['outcome']}"
        ]
        for name in (
            "canceled_qty",
            "filled_qty",
            "remaining_qty",
            "new_order_id",
            "venue_error_code",
            "venue_error",
            "latency_ms",
        ):
            if o.get(name) is not None:
                parts.append(f"{name}={o[name]}")
        if o.get("note"):
            parts.append(f"({o['note']})")
        lines.append(" ".join(parts))
    return lines


async def publish_and_wait(
    bootstrap: str, command: dict[str, Any], wait: bool, timeout: float, out: TextIO
) -> dict[str, Any] | None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=False, acks="all")
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    await producer.start()
    try:
        if wait:
            await consumer.start()
            parts = consumer.partitions_for_topic(COMMANDS_RESULTS) or set()
            tps = [TopicPartition(COMMANDS_RESULTS, p) for p in sorted(parts)]
            consumer.assign(tps)
            await consumer.seek_to_beginning(*tps)  # low volume; end offsets lie (PITFALLS §2)
        await producer.send_and_wait(
            COMMANDS_CANCEL, orjson.dumps(command), key=command["command_id"].encode()
        )
        print(f"published command {command['command_id']}", file=out, flush=True)
        if not wait:
            return None
        deadline = time.monotonic() + timeout
        latest: dict[str, Any] | None = None
        while time.monotonic() < deadline:
            fetched = await consumer.getmany(timeout_ms=500)
            for records in fetched.values():
                for record in records:
                    value = orjson.loads(record.value)
                    if value.get("command_id") != command["command_id"]:
                        continue
                    latest = value
                    if not value.get("final"):
                        print(
                            f"in progress: {len(value.get('outcomes', []))} order(s)",
                            file=out,
                            flush=True,
                        )
            if latest is not None and latest.get("final"):
                return latest
        return latest
    finally:
        await producer.stop()
        if wait:
            await consumer.stop()


def run(args: argparse.Namespace, settings: Settings, out: TextIO = sys.stdout) -> int:
    from pipeline.local.stack import resolve_bootstrap

    command = build_command(args, int(time.time() * 1000))
    try:
        parse_command(command)
    except CommandRejected as exc:
        print(f"invalid command: {exc.reason}", file=sys.stderr)
        return 2
    signed = sign_command(command, issuer_key(command["issued_by"], settings))
    bootstrap = resolve_bootstrap(settings)
    result = asyncio.run(publish_and_wait(bootstrap, signed, not args.no_wait, args.timeout, out))
    if args.no_wait:
        return 0
    if result is None:
        print("no result before the timeout", file=out)
        return 1
    print("\n".join(format_result(result)), file=out)
    return 0 if result["status"] == "completed" and result.get("final") else 1
