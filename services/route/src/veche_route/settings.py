from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from pydantic import Field
from veche_shared.settings import ServiceSettings

PACKAGE_DATA = Path(__file__).resolve().parents[2] / "data"


class RouteSettings(ServiceSettings):
    service_name: ClassVar[str] = "route"
    default_http_port: ClassVar[int] = 8002

    region_file: Path = Field(
        default=PACKAGE_DATA / "regions" / "71-tula.yaml",
        description="territory of the region served (municipalities, settlements, bodies)",
    )
    rules_file: Path = Field(
        default=PACKAGE_DATA / "rules" / "71-tula.yaml", description="competence rules (seed)"
    )
    receiving_body: str = Field(
        default="governor-office",
        description="code of the body that receives appeals; routing elsewhere is a redirect",
    )
