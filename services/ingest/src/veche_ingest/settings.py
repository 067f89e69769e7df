from __future__ import annotations

from typing import ClassVar

from pydantic import Field, SecretStr, field_validator
from veche_shared.settings import ServiceSettings


class IngestSettings(ServiceSettings):
    service_name: ClassVar[str] = "ingest"
    default_http_port: ClassVar[int] = 8000

    max_body_bytes: int = Field(
        default=1_048_576, ge=1024, description="largest accepted HTTP request body (413 above)"
    )
    publish_timeout_s: float = Field(
        default=2.0,
        gt=0,
        description="how long a request waits for Kafka's ack before answering 202 (queued)",
    )
    outbox_grace_s: float = Field(
        default=15.0,
        gt=0,
        description="age after which a stored but unconfirmed appeal is re-published by the relay",
    )
    outbox_interval_s: float = Field(
        default=5.0, gt=0, description="how often the outbox relay looks for unconfirmed appeals"
    )
    timeline_gather_ms: int = Field(
        default=1000,
        ge=1,
        description="how long the timeline gathers downstream events into one batch (one status "
        "write per appeal for the events that arrive together)",
    )
    open311_dev_key: SecretStr | None = Field(
        default=None,
        description="an API key registered at start for local use (`make up` sets it)",
    )
    social_secrets: dict[str, SecretStr] = Field(
        default_factory=dict,
        description='HMAC secret per social/ПОС source, JSON: {"vk": "…", "pos": "…"}',
    )
    social_max_skew_s: int = Field(
        default=300, ge=1, description="max age of a signed social webhook (replay protection)"
    )

    @field_validator("open311_dev_key", mode="before")
    @classmethod
    def _empty_key_is_no_key(cls, value: object) -> object:
        # docker compose passes `VECHE_OPEN311_DEV_KEY=` through as an empty string
        return None if value in ("", None) else value
