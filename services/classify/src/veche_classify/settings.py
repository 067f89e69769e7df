from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from pydantic import Field
from veche_shared.settings import ServiceSettings
from veche_shared.taxonomy import TAXONOMY_FILE

PACKAGE_DATA = Path(__file__).resolve().parents[2] / "data"


class ClassifySettings(ServiceSettings):
    service_name: ClassVar[str] = "classify"
    default_http_port: ClassVar[int] = 8001

    taxonomy_path: Path = Field(default=TAXONOMY_FILE, description="topic taxonomy (YAML)")
