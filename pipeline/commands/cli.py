"""`pipeline cancel`: publish one signed cancel command and print its result.

    pipeline cancel --venue binance --account alice --symbol BTC/USDT [--order-id ID]
                    [--qty Q] [--issuer ops-alice] [--no-wait] [--timeout 60]
                    [--dry-run] [--yes]

A scope wider than one account's symbol (`--venue V`, `--venue V --account A`,
`--venue V --symbol S`) cancels many orders at once: it needs `--yes` or a "y" at the prompt
on a terminal; `--dry-run` lists, per account, the open orders the scope selects (from the
store) and sends nothing. The issuer's key comes from `PIPELINE_COMMAND_KEY_<ISSUER>` or the
keys file named by `PIPELINE_COMMAND_KEYS`, never from the command line. Exit codes: 0
completed (or previewed), 1 anything else (rejected, failed, timed out, no result, not
confirmed, no pipeline running, broker unreachable), 2 a configuration error.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import logging
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
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help="list the open orders the scope selects, per account, and send nothing",
    )
    parser.add_argument(
        "--yes",
        action="store_true",
        help="confirm a venue-wide or account-wide scope (otherwise asked on a terminal)",
    )


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


def is_wide(command: dict[str, Any]) -> bool:
    """Venue-wide or account-wide: more than one symbol of one account, or several accounts."""
    if command.get("order_id"):
        return False
    return not (command.get("account") and command.get("symbol"))


def scope_text(command: dict[str, Any]) -> str:
    parts = [f"venue {command['venue']}"]
    parts.append(f"account {command['account']}" if command.get("account") else "every account")
    parts.append(f"symbol {command['symbol']}" if command.get("symbol") else "every symbol")
    if command.get("order_id"):
        parts.append(f"order {command['order_id']}")
    return ", ".join(parts)


def preview(settings: Settings, command: dict[str, Any]) -> list[tuple[Any, ...]]:
    """The open orders the command's scope selects, as the store knows them now: (account,
    symbol, order_id, side, status, remaining_qty, price), by account."""
    from pipeline.local.query import run_query

    conditions = ["venue = {venue:String}"]
    values = {"venue": command["venue"]}
    for name in ("account", "order_id"):
        if command.get(name):
            conditions.append(f"{name} = {{{name}:String}}")
            values[name] = command[name]
    if command.get("symbol"):  # unified or as the venue spells it
        conditions.append("(symbol = {symbol:String} OR venue_symbol = {symbol:String})")
        values["symbol"] = command["symbol"]
    sql = (
        "SELECT account, symbol, order_id, side, status, remaining_qty, price "
        f"FROM {settings.store.database}.orders FINAL "
        "WHERE status IN ('open', 'partially_filled', 'pending_cancel', 'untriggered') AND "
        + " AND ".join(conditions)
        + " ORDER BY account, symbol, created_at, order_id"
    )
    return run_query(settings, sql, parameters=values).rows


def print_preview(rows: list[tuple[Any, ...]], command: dict[str, Any], out: TextIO) -> None:
    from pipeline.tables import cell

    accounts = sorted({row[0] for row in rows})
    print(f"{scope_text(command)}: {len(rows)} open order(s) in {len(accounts)} account(s)",
          file=out)  # fmt: skip
    for account in accounts:
        mine = [row for row in rows if row[0] == account]
        print(f"  {account}: {len(mine)}", file=out)
        for _a, symbol, order_id, side, status, remaining, price in mine:
            print(f"    {symbol} {order_id} {side} {status} remaining {cell(remaining)}"
                  f" @ {cell(price)}", file=out)  # fmt: skip


def confirmed(command: dict[str, Any], count: int, assume_yes: bool) -> bool:
    """A wide scope needs --yes, or a "y" from the operator on a terminal."""
    if assume_yes or not is_wide(command):
        return True
    if not sys.stdin.isatty():
        print(
            f"refused: {scope_text(command)} cancels {count} open order(s) at once; add --yes "
            "to confirm (or --dry-run to list them)",
            file=sys.stderr,
        )
        return False
    answer = input(f"cancel {count} open order(s) ({scope_text(command)})? [y/N] ")
    return answer.strip().lower() in ("y", "yes")


async def publish_and_wait(
    bootstrap: str, command: dict[str, Any], wait: bool, timeout: float, out: TextIO
) -> dict[str, Any] | None:
    """Publish `command` and wait for its final result; `StackError` (one line) when the
    broker does not answer."""
    from aiokafka.errors import KafkaError

    from pipeline.errors import StackError

    try:
        return await _publish_and_wait(bootstrap, command, wait, timeout, out)
    except (KafkaError, OSError) as exc:
        raise StackError(
            f"the Kafka broker at {bootstrap} did not answer ({type(exc).__name__}); "
            "is the pipeline running?"
        ) from exc


async def _publish_and_wait(
    bootstrap: str, command: dict[str, Any], wait: bool, timeout: float, out: TextIO
) -> dict[str, Any] | None:
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, enable_idempotence=False, acks="all", request_timeout_ms=10000
    )
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    try:
        await producer.start()
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
        await producer.stop()  # also after a failed start: no unclosed-client warnings
        await consumer.stop()


def run(args: argparse.Namespace, settings: Settings, out: TextIO = sys.stdout) -> int:
    from pipeline.errors import StackError
    from pipeline.local.statefile import await_ready

    command = build_command(args, int(time.time() * 1000))
    try:
        parse_command(command)
    except CommandRejected as exc:
        print(f"invalid command: {exc.reason}", file=sys.stderr)
        return 2
    if not settings.kafka_bootstrap:
        state = await_ready(settings.data_dir)
        if state is None or not state.broker:
            raise StackError(
                f"no pipeline running in {settings.data_dir.resolve()}: start `pipeline run` "
                "(or set PIPELINE_KAFKA_BOOTSTRAP for a cluster)"
            )
        bootstrap = state.broker
    else:
        bootstrap = settings.kafka_bootstrap
    if args.dry_run or is_wide(command):
        rows = preview(settings, command)
        if args.dry_run:
            print_preview(rows, command, out)
            print("dry run: no command sent", file=out)
            return 0
        if not confirmed(command, len(rows), args.yes):
            return 1
    signed = sign_command(command, issuer_key(command["issued_by"], settings))
    if settings.log_level != "DEBUG":  # a broker that does not answer is our one line, below
        logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
    result = asyncio.run(publish_and_wait(bootstrap, signed, not args.no_wait, args.timeout, out))
    if args.no_wait:
        return 0
    if result is None:
        print("no result before the timeout", file=out)
        return 1
    print("\n".join(format_result(result)), file=out)
    return 0 if result["status"] == "completed" and result.get("final") else 1
