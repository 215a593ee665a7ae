"""Hostile strings in every string argument of the schema never reach SQL as SQL.

The schema is walked, not listed by hand: every argument of type String, ID or DateTime on every
field reachable from Query (without revisiting a type) gets each payload, as a variable and as an
inline literal. A payload may be refused as a client error or simply match nothing; it must never
cause a storage error, and the data must be intact afterwards.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from graphql import (
    GraphQLInputObjectType,
    GraphQLInterfaceType,
    GraphQLNonNull,
    GraphQLObjectType,
    get_named_type,
)

from api.schema import build_schema
from api.settings import ApiSettings
from clickhouse import tables
from clickhouse.client import Store
from ingest.load import Loader
from tests.data.api import trail
from tests.data.api.harness import SESSION, WINDOW, Api, load, open_api
from tests.support import truncate_all

pytestmark = pytest.mark.clickhouse

PAYLOADS = {
    "or-1": "' OR 1=1 --",
    "drop": "\\'); DROP TABLE cloudtrail_events; --",
    "placeholder": "{x:String}",
    "placeholder-typed": "{key:Array(String)}",
    "quotes": "\"'`\\",
    "unicode": "ключ 🔑 \u202e ﷽ \u0000 end",
    "10k": "A" * 10_240,
    "10k-quotes": "'\\" * 5_120,
}
STRING_TYPES = {"String", "ID", "DateTime"}
Composite = GraphQLObjectType | GraphQLInterfaceType
# Valid values for the arguments a path needs to reach the field under test (so its resolver runs).
ROUTE_ARGUMENTS: dict[tuple[str, str], dict[str, str]] = {
    ("Query", "session"): {"accessKeyId": json.dumps(trail.KEY_C)},
    ("Query", "sessions"): {"from": json.dumps(WINDOW["from"]), "to": json.dumps(WINDOW["to"])},
    ("Query", "principal"): {"kind": "IAM_USER", "identifier": json.dumps(trail.ALICE_ARN)},
    ("Query", "instance"): {"id": json.dumps(trail.INSTANCE)},
    ("Query", "role"): {"arn": json.dumps(trail.WEB_ARN)},
    ("Query", "accessKey"): {"id": json.dumps(trail.ALICE_AKIA)},
    ("Query", "ipAddress"): {
        "address": json.dumps("198.51.100.7"),
        "from": json.dumps(WINDOW["from"]),
        "to": json.dumps(WINDOW["to"]),
    },
    ("Query", "resource"): {
        "identifier": json.dumps(trail.AUDITOR_ARN),
        "from": json.dumps(WINDOW["from"]),
        "to": json.dumps(WINDOW["to"]),
    },
    ("Query", "search"): {
        "text": json.dumps("alice"),
        "from": json.dumps(WINDOW["from"]),
        "to": json.dumps(WINDOW["to"]),
    },
    ("Query", "ingestJob"): {"id": json.dumps("no-such-job")},
}


@dataclass(frozen=True)
class Site:
    """One argument of one field, and the fields leading to it from Query."""

    route: tuple[tuple[str, str], ...]  # (parent type, field) pairs, the last one holds the argument
    argument: str
    type_text: str
    leaf_is_object: bool
    input_field: str | None = None  # a string field of an input-object argument (a filter)

    @property
    def name(self) -> str:
        inner = f".{self.input_field}" if self.input_field else ""
        return ".".join(field for _, field in self.route) + f"({self.argument}{inner})"

    def value(self, text: str) -> str:
        """The argument's GraphQL text for a payload given as GraphQL text."""
        return f"{{{self.input_field}: {text}}}" if self.input_field else text


def declared_by(parent: Composite, field_name: str) -> str:
    """The most general interface of `parent` that declares the field (its implementations share one
    resolver: ActivityProfile's panels, CallSet's calls, Principal's fields), else `parent` itself."""
    owners = [i for i in parent.interfaces if field_name in i.fields]
    general = [i for i in owners if not any(field_name in j.fields for j in i.interfaces)]
    owner: Composite = (general or owners or [parent])[0]
    return str(owner.name)


def argument_sites() -> list[Site]:
    """Every string argument once, each reached by its shortest route from Query (breadth first):
    the same field of a type (or of the interface that declares it) does not need testing again
    through every longer route or every other implementation."""
    schema = build_schema(ApiSettings())._schema
    assert schema.query_type is not None
    sites: list[Site] = []
    queue: list[tuple[Composite, tuple[tuple[str, str], ...]]] = [(schema.query_type, ())]
    reached = {"Query"}
    covered: set[tuple[str, str]] = set()
    while queue:
        parent, route = queue.pop(0)
        for field_name, field in parent.fields.items():
            step = (*route, (parent.name, field_name))
            target = get_named_type(field.type)
            is_object = isinstance(target, Composite)
            owner = (declared_by(parent, field_name), field_name)
            arguments = {} if owner in covered else field.args
            covered.add(owner)
            for arg_name, arg in arguments.items():
                named = get_named_type(arg.type)
                if named.name in STRING_TYPES:
                    sites.append(Site(step, arg_name, str(arg.type), is_object))
                elif isinstance(named, GraphQLInputObjectType):
                    sites += [
                        Site(step, arg_name, str(inner.type), is_object, inner_name)
                        for inner_name, inner in named.fields.items()
                        if get_named_type(inner.type).name in STRING_TYPES
                    ]
            if isinstance(target, Composite) and target.name not in reached:
                reached.add(target.name)
                queue.append((target, step))
    return sites


SITES = argument_sites()


def build_query(site: Site, values: list[str]) -> str:
    """The query that reaches `site` once per value (aliased `a0`, `a1`... at the field that holds
    the argument, so one request tries them all); each value is GraphQL text (a literal or `$vN`)."""
    schema = build_schema(ApiSettings())._schema
    selection = "{ __typename }" if site.leaf_is_object else ""
    for index in range(len(site.route) - 1, -1, -1):
        parent, field_name = site.route[index]
        parent_type = schema.get_type(parent)
        assert isinstance(parent_type, Composite)
        field = parent_type.fields[field_name]
        arguments = dict(ROUTE_ARGUMENTS.get((parent, field_name), {}))
        for arg_name, arg in field.args.items():
            required = isinstance(arg.type, GraphQLNonNull) and arg.default_value is None
            assert (
                not required
                or arg_name in arguments
                or (index == len(site.route) - 1 and arg_name == site.argument)
            ), f"add a valid value for {parent}.{field_name}({arg_name})"
        if index == len(site.route) - 1:
            aliased = []
            for number, value in enumerate(values):
                given = {**arguments, site.argument: site.value(value)}
                text = ", ".join(f"{k}: {v}" for k, v in given.items())
                aliased.append(f"a{number}: {field_name}({text}) {selection}")
            selection = "{ " + " ".join(aliased) + " }"
            continue
        text = f"({', '.join(f'{k}: {v}' for k, v in arguments.items())})" if arguments else ""
        selection = f"{{ {field_name}{text} {selection} }}"
    return selection


@pytest.fixture(scope="module")
def api(migrated_store: Store) -> Iterator[Api]:
    """The whole invented trail, loaded once: these tests only read (and check that they did)."""
    truncate_all(migrated_store)
    load(Loader(migrated_store, retention_days=0), trail.paths())
    with open_api(migrated_store) as client:
        yield client


def assert_no_storage_error(body: dict[str, object], where: str) -> None:
    for error in body.get("errors") or []:  # type: ignore[attr-defined]
        code = error.get("extensions", {}).get("code")
        assert code not in ("INTERNAL", "QUERY_TIMEOUT"), (where, error)
        assert "DB::Exception" not in error["message"], (where, error)


def test_the_walk_finds_every_string_argument() -> None:
    # Assert: a guard that the walk sees the schema (it grows with new fields, never shrinks silently)
    names = {site.name for site in SITES}
    assert {
        "session(accessKeyId)",
        "sessions(accountId)",
        "sessions(roleArn)",
        "sessions(after)",
        "sessions(from)",
        "sessions(to)",
        "session.apiCalls(after)",
        "session.apiCalls(from)",
        "principal(identifier)",
        "instance(id)",
        "role(arn)",
        "principal.sessions(after)",
        "role.sessions(from)",
    } <= names
    assert {
        "accessKey(id)",
        "ipAddress(address)",
        "resource(identifier)",
        "search(text)",
        "ingestJob(id)",
        "session.apiCalls(filter.service)",
        "session.apiCalls(filter.errorCode)",
        "accessKey.apiCalls(filter.sourceIp)",
        "session.apiCallsBySourceIp(from)",
        "accessKey.principals(to)",
    } <= names
    # Each argument once, by its shortest route (and once per interface that declares it).
    assert len(names) == len(SITES)


@pytest.mark.parametrize("site", SITES, ids=[site.name for site in SITES])
def test_hostile_strings_never_reach_sql(api: Api, migrated_store: Store, site: Site) -> None:
    # Arrange
    events = migrated_store.scalar(f"SELECT count() FROM {tables.CLOUDTRAIL_EVENTS}")
    before = api.data(SESSION, {"key": trail.KEY_C})

    # Act
    payloads = list(PAYLOADS.values())
    declared = ", ".join(f"$v{n}: {site.type_text}" for n in range(len(payloads)))
    as_variables = f"query ({declared}) {build_query(site, [f'$v{n}' for n in range(len(payloads))])}"
    variables = {f"v{n}": payload for n, payload in enumerate(payloads)}
    assert_no_storage_error(api.post(as_variables, variables), f"{site.name} as variables")
    literals = build_query(site, [json.dumps(payload) for payload in payloads])
    assert_no_storage_error(api.post(literals), f"{site.name} as literals")

    # Assert: nothing was written, dropped or changed
    assert migrated_store.scalar(f"SELECT count() FROM {tables.CLOUDTRAIL_EVENTS}") == events
    assert api.data(SESSION, {"key": trail.KEY_C}) == before
    names = {row[0] for row in migrated_store.rows("SHOW TABLES")}
    assert set(tables.DATA_TABLES) <= names


def test_a_hostile_key_matches_nothing(api: Api) -> None:
    # Act
    found = {name: api.post(SESSION, {"key": payload}) for name, payload in PAYLOADS.items()}

    # Assert: looked up as a value like any other (or refused for its length), never as SQL
    for name, body in found.items():
        if name.startswith("10k"):
            assert body["errors"][0]["message"] == "accessKeyId must be 1 to 512 characters"
        else:
            assert body == {"data": {"session": None}}, name


def test_hostile_paths_never_reach_the_queue(api: Api, migrated_store: Store) -> None:
    # Arrange: an app that would submit jobs, with one allowed root
    submitted: list[list[str]] = []

    def enqueue(paths: list[str], who: str) -> str:
        submitted.append(paths)
        return "job"

    # Act
    with open_api(migrated_store, enqueue=enqueue, source_roots=(trail.HERE,)) as admin:
        bodies = [
            admin.post("mutation ($p: [String!]!) { ingest(paths: $p) { id } }", {"p": [payload]})
            for payload in PAYLOADS.values()
        ]

    # Assert: each refused as a client error (outside the roots, or too long), none submitted
    assert submitted == []
    for body in bodies:
        assert body["errors"][0]["extensions"]["code"] in ("FORBIDDEN", "BAD_REQUEST"), body
