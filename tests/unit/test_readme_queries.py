"""Every GraphQL query the README shows is valid against the schema: a copy-pasted query works."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from graphql import parse, validate

from api.schema import build_schema
from api.settings import ApiSettings

README = Path(__file__).resolve().parents[2] / "README.md"
BLOCKS = re.findall(r"```graphql\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.S)


def test_the_readme_shows_the_four_questions() -> None:
    # Assert: question 1 starts from a finding, 3 from an instance, 4 from a role
    joined = "\n".join(BLOCKS)
    assert len(BLOCKS) >= 4
    for root in ("finding(id:", "principal(kind:", "instance(id:", "role(arn:"):
        assert root in joined


@pytest.mark.parametrize("query", BLOCKS, ids=[f"block-{i}" for i in range(len(BLOCKS))])
def test_a_readme_query_is_valid_against_the_schema(query: str) -> None:
    # Arrange
    schema = build_schema(ApiSettings())._schema
    # Act
    errors = validate(schema, parse(query))
    # Assert
    assert [e.message for e in errors] == []
