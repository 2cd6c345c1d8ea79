"""The Prometheus alert rules of infra/ (issue 16 item 9): promtool checks them and runs their
unit tests (each alert fires on the series that should fire it and stays quiet otherwise),
and every metric they use is one the pipeline exports.

promtool comes from `make test` (infra/prometheus/get-promtool.sh puts it in .venv/bin); a
missing promtool fails this test, it is never skipped."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

from prometheus_client import CollectorRegistry

from pipeline.metrics import PipelineMetrics

ROOT = Path(__file__).resolve().parents[3]
RULES = ROOT / "infra" / "prometheus"


def _promtool() -> str:
    local = Path(sys.executable).parent / "promtool"
    found = str(local) if local.exists() else shutil.which("promtool")
    assert found, "promtool is missing: run `make .venv/bin/promtool` (make test does)"
    return found


def test_alert_rules_are_valid_and_their_unit_tests_pass() -> None:
    checked = subprocess.run(
        [_promtool(), "check", "rules", "alerts.yml"],
        cwd=RULES, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "SUCCESS: 10 rules found" in checked.stdout
    tested = subprocess.run(
        [_promtool(), "test", "rules", "alerts.test.yml"],
        cwd=RULES, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert tested.returncode == 0, tested.stdout + tested.stderr


def test_every_alert_has_a_unit_test() -> None:
    import yaml

    rules = yaml.safe_load((RULES / "alerts.yml").read_text())
    alerts = {rule["alert"] for group in rules["groups"] for rule in group["rules"]}
    tests = yaml.safe_load((RULES / "alerts.test.yml").read_text())
    tested = {case["alertname"] for test in tests["tests"] for case in test["alert_rule_test"]}
    assert alerts == tested
    assert "alerts.yml" in yaml.safe_load((RULES / "prometheus.yml").read_text())["rule_files"]


def test_alert_rules_use_only_metrics_the_pipeline_exports() -> None:
    import yaml

    registry = CollectorRegistry()
    PipelineMetrics(registry)
    names: set[str] = set()
    for family in registry.collect():
        suffixes = {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count")}
        names |= {family.name + s for s in suffixes.get(family.type, ("",))}
    rules = yaml.safe_load((RULES / "alerts.yml").read_text())
    used = 0
    for group in rules["groups"]:
        for rule in group["rules"]:
            for metric in re.findall(r"\b(pipeline_\w+)", rule["expr"]):
                assert metric in names, f"{rule['alert']}: {metric} is not exported"
                used += 1
    assert used >= 7
