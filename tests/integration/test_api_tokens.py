"""Token management over GraphQL (api.tokens, api.token_store): admins create and revoke tokens,
which then authenticate (or stop) with their scope and accounts, on the real app, store and trail.

The app under test reads managed tokens on every request (ROLETRAIL_TOKEN_CACHE_SECONDS=0); the
cache bound itself is tested on `ManagedTokens` with a clock of our own.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from api.app import create_app
from api.permissions import TokenCheck, parse_tokens
from api.settings import ApiSettings
from api.token_store import ManagedTokens, digest
from clickhouse import tables
from clickhouse.client import Store
from ingest.load import Loader
from tests.data.api import trail
from tests.data.api.harness import SESSION, Api, Json, as_token, keys_of, load, open_api, sessions_page
from tests.integration.test_api_injection import PAYLOADS, assert_no_storage_error
from tests.support import truncate_all

pytestmark = pytest.mark.clickhouse

ADMIN_SECRET = "ops-admin-secret"
READ_SECRET = "viewer-read-secret"
LIMITED_ADMIN_SECRET = "c-admin-secret"
TOKENS = (
    f"ops:admin:{ADMIN_SECRET}",
    f"viewer:read:{READ_SECRET}",
    f"c-admin:admin@{trail.ACCOUNT_C}:{LIMITED_ADMIN_SECRET}",
)
C_KEYS = [trail.KEY_C, trail.KEY_EC2, trail.KEY_GAP_PARENT, trail.KEY_GAP_CHILD]
B_KEYS = [trail.KEY_B, trail.KEY_SAML, trail.KEY_SSO]

CREATE = """
mutation ($name: String!, $scope: ApiTokenScope!, $accounts: [String!]) {
  createApiToken(name: $name, scope: $scope, accountIds: $accounts) {
    secret
    token { id name scope origin accountIds createdAt createdBy revokedAt revokedBy }
  }
}
"""
REVOKE = """
mutation ($name: String!) {
  revokeApiToken(name: $name) { name revokedAt revokedBy }
}
"""
LIST = "{ apiTokens { id name scope origin accountIds createdAt createdBy revokedAt revokedBy } }"
INGEST = 'mutation { ingest(paths: ["/tmp"]) { id } }'


@pytest.fixture(scope="module")
def loaded(migrated_store: Store) -> Store:
    """The invented trail, loaded once: the tests below read it and write only tokens."""
    truncate_all(migrated_store)
    load(Loader(migrated_store, retention_days=0), trail.paths())
    return migrated_store


@pytest.fixture
def api(loaded: Store) -> Iterator[Api]:
    """The app as the `ops` admin, reading managed tokens on every request; no managed tokens yet."""
    loaded.command(f"TRUNCATE TABLE {tables.API_TOKENS}")
    settings = ApiSettings(token_cache_seconds=0)
    with open_api(loaded, settings, TOKENS) as client:
        yield as_token(client, ADMIN_SECRET)


def create(api: Api, name: str, scope: str = "READ", accounts: list[str] | None = None) -> Json:
    created: Json = api.data(CREATE, {"name": name, "scope": scope, "accounts": accounts})["createApiToken"]
    return created


def status_of(api: Api, query: str = "{ __typename }") -> int:
    response = api.http.post("/graphql", json={"query": query}, headers=api.auth)
    return response.status_code


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


def managed_names(api: Api) -> list[str]:
    return [t["name"] for t in api.data(LIST)["apiTokens"] if t["origin"] == "MANAGED"]


def codes(errors: list[Json]) -> list[str]:
    return [error["extensions"]["code"] for error in errors]


# -- create and use -------------------------------------------------------------------------------


def test_a_created_read_token_queries_like_a_configured_one(api: Api) -> None:
    # Act
    created = create(api, "notebook")
    reader = as_token(api, created["secret"])

    # Assert: the secret is a fresh 32-byte URL-safe token, and it reads everything
    assert len(created["secret"]) >= 43
    assert created["token"]["name"] == "notebook"
    assert created["token"]["id"] == "notebook"
    assert (created["token"]["scope"], created["token"]["origin"]) == ("READ", "MANAGED")
    assert (created["token"]["createdBy"], created["token"]["revokedAt"]) == ("ops", None)
    assert created["token"]["accountIds"] == []
    assert sorted(keys_of(sessions_page(reader))) == sorted(C_KEYS + B_KEYS)


def test_two_tokens_get_different_secrets(api: Api) -> None:
    # Act
    first, second = create(api, "one")["secret"], create(api, "two")["secret"]

    # Assert
    assert first != second
    assert status_of(as_token(api, first)) == status_of(as_token(api, second)) == 200


def test_a_managed_read_token_may_not_ingest_or_manage_tokens(api: Api) -> None:
    # Arrange
    reader = as_token(api, create(api, "reader")["secret"])

    # Act
    over_http = reader.http.post("/admin/ingest", json={"paths": ["/tmp"]}, headers=reader.auth)
    refused = [
        reader.errors(INGEST)[0],
        reader.errors(CREATE, {"name": "escalated", "scope": "ADMIN"})[0],
        reader.errors(REVOKE, {"name": "reader"})[0],
        reader.errors(LIST)[0],
    ]

    # Assert: refused with a clear error, and nothing was created or revoked
    assert over_http.status_code == 403
    assert codes(refused) == ["FORBIDDEN"] * 4
    assert "token 'reader' has scope 'read'; token management needs an admin token" in refused[1]["message"]
    names = {t["name"]: t for t in api.data(LIST)["apiTokens"]}
    assert "escalated" not in names
    assert names["reader"]["revokedAt"] is None


def test_a_configured_read_token_may_not_manage_tokens(api: Api) -> None:
    # Act
    errors = as_token(api, READ_SECRET).errors(CREATE, {"name": "mine", "scope": "READ"})

    # Assert
    assert codes(errors) == ["FORBIDDEN"]
    assert "'viewer' has scope 'read'" in errors[0]["message"]


def test_an_admin_limited_to_accounts_may_not_manage_tokens(api: Api) -> None:
    # Act: it could otherwise create a token that sees every account
    errors = as_token(api, LIMITED_ADMIN_SECRET).errors(CREATE, {"name": "wide", "scope": "READ"})

    # Assert
    assert codes(errors) == ["FORBIDDEN"]
    assert "limited to accounts" in errors[0]["message"]


def test_a_managed_admin_token_ingests_and_creates_tokens_under_its_name(api: Api) -> None:
    # Arrange
    admin = as_token(api, create(api, "deputy", "ADMIN")["secret"])

    # Act
    created = create(admin, "delegated")
    ingest = admin.errors(INGEST)

    # Assert: admin scope passes the check (this app submits no jobs: refused for that reason only)
    assert created["token"]["createdBy"] == "deputy"
    assert status_of(as_token(api, created["secret"])) == 200
    assert "admin token" not in ingest[0]["message"]


def test_a_token_limited_to_accounts_sees_only_them(api: Api) -> None:
    # Arrange
    created = create(api, "c-notebook", accounts=[trail.ACCOUNT_C, trail.ACCOUNT_C])
    limited = as_token(api, created["secret"])

    # Act
    listed = keys_of(sessions_page(limited))
    other_account = limited.data(SESSION, {"key": trail.KEY_B})

    # Assert
    assert created["token"]["accountIds"] == [trail.ACCOUNT_C]
    assert sorted(listed) == sorted(C_KEYS)
    assert other_account == {"session": None}


# -- revoke ---------------------------------------------------------------------------------------


def test_a_revoked_token_gets_401(api: Api) -> None:
    # Arrange
    created = create(api, "leaked")
    leaked = as_token(api, created["secret"])
    assert status_of(leaked) == 200

    # Act
    revoked = api.data(REVOKE, {"name": "leaked"})["revokeApiToken"]

    # Assert
    assert (revoked["name"], revoked["revokedBy"]) == ("leaked", "ops")
    assert revoked["revokedAt"] is not None
    assert status_of(leaked) == 401
    assert leaked.http.get("/metrics", headers=leaked.auth).status_code == 401


def test_revoking_twice_keeps_the_first_revocation(api: Api) -> None:
    # Arrange
    create(api, "old")
    first = api.data(REVOKE, {"name": "old"})["revokeApiToken"]

    # Act
    second = api.data(REVOKE, {"name": "old"})["revokeApiToken"]

    # Assert
    assert second == first


def test_revoking_one_token_leaves_the_others_working(api: Api) -> None:
    # Arrange
    kept = as_token(api, create(api, "kept")["secret"])
    create(api, "dropped")

    # Act
    api.data(REVOKE, {"name": "dropped"})

    # Assert
    assert status_of(kept) == 200
    assert status_of(as_token(api, READ_SECRET)) == 200


def test_revocation_reaches_another_process_within_the_cache_bound(loaded: Store) -> None:
    # Arrange: two API processes on one store, each caching managed tokens for 5 seconds
    loaded.command(f"TRUNCATE TABLE {tables.API_TOKENS}")
    now = [1000.0]
    configured = parse_tokens(TOKENS)
    here = ManagedTokens(loaded, 5, configured, clock=lambda: now[0])
    there = ManagedTokens(loaded, 5, configured, clock=lambda: now[0])
    check_here, check_there = TokenCheck(TOKENS, here), TokenCheck(TOKENS, there)
    secret = here.create("roaming", "read", (), "ops").secret
    bearer = f"Bearer {secret}"
    assert check_here.name_of(bearer) == check_there.name_of(bearer) == "roaming"  # both caches filled

    # Act
    here.revoke("roaming", "ops")
    in_the_revoking_process = check_here.name_of(bearer)
    now[0] += 4.9
    before_bound = check_there.name_of(bearer)
    now[0] += 0.1
    at_bound = check_there.name_of(bearer)

    # Assert: the other process still knew it from its cache, then read the store again
    assert before_bound == "roaming"
    assert at_bound is None
    assert in_the_revoking_process is None  # at once


def test_a_created_token_works_at_once_in_the_process_that_created_it(loaded: Store) -> None:
    # Arrange: a long cache, already filled
    loaded.command(f"TRUNCATE TABLE {tables.API_TOKENS}")
    managed = ManagedTokens(loaded, 300, parse_tokens(TOKENS))
    check = TokenCheck(TOKENS, managed)
    assert check.name_of("Bearer not-yet") is None

    # Act
    secret = managed.create("fresh", "read", (), "ops").secret

    # Assert
    assert check.name_of(f"Bearer {secret}") == "fresh"


def test_a_store_that_cannot_be_read_gives_503_to_unknown_tokens_only(loaded: Store) -> None:
    # Arrange: a store whose database does not exist, so managed tokens cannot be read
    broken = Store(loaded.settings, database=f"{loaded.database}_missing")
    app = create_app(ApiSettings(token_cache_seconds=0), broken, TOKENS)

    # Act
    try:
        with TestClient(app) as http:
            unknown = http.post("/graphql", json={"query": "{ __typename }"}, headers=bearer("not-a-token"))
            configured = http.post("/graphql", json={"query": "{ __typename }"}, headers=bearer(READ_SECRET))
    finally:
        broken.close()

    # Assert: said plainly (not "invalid token"); configured tokens do not need the store
    assert (unknown.status_code, unknown.json()) == (503, {"error": "the token store is unavailable"})
    assert configured.status_code == 200


# -- names and input ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["taken", "ops", "viewer"], ids=["managed", "configured", "configured-read"])
def test_a_name_in_use_is_refused(api: Api, name: str) -> None:
    # Arrange
    first = create(api, "taken")

    # Act
    errors = api.errors(CREATE, {"name": name, "scope": "ADMIN"})

    # Assert: refused, and the first token keeps working
    assert codes(errors) == ["BAD_REQUEST"]
    assert "taken" in errors[0]["message"]
    assert status_of(as_token(api, first["secret"])) == 200


def test_a_revoked_name_is_not_reused(api: Api) -> None:
    # Arrange
    create(api, "retired")
    api.data(REVOKE, {"name": "retired"})

    # Act
    errors = api.errors(CREATE, {"name": "retired", "scope": "READ"})

    # Assert
    assert "names of revoked tokens are not reused" in errors[0]["message"]


@pytest.mark.parametrize(
    ("name", "accounts", "message"),
    [
        ("", None, "name must be 1-64"),
        ("-dash", None, "name must be 1-64"),
        ("has space", None, "name must be 1-64"),
        ("a" * 65, None, "name must be 1-64"),
        ("colon:name", None, "name must be 1-64"),
        ("ok", ["12345"], "12-digit"),
        ("ok", ["1111111111111"], "12-digit"),
        ("ok", ["11111111111a"], "12-digit"),
        ("ok", [" 111111111111"], "12-digit"),
        ("ok", [f"{n:012d}" for n in range(101)], "at most 100"),
    ],
    ids=["empty", "dash", "space", "long", "colon", "short", "long-id", "letter", "padded", "too-many"],
)
def test_bad_input_is_refused(api: Api, name: str, accounts: list[str] | None, message: str) -> None:
    # Act
    errors = api.errors(CREATE, {"name": name, "scope": "READ", "accounts": accounts})

    # Assert: a client error saying what is wrong; nothing stored
    assert codes(errors) == ["BAD_REQUEST"]
    assert message in errors[0]["message"]
    assert managed_names(api) == []


def test_an_unknown_scope_is_refused_by_the_schema(api: Api) -> None:
    # Act
    errors = api.errors(CREATE, {"name": "x", "scope": "ROOT"})

    # Assert
    assert "ApiTokenScope" in errors[0]["message"]


@pytest.mark.parametrize(
    ("name", "message"), [("nobody", "no managed API token"), ("ops", "ROLETRAIL_API_TOKENS")]
)
def test_only_managed_tokens_can_be_revoked(api: Api, name: str, message: str) -> None:
    # Act
    errors = api.errors(REVOKE, {"name": name})

    # Assert
    assert codes(errors) == ["BAD_REQUEST"]
    assert message in errors[0]["message"]
    assert status_of(api) == 200


# -- listing --------------------------------------------------------------------------------------


def test_the_list_shows_every_token_and_never_a_secret(api: Api, loaded: Store) -> None:
    # Arrange
    reader = create(api, "reader", accounts=[trail.ACCOUNT_B])
    admin = create(api, "deputy", "ADMIN")
    api.data(REVOKE, {"name": "deputy"})

    # Act
    listed = api.data(LIST)["apiTokens"]

    # Assert: configured and managed, by name
    summary = [(t["name"], t["scope"], t["origin"], t["accountIds"], t["revokedAt"] is None) for t in listed]
    assert summary == [
        ("c-admin", "ADMIN", "CONFIGURED", [trail.ACCOUNT_C], True),
        ("deputy", "ADMIN", "MANAGED", [], False),
        ("ops", "ADMIN", "CONFIGURED", [], True),
        ("reader", "READ", "MANAGED", [trail.ACCOUNT_B], True),
        ("viewer", "READ", "CONFIGURED", [], True),
    ]
    text = json.dumps(listed)
    for secret in (reader["secret"], admin["secret"], ADMIN_SECRET, READ_SECRET, LIMITED_ADMIN_SECRET):
        assert secret not in text
        assert digest(secret) not in text
    # The store keeps only hashes.
    stored = json.dumps(loaded.rows(f"SELECT * FROM {tables.API_TOKENS}"), default=str)
    assert reader["secret"] not in stored
    assert digest(reader["secret"]) in stored


def test_the_type_has_no_field_for_secrets(api: Api) -> None:
    # Act
    fields = api.data('{ __type(name: "ApiToken") { fields { name } } }')["__type"]["fields"]

    # Assert
    assert not [f["name"] for f in fields if "secret" in f["name"].lower() or "sha" in f["name"].lower()]


def test_a_configured_name_hides_a_managed_token_of_that_name(api: Api, loaded: Store) -> None:
    # Arrange: a managed token whose name the configuration took later
    created = create(api, "later")
    settings = ApiSettings(token_cache_seconds=0)

    # Act
    with open_api(loaded, settings, (*TOKENS, "later:read:configured-later")) as client:
        managed_secret = as_token(client, created["secret"])
        configured = as_token(client, "configured-later")
        statuses = status_of(managed_secret), status_of(configured)
        listed = [t for t in as_token(client, ADMIN_SECRET).data(LIST)["apiTokens"] if t["name"] == "later"]

    # Assert
    assert statuses == (401, 200)
    assert [t["origin"] for t in listed] == ["CONFIGURED"]


def test_the_readme_operations_run_as_written(api: Api) -> None:
    # Arrange: the create, revoke and list operations of the README, one per top-level line
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    block = readme.split("### Managing API tokens", 1)[1].split("```graphql", 1)[1].split("```", 1)[0]
    lines = block.splitlines()
    starts = [n for n, line in enumerate(lines) if line.startswith(("mutation", "query"))]
    ends = [*starts[1:], len(lines)]
    create_op, revoke_op, list_op = ("\n".join(lines[a:b]) for a, b in zip(starts, ends, strict=True))

    # Act
    created = api.data(create_op)["createApiToken"]
    works = status_of(as_token(api, created["secret"]))
    revoked = api.data(revoke_op)["revokeApiToken"]
    listed = {t["name"]: t for t in api.data(list_op)["apiTokens"]}

    # Assert
    assert (created["token"]["name"], created["token"]["accountIds"]) == ("soar-playbook", ["111111111111"])
    assert (works, status_of(as_token(api, created["secret"]))) == (200, 401)
    assert listed["soar-playbook"]["revokedAt"] == revoked["revokedAt"]


# -- audit ----------------------------------------------------------------------------------------


def test_creation_and_revocation_are_audited_without_the_secret(
    api: Api, caplog: pytest.LogCaptureFixture
) -> None:
    # Arrange
    caplog.set_level(logging.INFO, logger="roletrail.audit")

    # Act
    created = create(api, "audited", accounts=[trail.ACCOUNT_A, trail.ACCOUNT_B])
    api.data(REVOKE, {"name": "audited"})

    # Assert
    lines = [r.getMessage() for r in caplog.records if r.name == "roletrail.audit"]
    accounts = f"{trail.ACCOUNT_A}+{trail.ACCOUNT_B}"
    assert f"api token created name=audited scope=read accounts={accounts} by=ops" in lines
    assert "api token revoked name=audited by=ops" in lines
    assert created["secret"] not in caplog.text
    assert digest(created["secret"]) not in caplog.text


# -- injection ------------------------------------------------------------------------------------

Variables = Callable[[str], Json]
Literal = Callable[[str], str]
INJECTED: list[tuple[str, str, Variables, Literal]] = [
    (
        "create-name",
        CREATE,
        lambda p: {"name": p, "scope": "READ"},
        lambda p: f"mutation {{ createApiToken(name: {json.dumps(p)}, scope: READ) {{ secret }} }}",
    ),
    (
        "create-account",
        CREATE,
        lambda p: {"name": "probe", "scope": "READ", "accounts": [trail.ACCOUNT_A, p]},
        lambda p: (
            f'mutation {{ createApiToken(name: "probe", scope: READ, accountIds: [{json.dumps(p)}]) '
            "{ secret } }"
        ),
    ),
    (
        "revoke-name",
        REVOKE,
        lambda p: {"name": p},
        lambda p: f"mutation {{ revokeApiToken(name: {json.dumps(p)}) {{ name }} }}",
    ),
]


@pytest.mark.parametrize(
    ("query", "variables", "literal"), [i[1:] for i in INJECTED], ids=[i[0] for i in INJECTED]
)
@pytest.mark.parametrize("payload", list(PAYLOADS.values()), ids=list(PAYLOADS))
def test_hostile_strings_are_refused_as_client_errors(
    api: Api, loaded: Store, query: str, variables: Variables, literal: Literal, payload: str
) -> None:
    # Arrange
    kept = create(api, "kept")
    events = loaded.scalar(f"SELECT count() FROM {tables.CLOUDTRAIL_EVENTS}")

    # Act
    answers = [api.post(query, variables(payload)), api.post(literal(payload))]

    # Assert: a client error for each; nothing written, dropped or changed
    for answer in answers:
        assert_no_storage_error(answer, payload)
        assert codes(answer["errors"]) == ["BAD_REQUEST"], answer
    assert managed_names(api) == ["kept"]
    assert loaded.scalar(f"SELECT count() FROM {tables.CLOUDTRAIL_EVENTS}") == events
    assert set(tables.DATA_TABLES) <= {row[0] for row in loaded.rows("SHOW TABLES")}
    assert status_of(as_token(api, kept["secret"])) == 200
