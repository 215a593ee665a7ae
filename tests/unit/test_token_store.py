"""Managed-token checks that need no store: names, account lists, and how TokenCheck matches a
presented secret against managed tokens (by sha256, after the configured tokens)."""

from __future__ import annotations

import pytest

from api.permissions import ApiToken, TokenCheck
from api.token_store import TokenRefused, check_accounts, check_name, digest


class FakeManaged:
    """A ManagedTokenSource holding given tokens, counting how often it is asked."""

    def __init__(self, tokens: dict[str, ApiToken]) -> None:
        self.tokens = tuple((digest(secret).encode(), token) for secret, token in tokens.items())
        self.asked = 0

    def active(self) -> tuple[tuple[bytes, ApiToken], ...]:
        self.asked += 1
        return self.tokens


NOTEBOOK = ApiToken("notebook", "read", b"", frozenset({"333333333333"}))


def test_a_managed_token_is_found_by_the_hash_of_its_secret() -> None:
    # Arrange
    check = TokenCheck(("ops:admin:configured",), FakeManaged({"managed-secret": NOTEBOOK}))

    # Act
    found = check.token_of("Bearer managed-secret")

    # Assert: with its scope and accounts
    assert found == NOTEBOOK
    assert check.token_of("Bearer " + digest("managed-secret")) is None  # the hash is no password
    assert check.token_of("Bearer managed-secre") is None


def test_a_configured_token_does_not_need_the_managed_ones() -> None:
    # Arrange
    managed = FakeManaged({"managed-secret": NOTEBOOK})
    check = TokenCheck(("ops:admin:configured",), managed)

    # Act
    name = check.name_of("Bearer configured")

    # Assert
    assert (name, managed.asked) == ("ops", 0)


@pytest.mark.parametrize("header", [None, "", "Bearer ", "Basic managed-secret", "bearer managed-secret"])
def test_no_bearer_secret_asks_nothing(header: str | None) -> None:
    # Arrange
    managed = FakeManaged({"managed-secret": NOTEBOOK})

    # Act
    found = TokenCheck(("configured",), managed).token_of(header)

    # Assert
    assert (found, managed.asked) == (None, 0)


def test_account_ids_are_distinct_and_sorted() -> None:
    # Act / Assert
    assert check_accounts(["222222222222", "111111111111", "222222222222"]) == (
        "111111111111",
        "222222222222",
    )
    assert check_accounts([]) == ()


@pytest.mark.parametrize(
    "account", ["11111111111", "1111111111111", "11111111111x", "111111111111\n", "\u0661" * 12]
)
def test_a_malformed_account_id_is_refused(account: str) -> None:
    # Act / Assert
    with pytest.raises(TokenRefused, match="12-digit"):
        check_accounts([account])


@pytest.mark.parametrize("name", ["", "_x", "a" * 65, "a b", "a\n", "naïve", "a:b", "a/b"])
def test_a_malformed_name_is_refused(name: str) -> None:
    # Act / Assert
    with pytest.raises(TokenRefused, match="1-64"):
        check_name(name)
