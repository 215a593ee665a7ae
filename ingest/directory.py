"""Operator exports that name things: Organizations accounts and Identity Center users (pure).

`aws organizations list-accounts` gives {"Accounts": [...]}; `aws identitystore list-users`
gives {"Users": [...]}. Either may be dropped among the logs; the loader recognises them by
content, not by name.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import orjson

_ACCOUNTS_HEAD = re.compile(rb'^\s*\{\s*"Accounts"\s*:\s*\[')
_USERS_HEAD = re.compile(rb'^\s*\{\s*"Users"\s*:\s*\[')


class ExportKind(StrEnum):
    ACCOUNTS = "organizations-accounts"
    IDENTITY_CENTER_USERS = "identity-center-users"


@dataclass(frozen=True)
class Account:
    account_id: str
    name: str
    email: str
    status: str
    arn: str


@dataclass(frozen=True)
class IdentityCenterUser:
    identity_store_id: str
    user_id: str
    user_name: str
    display_name: str
    emails: tuple[str, ...]


def export_kind(head: bytes) -> ExportKind | None:
    """The kind of export a file holds, from its first bytes; None for anything else."""
    text = head.removeprefix(b"\xef\xbb\xbf")
    if _ACCOUNTS_HEAD.match(text):
        return ExportKind.ACCOUNTS
    if _USERS_HEAD.match(text):
        return ExportKind.IDENTITY_CENTER_USERS
    return None


def parse_accounts(data: bytes) -> tuple[list[Account], int]:
    """Accounts in an export, and how many entries were not usable (no 12-digit Id)."""
    entries = _entries(data, "Accounts")
    accounts = [
        Account(
            str(e["Id"]),
            str(e.get("Name", "")),
            str(e.get("Email", "")),
            str(e.get("Status", "")),
            str(e.get("Arn", "")),
        )
        for e in entries
        if isinstance(e, dict) and re.fullmatch(r"\d{12}", str(e.get("Id", "")))
    ]
    return accounts, len(entries) - len(accounts)


def parse_users(data: bytes) -> tuple[list[IdentityCenterUser], int]:
    """Identity Center users in an export, and how many entries were not usable (no UserId)."""
    entries = _entries(data, "Users")
    users = [
        IdentityCenterUser(
            str(e.get("IdentityStoreId", "")),
            str(e["UserId"]),
            str(e.get("UserName", "")),
            str(e.get("DisplayName", "")),
            tuple(str(m.get("Value", "")) for m in e.get("Emails") or [] if isinstance(m, dict)),
        )
        for e in entries
        if isinstance(e, dict) and e.get("UserId")
    ]
    return users, len(entries) - len(users)


def _entries(data: bytes, key: str) -> list[Any]:
    value = orjson.loads(data.removeprefix(b"\xef\xbb\xbf"))
    entries = value.get(key) if isinstance(value, dict) else None
    return entries if isinstance(entries, list) else []
