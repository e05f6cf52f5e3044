"""Settings, declared once: each field has a default, a description and an environment variable."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from xingqu.domain.records import EARLIEST_TIME, FUTURE_TOLERANCE, MIN_GROUP_SIZE, TimeWindow

DEFAULT_DB_URL = "sqlite:///./xingqu-data/xingqu.db"


class Settings(BaseSettings):
    """Process-wide settings, read from ``XINGQU_*`` environment variables."""

    model_config = SettingsConfigDict(env_prefix="XINGQU_", extra="ignore")

    db: str = Field(
        default=DEFAULT_DB_URL,
        description="SQLAlchemy URL of the store: a SQLite file (default) or postgresql+psycopg://…",
    )
    events: str | None = Field(
        default=None,
        description=(
            "Where the event log lives: unset keeps events in the store; a folder or a filesystem URI "
            "(s3://…, hdfs://…, file://…) keeps them in a Parquet event lake partitioned by date"
        ),
    )
    models_dir: str = Field(
        default="./xingqu-data/models",
        description="Folder of trained model versions (one sub-folder per version).",
    )
    sqlite_busy_timeout_s: float = Field(
        default=120.0,
        gt=0,
        description="How long a SQLite writer waits for another process's write to finish.",
    )
    ingest_batch_rows: int = Field(
        default=100_000,
        ge=1,
        description="Rows read, validated and written per batch; bounds ingest memory.",
    )
    max_reported_errors: int = Field(
        default=50,
        ge=1,
        description="How many row errors an import lists before summarising the rest as a count.",
    )
    redis: str | None = Field(
        default=None,
        description=(
            "redis://host:port/db of the online state shared by several processes (recent events, "
            "servability, current model); unset: kept in this process and read from the store"
        ),
    )
    recent_ttl_s: int = Field(
        default=7 * 86_400,
        ge=60,
        description="How long a user's recent events stay in Redis after their last event.",
    )
    redis_prefix: str = Field(
        default="xingqu:",
        description="Prefix of every Redis key, so that several deployments can share one Redis.",
    )
    earliest_time: datetime = Field(
        default=EARLIEST_TIME,
        description="Earliest time any record may carry (ISO 8601 with a zone); older ones are refused.",
    )
    future_tolerance_s: float = Field(
        default=FUTURE_TOLERANCE.total_seconds(),
        ge=0,
        le=366 * 86_400,
        description="How far past the current time a record's time may lie, in seconds.",
    )
    min_group_size: int = Field(
        default=MIN_GROUP_SIZE,
        ge=1,
        description="Smallest group a portrait or audience describes: the platform's privacy floor. A "
        "caller may ask for a larger minimum, never a smaller one.",
    )

    api_rate_per_s: int = Field(
        default=1_000,
        ge=1,
        le=1_000_000,
        description="Requests per second an API key may make unless the key has its own rate (429 beyond).",
    )
    api_threads: int = Field(
        default=1,
        ge=1,
        le=256,
        description="Feeds and event batches a serving process works on at once (the rest wait their "
        "turn holding no thread): they are CPU work under one interpreter lock, so more threads only "
        "pass it back and forth; use more processes (--workers) for more cores.",
    )
    api_max_body_bytes: int = Field(
        default=8 * 1024 * 1024,
        ge=1_024,
        le=1024 * 1024 * 1024,
        description="Largest request body the API reads, in bytes (413 beyond).",
    )

    @classmethod
    def declared(cls) -> Settings:
        """Every setting at its declared default, without reading the environment: for library calls
        given no settings (the runtime reads them once for the CLI, the API, the demo)."""
        return cls.model_construct()

    def time_window(self) -> TimeWindow:
        """The window of plausible record times right now."""
        earliest = self.earliest_time
        if earliest.tzinfo is None:
            earliest = earliest.replace(tzinfo=UTC)
        return TimeWindow.around_now(earliest, timedelta(seconds=self.future_tolerance_s))
