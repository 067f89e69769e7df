from __future__ import annotations

from typing import ClassVar

from pydantic import Field
from veche_shared.settings import ServiceSettings


class IngestSettings(ServiceSettings):
    service_name: ClassVar[str] = "ingest"
    default_http_port: ClassVar[int] = 8000

    max_body_bytes: int = Field(
        default=1_048_576, ge=1024, description="largest accepted HTTP request body (413 above)"
    )
