"""Configuration: parsing, defaults, masking, and errors that name the setting and value."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.config import (
    ENV_CLICKHOUSE,
    ENV_KAFKA,
    ENV_PARTITIONS,
    load_settings,
    mask_url,
    parse_bootstrap,
    parse_clickhouse_url,
)
from pipeline.errors import ConfigError


def test_load_settings_with_empty_environment_uses_embedded_defaults() -> None:
    settings = load_settings({})
    assert settings.kafka_bootstrap is None
    assert settings.clickhouse is None
    assert settings.store.is_embedded
    assert settings.store.path == (Path("data") / "store").resolve()
    assert settings.partitions == 4
    assert settings.broker_session_timeout == 10.0
    assert settings.broker_heartbeat_interval == 1.0


def test_parse_clickhouse_url_http_reads_every_part() -> None:
    target = parse_clickhouse_url("http://analyst:s3cret@ch.internal:8124/markets")
    assert (target.scheme, target.host, target.port) == ("http", "ch.internal", 8124)
    assert (target.username, target.password, target.database) == ("analyst", "s3cret", "markets")


def test_parse_clickhouse_url_https_defaults_port_and_database() -> None:
    target = parse_clickhouse_url("https://ch.example")
    assert (target.port, target.database, target.username) == (8443, "trading", "default")


def test_parse_clickhouse_url_chdb_path_and_database_query() -> None:
    target = parse_clickhouse_url("chdb:///tmp/store?database=trading_test")
    assert target.is_embedded
    assert target.path == Path("/tmp/store")
    assert target.database == "trading_test"


def test_clickhouse_target_repr_and_masked_url_hide_password() -> None:
    target = parse_clickhouse_url("http://u:hunter2@host:8123/trading")
    assert "hunter2" not in repr(target)
    assert "hunter2" not in target.masked_url
    assert "***" in target.masked_url
    assert "hunter2" not in mask_url("http://u:hunter2@host:8123/x")


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("ftp://host/db", "unknown scheme"),
        ("http://", "no host"),
        ("http://host:notaport/db", "not a valid URL"),
        ("chdb://", "needs a directory"),
        ("http://host/a/b", "not a plain database name"),
    ],
)
def test_parse_clickhouse_url_bad_value_names_setting_and_problem(url: str, problem: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_clickhouse_url(url)
    assert info.value.setting == ENV_CLICKHOUSE
    assert problem in str(info.value)
    assert str(info.value).startswith(f"{ENV_CLICKHOUSE}=")


def test_bad_clickhouse_url_error_masks_the_password() -> None:
    with pytest.raises(ConfigError) as info:
        parse_clickhouse_url("ftp://u:hunter2@host/db")
    assert "hunter2" not in str(info.value)


@pytest.mark.parametrize("value", ["localhost", "host:0", "host:99999", ":9092", "a:b", " , "])
def test_parse_bootstrap_rejects_non_host_port(value: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_bootstrap(value)
    assert info.value.setting == ENV_KAFKA


def test_parse_bootstrap_normalises_list() -> None:
    assert parse_bootstrap(" k1:9092, k2:9093 ") == "k1:9092,k2:9093"


@pytest.mark.parametrize("value", ["zero", "0", "-3", "1.5"])
def test_load_settings_bad_partitions_names_the_variable(value: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings({ENV_PARTITIONS: value})
    assert info.value.setting == ENV_PARTITIONS
    assert value in str(info.value)


def test_settings_describe_never_shows_the_password() -> None:
    settings = load_settings({ENV_CLICKHOUSE: "http://u:hunter2@h:8123/trading"})
    assert "hunter2" not in str(settings.describe())
    assert "hunter2" not in repr(settings)


def test_clickhouse_cluster_is_a_setting() -> None:
    assert load_settings({}).clickhouse_cluster is None
    assert load_settings({"PIPELINE_CLICKHOUSE_CLUSTER": "pipeline"}).clickhouse_cluster == (
        "pipeline"
    )


def test_a_cluster_name_that_is_no_identifier_is_refused_by_name() -> None:
    with pytest.raises(ConfigError, match="PIPELINE_CLICKHOUSE_CLUSTER") as caught:
        load_settings({"PIPELINE_CLICKHOUSE_CLUSTER": "x; DROP DATABASE trading"})
    assert "x; DROP DATABASE trading" in str(caught.value)
