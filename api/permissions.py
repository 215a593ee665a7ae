"""Bearer-token authentication and scopes for the API.

`ROLETRAIL_API_TOKENS` entries are either a bare token (an admin token named `token-N`, N its
position: the original format) or `name:scope:token`, split at the first two colons so the token
itself may contain colons. Scope `read` may query (/graphql, /export); `admin` may also ingest
(/admin/...). Error messages name entries by position and never repeat a token.

A scope may be limited to AWS accounts: `name:read@111111111111+222222222222:token` (account ids
joined by `+`, since `,` separates entries). Such a token reads only what those accounts logged or
own (see api.scoping); without `@` a token sees every account, as before.

Admins may also create and revoke tokens through the API (api.token_store, api.tokens): such a
managed token is checked by the sha256 of its secret and obeys its scope and accounts like a
configured one.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Protocol

TOKEN_FILE = "api-token"  # noqa: S105 -- a file name, not a secret

Scope = Literal["read", "admin"]
READ: Scope = "read"
ADMIN: Scope = "admin"
SCOPES: tuple[Scope, ...] = (READ, ADMIN)
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
ACCOUNT_ID = re.compile(r"[0-9]{12}")


def load_or_create_token(data_dir: Path) -> str:
    """The token kept in the data directory, created (mode 600) on first use."""
    path = data_dir / TOKEN_FILE
    if path.exists():
        return path.read_text(encoding="utf-8").strip()
    data_dir.mkdir(parents=True, exist_ok=True)
    token = secrets.token_urlsafe(32)
    path.touch(mode=0o600)
    path.write_text(token + "\n", encoding="utf-8")
    return token


@dataclass(frozen=True)
class ApiToken:
    name: str
    scope: Scope
    secret: bytes = field(repr=False)
    # The AWS accounts the token may read; None: every account.
    accounts: frozenset[str] | None = None

    def allows(self, needed: Scope) -> bool:
        return needed == READ or self.scope == ADMIN


def parse_token(entry: str, position: int) -> ApiToken:
    """One configuration entry (`position` counts from 1), or ValueError saying what is wrong."""
    entry = entry.strip()
    if not entry:
        raise ValueError(f"API token entry {position} is empty")
    if ":" not in entry:
        return ApiToken(f"token-{position}", ADMIN, entry.encode())
    parts = entry.split(":", 2)
    if len(parts) != 3:
        raise ValueError(f"API token entry {position} must be a bare token or name:scope:token")
    name, scope, secret = parts
    scope, limited, listed = scope.partition("@")
    accounts = frozenset(listed.split("+")) if limited else None
    if not NAME.fullmatch(name):
        raise ValueError(
            f"API token entry {position}: the name must be 1-64 letters, digits, '_', '.' or '-' "
            "(starting with a letter or digit)"
        )
    if scope not in SCOPES:
        raise ValueError(f"API token entry {position} ({name}): the scope must be one of {', '.join(SCOPES)}")
    if not secret.strip():
        raise ValueError(f"API token entry {position} ({name}): the token is empty")
    if accounts is not None and not all(ACCOUNT_ID.fullmatch(account) for account in accounts):
        raise ValueError(
            f"API token entry {position} ({name}): accounts after '@' must be 12-digit AWS account ids "
            "joined by '+'"
        )
    return ApiToken(name, READ if scope == READ else ADMIN, secret.strip().encode(), accounts)


def parse_tokens(entries: tuple[str, ...]) -> tuple[ApiToken, ...]:
    """Every entry parsed; ValueError for a malformed entry or a name given twice."""
    tokens = tuple(parse_token(entry, index + 1) for index, entry in enumerate(entries))
    names = [t.name for t in tokens]
    doubled = sorted({n for n in names if names.count(n) > 1})
    if doubled:
        raise ValueError(f"API token names must be unique: {', '.join(doubled)} given more than once")
    return tokens


class ManagedTokenSource(Protocol):
    def active(self) -> tuple[tuple[bytes, ApiToken], ...]:
        """(sha256 of the secret as hex bytes, token) of every usable managed token."""
        ...


class TokenCheck:
    def __init__(self, tokens: tuple[str, ...], managed: ManagedTokenSource | None = None) -> None:
        if not tokens:
            raise ValueError("at least one API token is required")
        self._tokens = parse_tokens(tokens)
        self.managed = managed

    @property
    def configured(self) -> tuple[ApiToken, ...]:
        return self._tokens

    def token_of(self, authorization: str | None) -> ApiToken | None:
        """The presented token when it is valid, else None (every token is compared in constant time).

        May read managed tokens from the store (when its cache is stale): call it off the event loop.
        """
        if not authorization or not authorization.startswith("Bearer "):
            return None
        presented = authorization.removeprefix("Bearer ").strip().encode()
        found = None
        for token in self._tokens:
            if hmac.compare_digest(presented, token.secret) and found is None:
                found = token
        if found is not None or self.managed is None or not presented:
            return found
        presented_sha = hashlib.sha256(presented).hexdigest().encode()
        for sha, token in self.managed.active():
            if hmac.compare_digest(presented_sha, sha) and found is None:
                found = token
        return found

    def name_of(self, authorization: str | None) -> str | None:
        """A short name of the presented token when it is valid (for the audit log), else None."""
        token = self.token_of(authorization)
        return token.name if token else None
