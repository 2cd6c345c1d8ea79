"""`pipeline --version` prints the package's version (issue 16 item 8)."""

from __future__ import annotations

import pytest

import pipeline
from pipeline.cli import make_parser


def test_version_flag_prints_the_package_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        make_parser().parse_args(["--version"])
    assert done.value.code == 0
    assert capsys.readouterr().out.strip() == f"pipeline {pipeline.__version__}"
