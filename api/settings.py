"""API settings, read once per process from `ROLETRAIL_*` variables."""

from typing import Annotated

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from api.permissions import parse_tokens


class ApiSettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="ROLETRAIL_", extra="ignore", frozen=True, hide_input_in_errors=True
    )

    # Comma-separated bearer tokens, each `token` (admin) or `name:scope:token` (scope read or admin;
    # `read@111111111111+222222222222` limits the token to those accounts, see api.scoping).
    # Empty: `serve` creates one (admin) in the data directory and prints it.
    api_tokens: Annotated[tuple[str, ...], NoDecode] = Field(default=(), repr=False)
    host: str = "127.0.0.1"
    port: int = 8000
    default_page_size: int = Field(default=50, ge=1)
    max_page_size: int = Field(default=500, ge=1)
    max_query_depth: int = Field(default=12, ge=2)
    max_query_tokens: int = Field(default=5000, ge=100)
    # Default scope of time-bound fields when a query gives none.
    default_scope_days: int = Field(default=90, ge=1)
    cors_origins: Annotated[tuple[str, ...], NoDecode] = ()
    # Rows read from the store per query while streaming an export.
    export_page_size: int = Field(default=1000, ge=1, le=100_000)
    # Automatic persisted queries kept in memory (least recently used dropped first).
    persisted_query_cache_size: int = Field(default=1000, ge=1)
    # Deviations: baseline window before a session, impossible-travel speed, sessions examined per list.
    baseline_days: int = Field(default=45, ge=1, le=3650)
    travel_speed_kmh: float = Field(default=1000.0, gt=0)
    deviation_scan_limit: int = Field(default=200, ge=1, le=10_000)
    # Managed API tokens (api.token_store) are read from the store at most this often: a token
    # revoked through another API process keeps working there for up to this long. 0: every request.
    token_cache_seconds: float = Field(default=5.0, ge=0, le=300)

    @field_validator("api_tokens", "cors_origins", mode="before")
    @classmethod
    def _split(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value

    @field_validator("api_tokens", mode="after")
    @classmethod
    def _check_tokens(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        parse_tokens(value)  # ValueError (named by entry position, never by token) when malformed
        return value
