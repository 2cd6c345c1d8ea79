"""`pipeline sim` argument handling (the run itself is in tests/integration/sim)."""

from __future__ import annotations

import argparse

import pytest

from pipeline.sim.cli import add_arguments, build_config, run


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    return parser.parse_args(list(argv))


def test_defaults_build_an_every_venue_config() -> None:
    config = build_config(parse())
    assert config.venues == ("upbit", "binance", "coinone", "ssi", "futures_gateway")
    assert (config.rate, config.seed, config.house) == (20.0, 1, True)
    assert config.accounts == ("alice", "bob", "carol")


def test_ports_faults_and_accounts_are_parsed_per_venue() -> None:
    config = build_config(
        parse(
            "--rate", "5", "--seed", "9", "--port", "upbit=18080", "--accounts", "x,y",
            "--faults", "upbit:duplicate=0.1,slow_ms=5-10", "--faults", "reorder=0.2", "--no-house",
        )
    )  # fmt: skip
    assert config.ports == {"upbit": 18080}
    assert config.accounts == ("x", "y")
    assert config.faults["binance"].reorder == 0.2
    assert config.faults["upbit"].reorder == 0.2  # the later venue-less plan applies to all
    assert not config.house


@pytest.mark.parametrize(
    "argv",
    [("--port", "kraken=1"), ("--port", "upbit=x"), ("--faults", "kraken:duplicate=1"),
     ("--faults", "duplicate=7"), ("--venues", "upbit,kraken"), ("--rate", "-1")],
)  # fmt: skip
def test_bad_arguments_exit_with_code_two(
    argv: tuple[str, ...], capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(parse(*argv)) == 2
    assert "pipeline sim:" in capsys.readouterr().err
