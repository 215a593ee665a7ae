"""A small GraphQL client over Starlette's TestClient, for the API tests (real app, real store)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from starlette.testclient import TestClient

from api.app import create_app
from api.settings import ApiSettings
from clickhouse.client import Store
from ingest.load import LOADED, Loader
from ingest.sources import file_ref
from tests.data.api import trail
from tests.support import truncate_all

TOKEN = "test-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
WINDOW = {"from": "2024-05-01T00:00:00Z", "to": "2024-05-02T00:00:00Z"}  # the invented trail's day

Json = dict[str, Any]

SESSION = """
query ($key: String!) {
  session(accessKeyId: $key) {
    accessKeyId credentialKind roleArn sessionName accountId issuedAt expiresAt firstSeen lastSeen
    apiCallCount errorCount sourceIdentity onBehalfOf
    origin { kind identifier displayName }
    assumedBy { kind identifier displayName }
    chain { accessKeyId roleArn accountId }
    chainGap { accountId roleArn principalId time }
  }
}
"""

CALLS = """
query ($key: String!, $first: Int, $after: String, $from: DateTime, $to: DateTime) {
  session(accessKeyId: $key) {
    apiCalls(first: $first, after: $after, from: $from, to: $to) {
      edges { cursor node { eventId eventName errorCode recipientAccountId eventTime } }
      pageInfo { hasNextPage endCursor }
    }
  }
}
"""

SESSIONS = """
query ($account: String, $role: String, $from: DateTime, $to: DateTime, $first: Int, $after: String) {
  sessions(accountId: $account, roleArn: $role, from: $from, to: $to, first: $first, after: $after) {
    edges { cursor node { accessKeyId apiCallCount firstSeen } }
    pageInfo { hasNextPage endCursor }
  }
}
"""


@dataclass
class Api:
    http: TestClient
    auth: dict[str, str] = field(default_factory=lambda: dict(AUTH))

    def post(self, query: str, variables: Json | None = None) -> Json:
        response = self.http.post(
            "/graphql", json={"query": query, "variables": variables or {}}, headers=self.auth
        )
        assert response.status_code == 200, response.text
        body: Json = response.json()
        return body

    def data(self, query: str, variables: Json | None = None) -> Json:
        """The data of a query that must succeed."""
        body = self.post(query, variables)
        assert not body.get("errors"), body["errors"]
        data: Json = body["data"]
        return data

    def errors(self, query: str, variables: Json | None = None) -> list[Json]:
        """The errors of a query that must fail."""
        body = self.post(query, variables)
        assert body.get("errors"), body
        errors: list[Json] = body["errors"]
        return errors


@contextmanager
def open_api(
    store: Store, settings: ApiSettings | None = None, tokens: tuple[str, ...] = (TOKEN,), **app: Any
) -> Iterator[Api]:
    """The real app on `store`; the client presents the test token (give `tokens` to configure
    others, and use `Api.as_token` to present one of them)."""
    with TestClient(create_app(settings or ApiSettings(), store, tokens, **app)) as http:
        yield Api(http)


@contextmanager
def trail_api(store: Store, tokens: tuple[str, ...] = (TOKEN,), extra: Sequence[Path] = ()) -> Iterator[Api]:
    """The app on a store holding just the invented trail of this folder (and `extra` files): for
    module-scoped fixtures of tests that only read."""
    truncate_all(store)
    load(Loader(store, retention_days=0), [*trail.paths(), *extra])
    with open_api(store, tokens=tokens) as api:
        yield api


def as_token(api: Api, secret: str) -> Api:
    """The same app, presenting another configured token."""
    return Api(api.http, {"Authorization": f"Bearer {secret}"})


def load(loader: Loader, files: Sequence[Path]) -> None:
    """Load files through the real loader; every one must load whole."""
    results = [loader.load(file_ref(path)) for path in files]
    assert [r.status for r in results] == [LOADED] * len(files), results


def session(api: Api, key: str) -> Json:
    found: Json = api.data(SESSION, {"key": key})["session"]
    return found


def calls_page(api: Api, key: str, **variables: Any) -> Json:
    page: Json = api.data(CALLS, {"key": key, **variables})["session"]["apiCalls"]
    return page


def sessions_page(api: Api, **variables: Any) -> Json:
    page: Json = api.data(SESSIONS, {**WINDOW, **variables})["sessions"]
    return page


def keys_of(page: Json) -> list[str]:
    return [edge["node"]["accessKeyId"] for edge in page["edges"]]


def walk_calls(api: Api, key: str, first: int) -> list[Json]:
    """Every call of a session, page by page."""
    nodes: list[Json] = []
    after = None
    for _ in range(1000):
        page = calls_page(api, key, first=first, after=after)
        nodes += [edge["node"] for edge in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            return nodes
        after = page["pageInfo"]["endCursor"]
    raise AssertionError("pagination did not end")
