"""The live view shows amounts rounded for reading; the tables keep them exact."""

from __future__ import annotations

from decimal import Decimal

import pytest

from pipeline.liveview import amount


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("-1219999.999999999999999999", "-1220000"),
        ("103936.760585144593358882", "103936.76058514"),
        ("4.529629629629629629", "4.52962963"),
        ("1014.6204", "1014.6204"),
        ("0E-18", "0"),
        ("-0.000000001", "0"),
        ("25000000", "25000000"),
    ],
)
def test_amounts_are_rounded_to_eight_places_without_exponent(value: str, shown: str) -> None:
    assert amount(Decimal(value)) == shown
