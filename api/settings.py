"""Settings from KEZEK_* environment variables (docs/api.md §2)."""

from __future__ import annotations

import enum
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

DEV_DIR = Path(__file__).parent / "dev"


class Profile(enum.StrEnum):
    PRODUCTION = "production"
    DEVELOPMENT = "development"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="KEZEK_", extra="ignore")

    profile: Profile = Profile.PRODUCTION
    database_url: str | None = None
    migration_database_url: str | None = None
    data_dir: Path = Path(".kezek")
    channels_file: Path | None = None
    sandbox_file: Path | None = None
    places_file: Path | None = None
    policy_file: Path | None = None
    sms_gateway_url: str | None = None
    # Outside registries: when a URL is absent, the sandbox adapter over the imported tables serves.
    population_registry_url: str | None = None
    benefits_registry_url: str | None = None
    health_registry_url: str | None = None
    esign_url: str | None = None
    registry_timeout: float = Field(default=5.0, gt=0)
    registry_retries: int = Field(default=2, ge=0, le=10)
    db_pool_size: int = Field(default=10, ge=1, le=200)
    # Mutations one process runs at once, the rest waiting their turn (graph/admission.py, decision 112).
    write_concurrency: int = Field(default=4, ge=1, le=64)
    worker_interval: float = Field(default=5.0, gt=0)
    log_level: str = "INFO"
    # Abuse bounds (docs/security.md); rates are requests a second per process, bursts in requests.
    rate_channel_per_second: float = Field(default=2000.0, gt=0)
    rate_channel_burst: float = Field(default=4000.0, ge=1)
    rate_person_per_second: float = Field(default=20.0, gt=0)
    rate_person_burst: float = Field(default=60.0, ge=1)
    rate_public_per_second: float = Field(default=50.0, gt=0)
    rate_public_burst: float = Field(default=200.0, ge=1)
    max_subscriptions_per_connection: int = Field(default=20, ge=1, le=1000)
    connection_init_timeout: float = Field(default=10.0, gt=0)
    # GET /metrics answers only `Authorization: Bearer <this>` when set (docs/operations.md "Metrics").
    metrics_token: str | None = None

    @property
    def development(self) -> bool:
        return self.profile == Profile.DEVELOPMENT

    def resolved_channels_file(self) -> Path | None:
        if self.channels_file is not None:
            return self.channels_file
        return DEV_DIR / "channels.json" if self.development else None
