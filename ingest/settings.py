"""Ingest settings, read once per process from `ROLETRAIL_*` variables."""

from pathlib import Path
from typing import Annotated

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


class IngestSettings(BaseSettings):
    """Queue and source settings of the ingest workers."""

    model_config = SettingsConfigDict(env_prefix="ROLETRAIL_", extra="ignore", frozen=True)

    # With a Redis URL the queue is Redis (shared by worker processes); without, it is in-process.
    redis_url: str = ""
    worker_threads: int = Field(default=2, ge=1, le=64)
    # Folders under which the API's ingest endpoint may read; nothing else on the server is readable.
    source_roots: Annotated[tuple[Path, ...], NoDecode] = ()
    load_time_limit_seconds: int = Field(default=3600, ge=10)
    # The most flow log text one INSERT carries (MB). Larger INSERTs cost less CPU per line and leave
    # fewer parts to merge; each loading thread holds about ten times this in memory at its peak.
    flow_insert_mb: int = Field(default=128, ge=1, le=128)
    # S3 sources to follow (TOML, see ingest.sourcesconfig); more can be added through the admin API.
    sources_file: Path | None = None
    # How often the follow loop looks at the sources (each source has its own poll interval).
    follow_tick_seconds: float = Field(default=10.0, gt=0)
    # MaxMind-format databases (a Country or City .mmdb; an ASN .mmdb). Unset: the bundled DB-IP City Lite.
    geoip_db: Path | None = None
    geoip_asn_db: Path | None = None

    @field_validator("source_roots", mode="before")
    @classmethod
    def _split_roots(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(Path(part).expanduser() for part in value.split(",") if part.strip())
        return value
