"""API settings, read once per process from `ROLETRAIL_*` variables."""

from typing import Annotated

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


class ApiSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ROLETRAIL_", extra="ignore", frozen=True)

    # Comma-separated bearer tokens. Empty: `serve` creates one in the data directory and prints it.
    api_tokens: Annotated[tuple[str, ...], NoDecode] = ()
    host: str = "127.0.0.1"
    port: int = 8000
    default_page_size: int = Field(default=50, ge=1)
    max_page_size: int = Field(default=500, ge=1)
    max_query_depth: int = Field(default=12, ge=2)
    max_query_tokens: int = Field(default=5000, ge=100)
    # Default scope of time-bound fields when a query gives none.
    default_scope_days: int = Field(default=90, ge=1)
    cors_origins: Annotated[tuple[str, ...], NoDecode] = ()

    @field_validator("api_tokens", "cors_origins", mode="before")
    @classmethod
    def _split(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value
