"""Operator exports: Organizations accounts and Identity Center users."""

from __future__ import annotations

import json

from ingest.directory import ExportKind, export_kind, parse_accounts, parse_users

ACCOUNTS = {
    "Accounts": [
        {"Id": "111122223333", "Arn": "arn:aws:organizations::111122223333:account/o-abc/111122223333",
         "Email": "prod@example.com", "Name": "production", "Status": "ACTIVE"},
        {"Name": "no id"},
    ]
}  # fmt: skip
USERS = {
    "Users": [
        {"UserId": "9067c2d4-1234", "UserName": "erin@example.com", "DisplayName": "Erin",
         "Emails": [{"Value": "erin@example.com", "Primary": True}], "IdentityStoreId": "d-1234567890"},
    ]
}  # fmt: skip


def test_export_kind_is_told_from_content() -> None:
    # Assert
    assert export_kind(json.dumps(ACCOUNTS).encode()) is ExportKind.ACCOUNTS
    assert export_kind(b"\xef\xbb\xbf" + json.dumps(USERS).encode()) is ExportKind.IDENTITY_CENTER_USERS
    assert export_kind(b'{"Records": []}') is None


def test_accounts_without_an_id_are_counted_not_kept() -> None:
    # Act
    accounts, unusable = parse_accounts(json.dumps(ACCOUNTS).encode())
    # Assert
    assert [(a.account_id, a.name, a.email) for a in accounts] == [
        ("111122223333", "production", "prod@example.com")
    ]
    assert unusable == 1


def test_users_keep_name_display_name_and_emails() -> None:
    # Act
    users, unusable = parse_users(json.dumps(USERS).encode())
    # Assert
    assert unusable == 0
    assert users[0].user_name == "erin@example.com"
    assert users[0].emails == ("erin@example.com",)
    assert users[0].identity_store_id == "d-1234567890"
