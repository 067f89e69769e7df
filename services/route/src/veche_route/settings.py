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
    terms_file: Path = Field(
        default=PACKAGE_DATA / "terms.yaml",
        description="statutory terms: register, redirect, answer per topic, channel, urgency",
    )
    receiving_body: str = Field(
        default="governor-office",
        description="code of the body that receives appeals; routing elsewhere is a redirect",
    )
    copy_topic_confidence: float = Field(
        default=0.35,
        ge=0,
        le=1,
        description="a second topic at least this confident sends a copy to its body",
    )
    due_soon_hours: float = Field(
        default=72,
        gt=0,
        description="a due-soon notice this long before an answer term ends (at most half of it)",
    )
    watch_interval_s: float = Field(
        default=60, gt=0, description="how often the SLA watcher looks for due and overdue terms"
    )
    rules_reread_s: float = Field(
        default=10.0,
        gt=0,
        description="a replica reads the whole rule log this often, besides following the "
        "markers of new changes",
    )
    watch_batch: int = Field(
        default=200, ge=1, le=1000, description="terms the SLA watcher looks at per tick, at most"
    )
    notice_republish_s: float = Field(
        default=30,
        gt=0,
        description="a recorded deadline notice not yet confirmed published is re-sent after this",
    )
