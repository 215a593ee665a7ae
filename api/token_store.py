"""API tokens managed through the API: kept in `api_tokens` (the sha256 of each secret, never the
secret), created and revoked by admin tokens, and checked from a short in-memory cache.

`ManagedTokens.active()` answers from memory for `max_age` seconds (ROLETRAIL_TOKEN_CACHE_SECONDS,
5 by default), then reads the table again: a token revoked through another API process stops
working there within that bound; through this process, at once (the cache is dropped). A name
that ROLETRAIL_API_TOKENS configures wins over a managed token of the same name (which can only
exist when the configuration gained that name later): the managed one is ignored and logged.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from api.permissions import ACCOUNT_ID, ADMIN, NAME, READ, SCOPES, ApiToken, Scope
from clickhouse import tables
from clickhouse.client import Store

log = logging.getLogger(__name__)
audit = logging.getLogger("roletrail.audit")

MAX_ACCOUNTS = 100
_COLUMNS = (
    "name", "scope", "accounts", "secret_sha256", "created_at", "created_by", "revoked_at", "revoked_by",
    "updated_at",
)  # fmt: skip


class TokenRefused(ValueError):
    """A token request that cannot be done (said in words an admin can act on)."""


@dataclass(frozen=True)
class ManagedToken:
    name: str
    scope: Scope
    accounts: tuple[str, ...]  # empty: every account
    secret_sha256: str
    created_at: datetime
    created_by: str
    revoked_at: datetime | None
    revoked_by: str

    @property
    def revoked(self) -> bool:
        return self.revoked_at is not None

    def as_api_token(self) -> ApiToken:
        """The token as authentication uses it (it carries no secret: the hash is compared)."""
        return ApiToken(self.name, self.scope, b"", frozenset(self.accounts) if self.accounts else None)


@dataclass(frozen=True)
class CreatedToken:
    token: ManagedToken
    secret: str


def digest(secret: str | bytes) -> str:
    data = secret.encode() if isinstance(secret, str) else secret
    return hashlib.sha256(data).hexdigest()


def check_name(name: str) -> str:
    if not NAME.fullmatch(name):
        raise TokenRefused(
            "name must be 1-64 letters, digits, '_', '.' or '-' (starting with a letter or digit)"
        )
    return name


def check_accounts(accounts: Iterable[str]) -> tuple[str, ...]:
    """Distinct 12-digit AWS account ids in order; TokenRefused otherwise."""
    listed = list(accounts)
    if len(listed) > MAX_ACCOUNTS:
        raise TokenRefused(f"at most {MAX_ACCOUNTS} account ids")
    if not all(ACCOUNT_ID.fullmatch(account) for account in listed):
        raise TokenRefused("account ids must be 12-digit AWS account ids")
    return tuple(sorted(set(listed)))


def _select(store: Store, where: str = "", params: dict[str, str] | None = None) -> list[ManagedToken]:
    rows = store.rows(
        f"""SELECT name, scope, accounts, secret_sha256, created_at, created_by, revoked_at, revoked_by
        FROM {tables.API_TOKENS} FINAL {where} ORDER BY name""",
        params,
    )
    return [
        ManagedToken(
            str(name),
            READ if scope == READ else ADMIN,
            tuple(str(a) for a in accounts),
            str(sha),
            # The columns are in UTC; the driver may hand them back naive.
            created_at.replace(tzinfo=UTC),
            str(created_by),
            revoked_at.replace(tzinfo=UTC) if revoked_at else None,
            str(revoked_by),
        )
        for name, scope, accounts, sha, created_at, created_by, revoked_at, revoked_by in rows
    ]


def stored_tokens(store: Store) -> list[ManagedToken]:
    """Every managed token, revoked ones included, in name order."""
    return _select(store)


def stored_token(store: Store, name: str) -> ManagedToken | None:
    found = _select(store, "WHERE name = {name:String}", {"name": name})
    return found[0] if found else None


def _now() -> datetime:
    """Now, at the columns' precision (milliseconds), so an answer equals what a later read gives."""
    now = datetime.now(UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


def _write(store: Store, token: ManagedToken) -> None:
    row = [
        token.name, token.scope, list(token.accounts), token.secret_sha256, token.created_at,
        token.created_by, token.revoked_at, token.revoked_by, _now(),
    ]  # fmt: skip
    store.insert(tables.API_TOKENS, [row], _COLUMNS)


class ManagedTokens:
    """The managed tokens in memory, read again from the store once `max_age` seconds have passed
    (0: on every call). Thread-safe: the API checks tokens from its thread pool."""

    def __init__(
        self,
        store: Store,
        max_age: float,
        configured: tuple[ApiToken, ...] = (),
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self.max_age = max_age
        self.configured_tokens = configured
        self.configured = frozenset(t.name for t in configured)
        self._clock = clock
        self._lock = threading.Lock()
        self._read_at: float | None = None
        self._active: tuple[tuple[bytes, ApiToken], ...] = ()
        # Creation and revocation through this process, one at a time (names stay unique).
        self.changing = threading.Lock()

    def active(self) -> tuple[tuple[bytes, ApiToken], ...]:
        """(sha256 of the secret as hex bytes, token) of every managed token not revoked."""
        with self._lock:
            now = self._clock()
            if self._read_at is None or now - self._read_at >= self.max_age or self.max_age <= 0:
                self._active = self._read()
                self._read_at = now
            return self._active

    def invalidate(self) -> None:
        with self._lock:
            self._read_at = None

    def _read(self) -> tuple[tuple[bytes, ApiToken], ...]:
        found = []
        for token in stored_tokens(self.store):
            if token.revoked:
                continue
            if token.name in self.configured:
                log.warning(
                    "managed API token %r ignored: ROLETRAIL_API_TOKENS configures that name", token.name
                )
                continue
            found.append((token.secret_sha256.encode(), token.as_api_token()))
        return tuple(found)

    def create(self, name: str, scope: Scope, accounts: Iterable[str], by: str) -> CreatedToken:
        """A new token and its secret (returned here only); TokenRefused for a bad or taken name."""
        name = check_name(name)
        if scope not in SCOPES:
            raise TokenRefused(f"scope must be one of {', '.join(SCOPES)}")
        listed = check_accounts(accounts)
        if name in self.configured:
            raise TokenRefused(f"the name {name!r} is taken by a token configured in ROLETRAIL_API_TOKENS")
        secret = secrets.token_urlsafe(32)
        token = ManagedToken(name, scope, listed, digest(secret), _now(), by, None, "")
        with self.changing:
            if stored_token(self.store, name) is not None:
                raise TokenRefused(f"the name {name!r} is taken (names of revoked tokens are not reused)")
            _write(self.store, token)
            # Another API process may have written the same name at the same moment: the store keeps
            # one row per name, so only the writer whose secret survived may answer.
            written = stored_token(self.store, name)
            if written is None or written.secret_sha256 != token.secret_sha256:
                raise TokenRefused(f"the name {name!r} was taken at the same moment; choose another")
        self.invalidate()
        audit.info(
            "api token created name=%s scope=%s accounts=%s by=%s",
            name,
            scope,
            "+".join(listed) or "*",
            by,
        )
        return CreatedToken(written, secret)

    def revoke(self, name: str, by: str) -> ManagedToken:
        """The token, revoked now (or earlier: revoking twice changes nothing); TokenRefused when
        there is no managed token of that name."""
        name = check_name(name)
        if name in self.configured:
            raise TokenRefused(f"{name!r} is configured in ROLETRAIL_API_TOKENS: remove it there")
        with self.changing:
            existing = stored_token(self.store, name)
            if existing is None:
                raise TokenRefused(f"no managed API token named {name!r}")
            if existing.revoked:
                return existing
            revoked = replace(existing, revoked_at=_now(), revoked_by=by)
            _write(self.store, revoked)
        self.invalidate()
        audit.info("api token revoked name=%s by=%s", name, by)
        return revoked
