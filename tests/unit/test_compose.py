"""compose.yaml: the distributed setup the README describes, checked without a container engine."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from api.cli import build_parser
from api.settings import ApiSettings
from clickhouse.client import Store
from clickhouse.errors import StorageUnavailable
from clickhouse.settings import StoreSettings
from ingest.settings import IngestSettings

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((ROOT / "compose.yaml").read_text())
    return data


def test_compose_names_every_service_of_the_distributed_setup(compose: dict[str, Any]) -> None:
    # Assert
    assert set(compose["services"]) == {"clickhouse", "redis", "migrate", "api", "worker"}


def test_every_published_port_binds_to_loopback(compose: dict[str, Any]) -> None:
    # Arrange
    ports = [port for service in compose["services"].values() for port in service.get("ports", [])]
    # Assert
    assert ports
    assert all(str(port).startswith("127.0.0.1:") for port in ports)


def test_every_roletrail_variable_is_a_setting(compose: dict[str, Any]) -> None:
    # Arrange
    fields = set(StoreSettings.model_fields) | set(IngestSettings.model_fields)
    fields |= set(ApiSettings.model_fields)
    variables = {
        name
        for service in compose["services"].values()
        for name in (service.get("environment") or {})
        if name.startswith("ROLETRAIL_")
    }
    # Assert
    assert variables
    assert {name.removeprefix("ROLETRAIL_").lower() for name in variables} <= fields


def test_every_service_command_is_a_roletrail_subcommand(compose: dict[str, Any]) -> None:
    # Arrange
    services = compose["services"].values()
    commands = [s["command"] for s in services if s.get("command", [""])[0] == "roletrail"]
    # Act
    parsed = [build_parser().parse_args(command[1:]).command for command in commands]
    # Assert
    assert sorted(parsed) == ["migrate", "serve", "worker"]


def test_an_http_dsn_selects_the_server_store_and_fails_clearly_when_unreachable() -> None:
    # Arrange: a loopback port where nothing listens
    settings = StoreSettings(clickhouse_url="http://127.0.0.1:9/", clickhouse_database="roletrail")
    store = Store(settings)
    # Act / Assert
    assert not settings.embedded
    with pytest.raises(StorageUnavailable):
        store.scalar("SELECT 1")
    store.close()
