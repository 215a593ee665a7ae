"""Ingest over GraphQL: the admin mutation, job progress with per-object problems, refusals.

The queue is replaced by a synchronous stand-in that runs the real discovery walk, the real
loader and the real job ledger in the test's thread (the Redis + Dramatiq path is tested in e2e).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from clickhouse.client import Store
from ingest import jobs
from ingest.load import Loader
from ingest.sources import walk
from tests.data.api import trail
from tests.data.api.harness import Api, Json, as_token, open_api

pytestmark = pytest.mark.clickhouse

READ_SECRET = "ingest-reader"
INGEST = """
mutation ($paths: [String!]!) {
  ingest(paths: $paths) {
    id paths discovered finished objectsFound objectsDone recordsRead recordsLoaded recordsBad
    byStatus { status objects } problems { uri status message recordsBad } message
  }
}
"""
JOB = """
query ($id: ID!) {
  ingestJob(id: $id) {
    id finished objectsFound objectsAlreadyLoaded objectsDone recordsLoaded recordsBad
    problems { uri status recordsBad }
  }
}
"""


class SyncQueue:
    """Records what was submitted and loads it at once, as the workers would."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.loader = Loader(store, retention_days=0)
        self.submitted: list[list[str]] = []

    def __call__(self, paths: list[str], requested_by: str) -> str:
        self.submitted.append(paths)
        job_id = jobs.create_job(self.store, paths, requested_by)
        refs = [ref for path in paths for ref in walk(Path(path))]
        done = self.loader.done(refs)
        todo = [ref for ref in refs if ref.object_id not in done]
        self.loader.load_many(todo, job_id)
        jobs.mark_discovered(self.store, job_id, len(todo), len(refs) - len(todo))
        return job_id


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """A source root with the account B trail file and a corrupt file."""
    folder = tmp_path / "logs"
    shutil.copytree(trail.HERE / "AWSLogs" / trail.ACCOUNT_B, folder / "AWSLogs" / trail.ACCOUNT_B)
    (folder / "broken.json.gz").write_bytes(b"\x1f\x8b not really gzip")
    return folder


@pytest.fixture
def queue(store: Store) -> SyncQueue:
    return SyncQueue(store)


@pytest.fixture
def api(store: Store, root: Path, queue: SyncQueue) -> Iterator[Api]:
    tokens = ("test-token", f"viewer:read:{READ_SECRET}")
    with open_api(
        store, tokens=tokens, enqueue=queue, source_roots=(root,), job_status=jobs.job_status
    ) as client:
        yield client


def test_an_admin_loads_a_folder_and_follows_the_job(api: Api, root: Path) -> None:
    # Act
    job: Json = api.data(INGEST, {"paths": [str(root)]})["ingest"]
    again = api.data(JOB, {"id": job["id"]})["ingestJob"]
    session = api.data('{ session(accessKeyId: "' + trail.KEY_B + '") { apiCallCount } }')

    # Assert: both objects done; the broken one is a per-object problem; the calls are queryable
    assert (job["finished"], job["objectsFound"], job["objectsDone"]) == (True, 2, 2)
    assert job["recordsLoaded"] > 0
    assert [p["uri"].rsplit("/", 1)[-1] for p in job["problems"]] == ["broken.json.gz"]
    assert job["problems"][0]["status"] in ("failed", "partial")
    assert again["id"] == job["id"]
    assert again["recordsLoaded"] == job["recordsLoaded"]
    assert session == {"session": {"apiCallCount": trail.EXPECTED_CALLS[trail.KEY_B]}}


def test_loading_the_same_folder_again_loads_nothing_new(api: Api, root: Path) -> None:
    # Arrange
    first = api.data(INGEST, {"paths": [str(root)]})["ingest"]

    # Act
    second = api.data(INGEST, {"paths": [str(root)]})["ingest"]

    # Assert
    assert first["recordsLoaded"] > 0
    assert (second["objectsFound"], second["recordsLoaded"]) == (0, 0)
    assert api.data(JOB, {"id": second["id"]})["ingestJob"]["objectsAlreadyLoaded"] >= 1


def test_a_read_token_may_not_ingest_or_read_jobs(api: Api, root: Path, queue: SyncQueue) -> None:
    # Act
    reader = as_token(api, READ_SECRET)
    ingest = reader.errors(INGEST, {"paths": [str(root)]})
    job = reader.errors(JOB, {"id": "any"})

    # Assert
    assert ingest[0]["message"] == "token 'viewer' has scope 'read'; ingest needs an admin token"
    assert ingest[0]["extensions"]["code"] == "FORBIDDEN"
    assert job[0]["extensions"]["code"] == "FORBIDDEN"
    assert queue.submitted == []


@pytest.mark.parametrize(
    "path",
    [
        "{root}/../outside",
        "{root}/AWSLogs/../../outside",
        "/etc/passwd",
        "{root}/link-out",
        "{root}-sibling",
        "relative/path",
    ],
    ids=["dotdot", "nested-dotdot", "absolute", "symlink", "prefix-sibling", "relative"],
)
def test_paths_outside_the_source_roots_are_refused(
    api: Api, root: Path, queue: SyncQueue, path: str
) -> None:
    # Arrange: a folder beside the root, and a link inside the root that points to it
    outside = root.parent / "outside"
    outside.mkdir(exist_ok=True)
    (root / "link-out").symlink_to(outside)
    (root.parent / "logs-sibling").mkdir(exist_ok=True)

    # Act
    errors = api.errors(INGEST, {"paths": [str(root / "AWSLogs"), path.format(root=root)]})

    # Assert: the whole request is refused, nothing is submitted
    assert errors[0]["message"].startswith("outside the allowed source roots: ")
    assert errors[0]["extensions"]["code"] == "FORBIDDEN"
    assert queue.submitted == []


def test_an_empty_path_list_is_a_client_error(api: Api) -> None:
    # Act
    errors = api.errors(INGEST, {"paths": []})

    # Assert
    assert errors[0]["extensions"]["code"] == "BAD_REQUEST"


def test_an_unknown_job_is_null(api: Api) -> None:
    # Act / Assert
    assert api.data(JOB, {"id": "no-such-job"}) == {"ingestJob": None}


def test_without_source_roots_nothing_can_be_ingested(store: Store, queue: SyncQueue, root: Path) -> None:
    # Act
    with open_api(store, enqueue=queue, job_status=jobs.job_status) as api:
        errors = api.errors(INGEST, {"paths": [str(root)]})

    # Assert
    assert errors[0]["message"].startswith("no source roots configured")
    assert queue.submitted == []


def test_a_mutation_is_refused_over_get(api: Api, root: Path, queue: SyncQueue) -> None:
    # Act
    response = api.http.get(
        "/graphql",
        params={"query": 'mutation { ingest(paths: ["' + str(root) + '"]) { id } }'},
        headers=api.auth,
    )

    # Assert
    assert response.status_code in (400, 405)
    assert queue.submitted == []
