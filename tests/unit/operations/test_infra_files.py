"""infra/ matches the code: compose structure and references, Prometheus targets vs metrics
ports, topics and tables vs pipeline.kafka and the migrations, Grafana vs the metrics."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from pipeline.cli import make_parser
from pipeline.kafka import PIPELINE_TOPICS
from pipeline.metrics import PipelineMetrics
from pipeline.resources import migrations_dir
from pipeline.streams.outputs import TOPIC_TABLES

ROOT = Path(__file__).resolve().parents[3]
INFRA = ROOT / "infra"
ROLES = ("ingest", "process", "sink", "cancel")
IMAGE = "trading-pipeline:latest"


def load_yaml(path: Path) -> Any:
    """The YAML file as data (PyYAML comes with the dev extra)."""
    import yaml

    return yaml.safe_load(path.read_text())


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return load_yaml(INFRA / "docker-compose.yml")


@pytest.fixture(scope="module")
def prometheus() -> dict[str, Any]:
    return load_yaml(INFRA / "prometheus" / "prometheus.yml")


def _pipeline_services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {n: s for n, s in compose["services"].items() if s.get("image") == IMAGE}


def _role_service(compose: dict[str, Any], role: str) -> tuple[str, dict[str, Any]]:
    for name, service in _pipeline_services(compose).items():
        if service.get("command") == ["worker", "--role", role]:
            return name, service
    raise AssertionError(f"no service runs `pipeline worker --role {role}`")


def test_every_reference_in_compose_exists(compose: dict[str, Any]) -> None:
    services = compose["services"]
    volumes = set(compose.get("volumes") or {})
    for name, service in services.items():
        for dependency in service.get("depends_on") or []:
            assert dependency in services, f"{name} depends on unknown {dependency}"
        for mount in service.get("volumes") or []:
            source = mount.split(":")[0]
            if source.startswith((".", "/")):
                assert (INFRA / source).resolve().exists(), f"{name} mounts missing {source}"
            else:
                assert source in volumes, f"{name} uses undeclared volume {source}"
        build = service.get("build")
        if build:
            context = (INFRA / build["context"]).resolve()
            assert (context / build["dockerfile"]).is_file(), name
        if name not in ("init",):
            assert "healthcheck" in service, f"{name} has no health check"


def test_every_pipeline_command_is_a_real_subcommand(compose: dict[str, Any]) -> None:
    parser = make_parser()
    for name, service in _pipeline_services(compose).items():
        commands = [service["command"]]
        if service.get("entrypoint") == ["sh", "-c"]:
            commands = [
                shlex.split(part)[1:]
                for part in service["command"][0].split("&&")
                if shlex.split(part)[0] == "pipeline"
            ]
        for argv in commands:
            parser.parse_args(argv)  # SystemExit on an unknown subcommand or flag
            assert argv, name
    for role in ROLES:
        _role_service(compose, role)


def test_dockerfile_copies_what_exists_and_runs_pipeline() -> None:
    text = (INFRA / "Dockerfile").read_text()
    for line in text.splitlines():
        if line.startswith("COPY ") and "--from=" not in line:  # not from the build stage
            for source in line.split()[1:-1]:
                assert (ROOT / source).exists(), source
    assert 'ENTRYPOINT ["pipeline"]' in text
    # the package is installed as a wheel (site-packages): it finds schemas/ by the variable
    assert "PIPELINE_SCHEMAS_DIR=/app/schemas" in text
    assert "COPY schemas ./schemas" in text
    # the wheel compiles the hot path: setup.py and a C compiler in the build stage
    assert "COPY pyproject.toml setup.py" in text
    assert "gcc" in text


def test_prometheus_scrapes_every_role_on_its_metrics_port(
    compose: dict[str, Any], prometheus: dict[str, Any]
) -> None:
    targets: dict[str, int] = {}
    for job in prometheus["scrape_configs"]:
        for sd in job.get("dns_sd_configs") or []:
            for host in sd["names"]:
                targets[host] = int(sd["port"])
        for static in job.get("static_configs") or []:
            for target in static["targets"]:
                host, port = target.rsplit(":", 1)
                targets[host] = int(port)
    for role in ROLES:
        name, service = _role_service(compose, role)
        port = int(service["environment"]["PIPELINE_METRICS_PORT"])
        assert targets.get(name) == port, f"{name}: metrics on {port}, scraped at {targets}"
        assert f"localhost:{port}/metrics" in " ".join(service["healthcheck"]["test"])
    mounted = " ".join(compose["services"]["prometheus"]["volumes"])
    assert "./prometheus/prometheus.yml:/etc/prometheus/prometheus.yml" in mounted


def test_kafka_is_kraft_with_three_brokers_and_topics_come_from_the_code(
    compose: dict[str, Any],
) -> None:
    services = compose["services"]
    brokers = {n: s for n, s in services.items() if n.startswith("kafka")}
    assert len(brokers) == 3
    for name, broker in brokers.items():
        env = broker["environment"]
        assert "controller" in env["KAFKA_PROCESS_ROLES"], name
        voters = [
            v.split("@")[1].split(":")[0] for v in env["KAFKA_CONTROLLER_QUORUM_VOTERS"].split(",")
        ]
        assert sorted(voters) == sorted(brokers), name
        assert env["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"
    init = services["init"]["command"][0]
    assert "pipeline topics" in init
    assert "pipeline migrate" in init
    # topics come from `pipeline topics` only (pipeline.kafka.PIPELINE_TOPICS), never listed
    text = "\n".join(p.read_text() for p in INFRA.rglob("*") if p.is_file())
    assert "kafka-topics.sh --create" not in text
    for spec in PIPELINE_TOPICS:
        assert f"--topic {spec.name}" not in text
    for name in _pipeline_services(compose):
        env = services[name]["environment"]
        assert env["PIPELINE_TOPIC_REPLICATION"] == "3", name
        bootstrap = env["PIPELINE_KAFKA_BOOTSTRAP"].split(",")
        assert sorted(b.split(":")[0] for b in bootstrap) == sorted(brokers)


def _migration_objects() -> dict[str, str]:
    """name -> TABLE or VIEW, over every migration file."""
    found: dict[str, str] = {}
    for path in sorted(migrations_dir().glob("*.sql")):
        for kind, name in re.findall(
            r"CREATE (?:OR REPLACE )?(TABLE|VIEW) (?:IF NOT EXISTS )?\{database\}\.(\w+)",
            path.read_text(),
        ):
            found[name] = kind
    return found


def test_the_tables_the_roles_write_exist_in_the_migrations() -> None:
    objects = _migration_objects()
    written = {*TOPIC_TABLES.values(), "cancel_commands", "command_results"}
    for table in written:
        assert objects.get(table) == "TABLE", table


def _dashboards() -> list[dict[str, Any]]:
    return [
        json.loads(p.read_text()) for p in sorted((INFRA / "grafana" / "dashboards").glob("*.json"))
    ]


def test_dashboards_use_provisioned_datasources_and_known_tables(compose: dict[str, Any]) -> None:
    datasources = load_yaml(INFRA / "grafana" / "provisioning" / "datasources" / "datasources.yml")
    uids = {d["uid"]: d["type"] for d in datasources["datasources"]}
    assert uids.get("clickhouse") == "grafana-clickhouse-datasource"
    assert uids.get("prometheus") == "prometheus"
    grafana = compose["services"]["grafana"]
    assert "grafana-clickhouse-datasource" in grafana["environment"]["GF_INSTALL_PLUGINS"]
    providers = load_yaml(INFRA / "grafana" / "provisioning" / "dashboards" / "dashboards.yml")
    path = providers["providers"][0]["options"]["path"]
    assert f"./grafana/dashboards:{path}:ro" in grafana["volumes"]
    objects = _migration_objects()
    titles = {d["title"] for d in _dashboards()}
    assert {"Trading activity", "Pipeline health"} <= titles
    for dashboard in _dashboards():
        for panel in dashboard["panels"]:
            for target in panel["targets"]:
                assert uids.get(target["datasource"]["uid"]) == target["datasource"]["type"]
                for name in re.findall(r"\btrading\.(\w+)", target.get("rawSql", "")):
                    assert name in objects, f"{panel['title']}: unknown table {name}"


def test_prometheus_panels_use_only_metrics_the_pipeline_exports() -> None:
    registry = CollectorRegistry()
    PipelineMetrics(registry)
    names: set[str] = set()
    for family in registry.collect():
        suffixes = {
            "counter": ("_total",),
            "histogram": ("_bucket", "_sum", "_count"),
        }.get(family.type, ("",))
        names |= {family.name + suffix for suffix in suffixes}
    used = 0
    for dashboard in _dashboards():
        for panel in dashboard["panels"]:
            for target in panel["targets"]:
                for metric in re.findall(r"\b(pipeline_\w+)", target.get("expr", "")):
                    assert metric in names, f"{panel['title']}: {metric} is not exported"
                    used += 1
    assert used >= 20


def test_every_exported_family_is_on_a_dashboard() -> None:
    """Issue 16: a family no dashboard shows is either put on one or dropped."""
    registry = CollectorRegistry()
    PipelineMetrics(registry)
    exported = {f.name for f in registry.collect() if f.name.startswith("pipeline_")}
    shown: set[str] = set()
    for dashboard in _dashboards():
        for panel in dashboard["panels"]:
            for target in panel["targets"]:
                for metric in re.findall(r"\b(pipeline_\w+)", target.get("expr", "")):
                    shown.add(re.sub(r"_(total|bucket|sum|count)$", "", metric))
    assert sorted(exported - shown) == []
