"""Rendering query results for people (`pipeline sql`): an aligned table, JSON lines or CSV."""

from __future__ import annotations

import csv
import io
from datetime import datetime
from decimal import Decimal
from typing import Any

import orjson

from pipeline.sink.store import QueryResult


def cell(value: Any) -> str:
    """One value as text: decimals without exponent or trailing zeros, times in ISO form."""
    if value is None:
        return "NULL"
    if isinstance(value, Decimal):
        text = format(value, "f")
        if "." in text:
            text = text.rstrip("0").rstrip(".")
        return text or "0"
    if isinstance(value, datetime):
        return value.isoformat(sep=" ", timespec="milliseconds")
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {cell(v)}" for k, v in value.items()) + "}"
    return str(value)


def render(result: QueryResult, fmt: str = "table") -> str:
    if fmt == "json":
        return "".join(
            orjson.dumps(dict(zip(result.columns, map(cell, row), strict=True))).decode() + "\n"
            for row in result.rows
        )
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(result.columns)
        writer.writerows([cell(v) for v in row] for row in result.rows)
        return buffer.getvalue()
    texts = [[cell(v) for v in row] for row in result.rows]
    widths = [len(c) for c in result.columns]
    for row in texts:
        widths = [max(w, len(v)) for w, v in zip(widths, row, strict=True)]
    lines = [" | ".join(c.ljust(w) for c, w in zip(result.columns, widths, strict=True))]
    lines.append("-+-".join("-" * w for w in widths))
    lines += [" | ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)) for row in texts]
    lines.append(f"({len(texts)} row{'s' if len(texts) != 1 else ''})")
    return "\n".join(lines) + "\n"
