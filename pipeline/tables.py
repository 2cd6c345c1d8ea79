"""Rendering query results for people and scripts (`pipeline sql`, `pipeline report`): an
aligned table, CSV, one JSON document, or JSON lines.

One path for every result, whoever served it: values arrive typed (clickhouse-connect decodes
the Native format both from the run's endpoint and from an idle store), and are written here
the same way. Decimals are exact and never in exponent form (`0E-18` is `0`, trailing zeros
dropped) and are strings in JSON, so no reader turns them into floats; integers, floats and
booleans are JSON numbers and booleans, NULL is `null` (and `NULL` in a table, empty in CSV),
times are ISO 8601 UTC. Every format but JSON lines shows the columns even with no rows.
"""

from __future__ import annotations

import csv
import io
import math
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

import orjson

from pipeline.sink.store import QueryResult

FORMATS = ("table", "csv", "json", "jsonl")


def decimal_text(value: Decimal) -> str:
    """`value` exactly, without exponent or trailing zeros (`0E-18` -> `0`)."""
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    if text in ("", "-0"):
        return "0"
    return text


def json_value(value: Any) -> Any:
    """A value as JSON-ready data: decimals as exact strings, the rest in its own type."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, Decimal):
        return decimal_text(value)
    if isinstance(value, datetime):
        return value.isoformat(timespec="milliseconds")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(json_value(k)): json_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_value(v) for v in value]
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, UUID):
        return str(value)
    return str(value)


def cell(value: Any, null: str = "NULL") -> str:
    """One value as text for a table or CSV."""
    if value is None:
        return null
    if isinstance(value, Decimal):
        return decimal_text(value)
    if isinstance(value, datetime):
        return value.isoformat(sep=" ", timespec="milliseconds")
    if isinstance(value, dict | list | tuple):
        return orjson.dumps(json_value(value)).decode()
    return str(value)


def render(result: QueryResult, fmt: str = "table") -> str:
    if fmt == "jsonl":
        return "".join(
            orjson.dumps(dict(zip(result.columns, map(json_value, row), strict=True))).decode()
            + "\n"
            for row in result.rows
        )
    if fmt == "json":
        types: list[str | None] = (
            list(result.types) if result.types else [None] * len(result.columns)
        )
        document = {
            "meta": [
                {"name": name, "type": kind}
                for name, kind in zip(result.columns, types, strict=True)
            ],
            "data": [
                dict(zip(result.columns, map(json_value, row), strict=True)) for row in result.rows
            ],
            "rows": len(result.rows),
        }
        return orjson.dumps(document, option=orjson.OPT_INDENT_2).decode() + "\n"
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(result.columns)
        writer.writerows([cell(v, null="") for v in row] for row in result.rows)
        return buffer.getvalue()
    return table(result.columns, [[cell(v) for v in row] for row in result.rows])


def table(columns: list[str], texts: list[list[str]]) -> str:
    """An aligned text table with a row count (numbers stay left-aligned: copyable)."""
    widths = [len(c) for c in columns]
    for row in texts:
        widths = [max(w, len(v)) for w, v in zip(widths, row, strict=True)]
    lines = [" | ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)).rstrip()]
    lines.append("-+-".join("-" * w for w in widths))
    lines += [
        " | ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip() for row in texts
    ]
    lines.append(f"({len(texts)} row{'s' if len(texts) != 1 else ''})")
    return "\n".join(lines) + "\n"
