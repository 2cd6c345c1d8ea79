"""JSON Schemas of the public contracts (schemas/json/<name>.v<N>.json) and validation.

Used at the edges (CLI input, tests, command intake), never per event on the hot path. Every
schema carries `x-schema-version` and its documented `examples`.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import orjson

from pipeline.errors import BadInputError
from pipeline.resources import json_schemas_dir

SCHEMA_NAMES: tuple[str, ...] = (
    "raw_envelope",
    "order_event",
    "order_state",
    "fill",
    "position",
    "cancel_command",
    "command_result",
)


class SchemaViolation(BadInputError):
    """A document does not match its contract; names the schema and the failing path."""

    reason = "schema_violation"


def schema_path(name: str, version: int | None = None) -> Path:
    directory = json_schemas_dir()
    if version is not None:
        return directory / f"{name}.v{version}.json"
    candidates = sorted(
        directory.glob(f"{name}.v*.json"), key=lambda p: int(p.stem.rsplit(".v", 1)[1])
    )
    if not candidates:
        raise KeyError(f"no JSON Schema named {name!r} in {directory}")
    return candidates[-1]


@functools.cache
def load_schema(name: str) -> dict[str, Any]:
    """The newest version of schema `name`."""
    return orjson.loads(schema_path(name).read_bytes())


@functools.cache
def _validator(name: str) -> Any:
    from jsonschema import Draft202012Validator

    schema = load_schema(name)
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def validation_errors(name: str, document: Any) -> list[str]:
    """Every violation of schema `name` by `document`, as `path: message` strings."""
    errors = sorted(_validator(name).iter_errors(document), key=lambda e: list(e.absolute_path))
    return [f"{'/'.join(map(str, e.absolute_path)) or '(root)'}: {e.message}" for e in errors]


def validate(name: str, document: Any) -> None:
    """Raise `SchemaViolation` naming the schema and the first failing path."""
    errors = validation_errors(name, document)
    if errors:
        raise SchemaViolation(f"{name} v{load_schema(name)['x-schema-version']}: {errors[0]}")
