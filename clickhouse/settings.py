"""Store settings: where the data lives and how long it is kept."""

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_DATA_DIR = Path(".roletrail")


class StoreSettings(BaseSettings):
    """Settings of the ClickHouse store, read once per process from `ROLETRAIL_*` variables."""

    model_config = SettingsConfigDict(env_prefix="ROLETRAIL_", extra="ignore", frozen=True)

    data_dir: Path = DEFAULT_DATA_DIR
    # A chdb:// DSN is the embedded engine (default, on data_dir/store); http(s):// is a server.
    clickhouse_url: str = ""
    clickhouse_database: str = "roletrail"
    retention_days: int = Field(default=365, ge=0)
    # Server-side limit for one read query, passed to ClickHouse as max_execution_time.
    query_timeout_seconds: float = Field(default=10.0, gt=0)

    @property
    def dsn(self) -> str:
        if self.clickhouse_url:
            return self.clickhouse_url
        return f"chdb://{(self.data_dir / 'store').resolve()}"

    @property
    def embedded(self) -> bool:
        return self.dsn.startswith("chdb://")
