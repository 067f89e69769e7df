from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from pydantic import Field
from veche_shared.settings import ServiceSettings


class NotifySettings(ServiceSettings):
    service_name: ClassVar[str] = "notify"
    default_http_port: ClassVar[int] = 8003

    templates_override_dir: Path | None = Field(
        default=None, description="folder whose templates override the built-in ones (per region)"
    )
