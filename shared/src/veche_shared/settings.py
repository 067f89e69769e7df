"""Base settings: every value comes from an environment variable prefixed ``VECHE_``.

Each service subclasses :class:`ServiceSettings` and adds its own fields; the README's
configuration table lists them all (a test keeps it in sync).
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from .topics import Topic


class ServiceSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="VECHE_", extra="ignore")

    service_name: ClassVar[str] = "veche"
    default_http_port: ClassVar[int] = 8000

    namespace: str = Field(
        default="", description="prefix for topic and database names (test isolation, tenants)"
    )
    kafka_bootstrap: str = Field(default="127.0.0.1:9092", description="Kafka bootstrap servers")
    mongo_url: str = Field(
        default="mongodb://127.0.0.1:27017/", description="MongoDB-protocol connection string"
    )
    otlp_endpoint: str | None = Field(
        default=None, description="OTLP/HTTP base URL for traces, e.g. http://127.0.0.1:4318"
    )
    trace_sample_ratio: float = Field(
        default=1.0,
        ge=0.0,
        le=1.0,
        description="share of appeals traced, each whole or not at all (1: every appeal)",
    )
    log_level: str = Field(default="INFO", description="root log level")
    http_host: str = Field(default="127.0.0.1", description="address the service listens on")
    http_port: int | None = Field(default=None, description="port; default per service")
    region_code: str = Field(default="71", pattern=r"^\d{2}$", description="region served")
    batch_max_records: int = Field(default=500, ge=1, description="records per consumer batch")
    batch_timeout_ms: int = Field(default=50, ge=1, description="max wait to fill a batch")
    batch_gather_ms: int = Field(
        default=0,
        ge=0,
        le=5000,
        description="how long the broker holds a consumer's fetch to gather records into one "
        "batch (0: it answers at once)",
    )
    batch_parts: int = Field(
        default=2,
        ge=1,
        description="a large batch is handled as this many concurrent parts, by key",
    )
    retry_attempts: int = Field(
        default=5, ge=1, description="attempts for a retryable store/broker error in a batch"
    )

    @property
    def port(self) -> int:
        return self.http_port or self.default_http_port

    @property
    def database(self) -> str:
        """One database per service (STYLE.md), namespaced like the topics."""
        base = f"veche_{self.service_name}"
        return f"{self.namespace}_{base}" if self.namespace else base

    def topic_name(self, topic: Topic) -> str:
        return topic.qualified(self.namespace)
