"""Settings read from the environment (prefix `PATRON_`) or a `.env` file."""

from __future__ import annotations

from functools import lru_cache

from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Process-wide settings. `database_url` picks SQLite (default) or PostgreSQL."""

    model_config = SettingsConfigDict(env_prefix="PATRON_", env_file=".env", extra="ignore")

    database_url: str = "sqlite:///patron.db"
    #: Largest request body accepted, in bytes; larger bodies get 413 before parsing.
    max_body_bytes: int = 1_000_000
    #: Connections per process on PostgreSQL.
    pool_size: int = 10
    #: How long a process trusts a cached API key or program (seconds). A key revoked in
    #: another process is refused here at the latest this long after.
    cache_ttl_seconds: float = 5.0


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
