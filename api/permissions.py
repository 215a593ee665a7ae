"""Bearer-token authentication for the API (every configured token may read and ingest)."""

from __future__ import annotations

import hmac
import secrets
from pathlib import Path

TOKEN_FILE = "api-token"  # noqa: S105 -- a file name, not a secret


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


class TokenCheck:
    def __init__(self, tokens: tuple[str, ...]) -> None:
        if not tokens:
            raise ValueError("at least one API token is required")
        self._tokens = tuple(t.encode() for t in tokens)

    def name_of(self, authorization: str | None) -> str | None:
        """A short name of the presented token when it is valid (for the audit log), else None."""
        if not authorization or not authorization.startswith("Bearer "):
            return None
        presented = authorization.removeprefix("Bearer ").strip().encode()
        for index, token in enumerate(self._tokens):
            if hmac.compare_digest(presented, token):
                return f"token-{index + 1}"
        return None
