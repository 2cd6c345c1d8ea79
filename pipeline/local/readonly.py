"""What a query from outside the store's owner may run: one read-only statement that reaches
nothing but the store.

chDB runs in the owner's process with the owner's rights: `file('/home/op/.ssh/id_rsa')`,
`SELECT ... INTO OUTFILE`, `url(...)` or `mysql(...)` would read or write the host and the
network as that user, and `readonly=1` stops neither the scalar `file()` nor `INTO OUTFILE`
(probed on chDB 26.9). So a query is vetted by ClickHouse's own parser before it runs:

1. `formatQuerySingleLine` parses it (a multi-statement text is a syntax error there), and
   the *formatted* text is what runs afterwards, so no lexer of ours can disagree with
   ClickHouse's about where a statement ends;
2. it must be a reading statement (SELECT, WITH, SHOW, DESCRIBE, EXISTS, EXPLAIN);
3. `EXPLAIN AST` lists every function it calls: table functions other than the generators
   in `ALLOWED_TABLE_FUNCTIONS` and the file-reading scalars are refused, and so is
   `INTO OUTFILE`;
4. it then runs on a handle set to `readonly=1`, which refuses every write and every
   setting change inside the query.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from pipeline.errors import PipelineError

#: Table functions that read nothing outside the query (generators, literals, subqueries).
ALLOWED_TABLE_FUNCTIONS = frozenset(
    {
        "numbers", "numbers_mt", "zeros", "zeros_mt", "values", "null", "generaterandom",
        "generateseries", "generate_series", "primes", "format", "view", "sqlstandardvalues",
    }
)  # fmt: skip

#: Scalar functions that read the host's files.
DENIED_SCALARS = frozenset({"file", "catboostevaluate"})

READING_STATEMENTS = ("SELECT", "WITH", "SHOW", "DESCRIBE", "DESC", "EXISTS", "EXPLAIN", "(")

_FUNCTION_RE = re.compile(r"^\s*Function (\S+)", re.MULTILINE)
_OUTFILE_RE = re.compile(r"\bINTO\s+OUTFILE\b|\bFROM\s+INFILE\b", re.IGNORECASE)
_TRAILING_FORMAT_RE = re.compile(r"\s+FORMAT\s+(\w+)\s*$")


class QueryRefused(PipelineError):
    """The query may not run through the endpoint; the message says why."""


@dataclass(frozen=True, slots=True)
class VettedQuery:
    """One statement as ClickHouse formatted it, without its FORMAT clause."""

    sql: str
    format: str | None  # the query's own FORMAT clause, if it had one


def table_functions(handle: Any) -> frozenset[str]:
    """Every table function this engine knows, lower-cased."""
    text = handle.query("SELECT name FROM system.table_functions", "TSVRaw").bytes().decode()
    return frozenset(name.lower() for name in text.split())


def vet(
    handle: Any, sql: str, known_table_functions: frozenset[str],
    parameters: dict[str, str] | None = None,
) -> VettedQuery:  # fmt: skip
    """Parse `sql` with the engine behind `handle`; raise `QueryRefused` unless it is one
    reading statement that touches nothing outside the store."""
    try:
        formatted = (
            handle.query(
                "SELECT formatQuerySingleLine({q:String})", "TSVRaw", params={"q": _escaped(sql)}
            )
            .bytes()
            .decode()
            .strip()
        )
    except Exception as exc:
        raise QueryRefused(_engine_message(exc)) from exc
    if not formatted.upper().startswith(READING_STATEMENTS):
        verb = formatted.split(" ", 1)[0] if formatted else "(empty)"
        raise QueryRefused(
            f"{verb} statements are refused: the endpoint is read-only "
            "(SELECT, WITH, SHOW, DESCRIBE, EXISTS, EXPLAIN)"
        )
    if _OUTFILE_RE.search(formatted):
        raise QueryRefused("INTO OUTFILE / FROM INFILE are refused: they touch the host's files")
    fmt = None
    trailing = _TRAILING_FORMAT_RE.search(formatted)
    if trailing is not None:
        fmt, formatted = trailing.group(1), formatted[: trailing.start()]
    try:
        ast = (
            handle.query(f"EXPLAIN AST {formatted}", "TSVRaw", params=parameters or {})
            .bytes()
            .decode()
        )
    except Exception as exc:
        raise QueryRefused(_engine_message(exc)) from exc
    for name in _FUNCTION_RE.findall(ast):
        lowered = name.lower()
        if lowered in DENIED_SCALARS or (
            lowered in known_table_functions and lowered not in ALLOWED_TABLE_FUNCTIONS
        ):
            raise QueryRefused(
                f"function {name}() is refused: it reaches files, the network or other "
                "databases outside the store"
            )
    return VettedQuery(formatted, fmt)


def _escaped(text: str) -> str:
    """A query parameter's value in ClickHouse's escaped text form (as HTTP sends them)."""
    for raw, escaped in (("\\", "\\\\"), ("\n", "\\n"), ("\t", "\\t"), ("\r", "\\r"),
                         ("\0", "\\0")):  # fmt: skip
        text = text.replace(raw, escaped)
    return text


def _engine_message(exc: BaseException) -> str:
    text = str(exc).strip()
    start = text.find("Code: ")
    return (text[start:] if start >= 0 else text).splitlines()[0][:500]
