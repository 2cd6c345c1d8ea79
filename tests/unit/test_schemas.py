"""Every public JSON Schema accepts its documented examples and rejects broken documents."""

from __future__ import annotations

import copy

import pytest

from pipeline.schemas import SCHEMA_NAMES, SchemaViolation, load_schema, validate

BREAKERS = {
    "raw_envelope": [
        lambda d: d.pop("payload"),
        lambda d: d.update(venue="kraken"),
        lambda d: d.update(received_at="yesterday"),
        lambda d: d.update(extra=1),
    ],
    "cancel_command": [
        lambda d: d.pop("command_id"),
        lambda d: d.update(qty="-1"),
        lambda d: d.update(qty="abc"),
        lambda d: d.update(unknown_field=True),
        lambda d: (d.pop("symbol", None), d.update(order_id="x")),
    ],
    "command_result": [
        lambda d: d.update(status="maybe"),
        lambda d: d["outcomes"].append({"order_id": "x", "outcome": "vanished"}),
        lambda d: d.pop("final"),
    ],
}


@pytest.mark.parametrize("name", SCHEMA_NAMES)
def test_schema_is_versioned_and_accepts_its_examples(name: str) -> None:
    schema = load_schema(name)
    assert isinstance(schema["x-schema-version"], int)
    assert schema["examples"], f"{name} documents no example"
    for example in schema["examples"]:
        validate(name, example)


@pytest.mark.parametrize(
    ("name", "index"),
    [(name, i) for name, breakers in BREAKERS.items() for i in range(len(breakers))],
)
def test_schema_rejects_broken_document_with_path(name: str, index: int) -> None:
    document = copy.deepcopy(load_schema(name)["examples"][0])
    BREAKERS[name][index](document)
    with pytest.raises(SchemaViolation, match=name):
        validate(name, document)


@pytest.mark.parametrize("name", ["order_event", "order_state", "fill", "position"])
def test_canonical_schema_rejects_float_quantities_and_unknown_status(name: str) -> None:
    document = copy.deepcopy(load_schema(name)["examples"][0])
    document["qty"] = 1.5
    with pytest.raises(SchemaViolation):
        validate(name, document)
