"""Where the project's non-code files live (schemas/, JSON Schemas, migrations)."""

from __future__ import annotations

import os
from pathlib import Path

from pipeline.errors import StackError

ENV_SCHEMAS_DIR = "PIPELINE_SCHEMAS_DIR"


def schemas_dir() -> Path:
    """The `schemas/` directory: `$PIPELINE_SCHEMAS_DIR`, else the one beside the package."""
    override = os.environ.get(ENV_SCHEMAS_DIR)
    path = Path(override) if override else Path(__file__).resolve().parent.parent / "schemas"
    if not path.is_dir():
        raise StackError(f"schemas directory not found at {path}; set {ENV_SCHEMAS_DIR}")
    return path


def migrations_dir() -> Path:
    return schemas_dir() / "migrations"


def json_schemas_dir() -> Path:
    return schemas_dir() / "json"
