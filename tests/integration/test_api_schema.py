"""The committed SDL (api/schema.graphql) is the schema the code builds: clients and reviewers read it."""

from __future__ import annotations

import re

from api.schema import SDL_PATH, sdl

REGENERATE = ".venv/bin/python -m api.schema --write"


def test_committed_schema_is_current() -> None:
    # Arrange
    committed = SDL_PATH.read_text(encoding="utf-8") if SDL_PATH.exists() else ""

    # Act
    built = sdl()

    # Assert
    assert committed == built, (
        f"api/{SDL_PATH.name} differs from the schema the code builds: run `{REGENERATE}` "
        "and commit the result (review the diff: it is the API's contract)"
    )


def arguments_of(text: str, field: str) -> list[str]:
    # Root fields: the Query type's own block (other types have fields of the same names).
    query = text[text.index("type Query {") :]
    match = re.search(rf"\n  {field}\(([^)]*)\)", query)
    assert match, field
    return [part.split(":")[0].strip() for part in match.group(1).split(",")]


def test_contract_names_are_in_the_schema() -> None:
    # Act
    text = sdl()

    # Assert: the names that playbooks and frontends rely on
    assert "session(accessKeyId: String!): RoleSession\n" in text
    assert arguments_of(text, "sessions") == ["accountId", "roleArn", "from", "to", "first", "after"]
    # Arguments are only ever added after the contract's ones (filter: issue 4's search filters).
    assert arguments_of(text, "apiCalls")[:4] == ["first", "after", "from", "to"]
    for line in ("assumedBy: Principal", "chain: [RoleSession!]!", "origin: Principal", "chainGap: ChainGap"):
        assert f"\n  {line}\n" in text, line
    fields = (
        "accessKeyId credentialKind roleArn sessionName accountId issuedAt expiresAt firstSeen lastSeen "
        "apiCallCount errorCount sourceIdentity onBehalfOf kind identifier displayName principalId time "
        "hasNextPage endCursor edges node"
    )
    for name in fields.split():
        assert f"\n  {name}: " in text, name
    assert re.search(r"\ninterface Principal( implements [A-Za-z& ]+)? \{", text)
