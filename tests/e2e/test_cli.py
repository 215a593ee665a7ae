"""The `roletrail` command as a user runs it: separate processes, each owning its embedded store."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.data.flowlogs import make
from tests.integration.test_load import call, trail_path, write_trail

pytestmark = pytest.mark.slow
ROLETRAIL = [sys.executable, "-m", "api.cli"]


def _env(data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ROLETRAIL_")}
    env.update(ROLETRAIL_DATA_DIR=str(data_dir), ROLETRAIL_RETENTION_DAYS="0")
    return env


def _run(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*ROLETRAIL, *args], env=_env(data_dir), capture_output=True, text=True, timeout=120, check=False
    )


@pytest.fixture
def logs(tmp_path: Path) -> Path:
    root = tmp_path / "logs"
    write_trail(trail_path(root, "a"), [call(n) for n in range(4)])
    write_trail(trail_path(root, "b"), [call(n, key="ASIAEXAMPLECALLER002") for n in range(10, 13)])
    return root


def test_ingest_loads_a_folder_and_prints_a_summary(tmp_path: Path, logs: Path) -> None:
    # Act
    result = _run(tmp_path / "data", "ingest", str(logs))
    # Assert
    assert result.returncode == 0, result.stderr
    assert "objects: 2 processed" in result.stdout
    assert "records: 7 read, 7 loaded, 0 bad" in result.stdout


def test_ingest_of_a_missing_path_exits_non_zero(tmp_path: Path) -> None:
    # Act
    result = _run(tmp_path / "data", "ingest", str(tmp_path / "nowhere"))
    # Assert
    assert result.returncode != 0
    assert "cannot read" in result.stderr


def test_ingest_again_loads_nothing_new(tmp_path: Path, logs: Path) -> None:
    # Arrange
    _run(tmp_path / "data", "ingest", str(logs))
    # Act
    again = _run(tmp_path / "data", "ingest", str(logs))
    # Assert
    assert again.returncode == 0, again.stderr
    assert "objects: 0 processed, 2 already loaded" in again.stdout


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
def server(tmp_path: Path, logs: Path) -> Iterator[tuple[Path, str]]:
    data_dir = tmp_path / "data"
    port = _free_port()
    process = subprocess.Popen(
        [*ROLETRAIL, "serve", "--port", str(port), "--allow", str(logs)],
        env=_env(data_dir),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"{url}/health", timeout=1) as response:  # noqa: S310
                    if response.status == 200:
                        break
            except OSError:
                time.sleep(0.2)
        else:
            pytest.fail("the server did not start")
        yield data_dir, url
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=30)
        if process.stdout:
            process.stdout.close()


def _graphql(url: str, token: str, query: str) -> dict[str, object]:
    request = urllib.request.Request(  # noqa: S310
        f"{url}/graphql",
        data=json.dumps({"query": query}).encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
        result: dict[str, object] = json.loads(response.read())
        return result


def test_ingest_hands_the_work_to_the_server_that_holds_the_store(
    server: tuple[Path, str], logs: Path
) -> None:
    # Arrange
    data_dir, url = server
    token = (data_dir / "api-token").read_text().strip()
    # Act
    result = _run(data_dir, "ingest", str(logs))
    # Assert: the CLI could not open the store, the server loaded the files, the API sees them
    assert result.returncode == 0, result.stderr
    assert "handing the ingest to it" in result.stderr
    assert "records: 7 read, 7 loaded" in result.stdout
    answer = _graphql(url, token, '{ session(accessKeyId: "ASIAEXAMPLECALLER001") { apiCallCount } }')
    assert answer == {"data": {"session": {"apiCallCount": 4}}}


def test_the_server_refuses_paths_outside_its_allowed_roots(server: tuple[Path, str], tmp_path: Path) -> None:
    # Arrange: a folder the operator did not allow
    data_dir, _url = server
    elsewhere = tmp_path / "elsewhere"
    write_trail(trail_path(elsewhere, "c"), [call(1)])
    # Act
    result = _run(data_dir, "ingest", str(elsewhere))
    # Assert
    assert result.returncode != 0
    assert "outside the allowed source roots" in result.stderr


def test_rebuild_flows_refills_the_flow_rollups_and_shows_progress(tmp_path: Path) -> None:
    # Arrange: two flow files ingested (10 records, June 2024)
    logs = tmp_path / "logs"
    for index in (0, 1):
        target = logs / make.path(index).relative_to(make.HERE)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(make.path(index).read_bytes())
    assert _run(tmp_path / "data", "ingest", str(logs)).returncode == 0
    # Act
    result = _run(tmp_path / "data", "rebuild", "flows")
    # Assert
    assert result.returncode == 0, result.stderr
    assert "flow partition 202406 (1/1)" in result.stderr
    assert "rebuilt flow rollups from 10 records in 1 partitions" in result.stdout
