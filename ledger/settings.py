"""Settings, validated once at start (pydantic-settings, prefix ``LEDGER_``)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import make_url


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LEDGER_", extra="ignore")

    database_url: str = Field(
        default="sqlite:///data/ledger.db",
        description="sqlite:///PATH or postgresql+psycopg://USER[:PASS]@HOST:PORT/DB",
    )
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    max_body_bytes: int = Field(default=256 * 1024, ge=1024)
    max_batch_body_bytes: int = Field(default=16 * 1024 * 1024, ge=1024)
    max_batch_events: int = Field(default=1000, ge=1, le=100_000)
    group_commit_max_events: int = Field(default=2000, ge=1)
    db_pool_size: int = Field(
        default=4,
        ge=1,
        description="PostgreSQL connections a process keeps open for reads (more are opened"
        " under load and closed when idle); the event store keeps 2 more (at most 4)",
    )
    key_cache_seconds: float = Field(default=2.0, ge=0)
    signing_key_file: Path = Path("data/signing-key.pem")
    checkpoint_interval_seconds: float = Field(default=300.0, ge=0)
    projection_poll_seconds: float = Field(default=1.0, gt=0)
    read_your_writes_timeout_seconds: float = Field(default=3.0, ge=0)
    log_level: str = "info"
    access_log: bool = True
    workers: int = Field(default=1, ge=1, le=64)
    run_projections: Literal["auto", "yes", "no"] = Field(
        default="auto",
        description="Run projections inside `ledger serve`: auto = yes on SQLite, no on PostgreSQL",
    )
    projection_batch_size: int = Field(default=2000, ge=1, le=100_000)
    projection_catch_up_batch_size: int = Field(
        default=20_000,
        ge=1,
        le=100_000,
        description="Events per transaction of the custody projection while it is behind, "
        "on PostgreSQL (SQLite keeps projection_batch_size: a batch holds its only write lock)",
    )
    findings_partitions: int = Field(
        default=1,
        ge=1,
        le=64,
        description="Findings judged in this many partitions of the assets, each leased to"
        " one worker at a time (`ledger project` processes share them out), plus the"
        " contract level; 1: one walk. Changing it re-judges every finding",
    )
    findings_resident_events: int | None = Field(
        default=None,
        ge=1,
        description="With findings partitions: the events a worker's partition walks may"
        " hold in memory together (about 4-5 KB each); beyond it the walk used least"
        " recently is forgotten and resumes from the store when next needed, so a worker"
        " catching up holds one partition at a time. Unset: no bound",
    )
    lease_seconds: float = Field(
        default=30.0,
        gt=0,
        description="How long a worker's lease on a findings partition lasts unless renewed:"
        " a dead worker's partitions are taken over after this",
    )

    @model_validator(mode="after")
    def _budget_needs_partitions(self) -> Settings:
        if self.findings_resident_events is not None and self.findings_partitions == 1:
            raise ValueError(
                "LEDGER_FINDINGS_RESIDENT_EVENTS (findings_resident_events) bounds the walks"
                " of findings partitions: set LEDGER_FINDINGS_PARTITIONS above 1 too"
            )
        return self

    @field_validator("database_url")
    @classmethod
    def _known_backend(cls, v: str) -> str:
        url = make_url(v)
        if url.get_backend_name() not in ("sqlite", "postgresql"):
            raise ValueError("LEDGER_DATABASE_URL must be sqlite:// or postgresql+psycopg://")
        if url.get_backend_name() == "sqlite" and not url.database:
            raise ValueError("an in-memory SQLite database cannot be shared: give a file path")
        return v

    @property
    def projections_in_process(self) -> bool:
        return self.run_projections == "yes" or (self.run_projections == "auto" and self.is_sqlite)

    @property
    def is_sqlite(self) -> bool:
        return make_url(self.database_url).get_backend_name() == "sqlite"

    def sqlalchemy_url(self) -> str:
        url = make_url(self.database_url)
        if url.get_backend_name() == "postgresql":
            url = url.set(drivername="postgresql+psycopg")
        return url.render_as_string(hide_password=False)
