from __future__ import annotations

from pathlib import Path
from typing import ClassVar, Literal

from pydantic import Field
from veche_shared.settings import ServiceSettings
from veche_shared.taxonomy import TAXONOMY_FILE

PACKAGE_DATA = Path(__file__).resolve().parents[2] / "data"


class ClassifySettings(ServiceSettings):
    service_name: ClassVar[str] = "classify"
    default_http_port: ClassVar[int] = 8001

    taxonomy_path: Path = Field(default=TAXONOMY_FILE, description="topic taxonomy (YAML)")
    model_path: Path = Field(
        default=PACKAGE_DATA / "model" / "triage.joblib", description="trained model artefact"
    )
    review_threshold: float = Field(
        default=0.5, ge=0, le=1, description="topic confidence below it -> review queue"
    )
    incident_window_hours: float = Field(
        default=72, gt=0, description="near-duplicates are linked within this time window"
    )
    incident_similarity: float = Field(
        default=0.3, gt=0, le=1, description="content-lemma Jaccard similarity to link"
    )
    ner: Literal["fallback", "off"] = Field(
        default="fallback",
        description="natasha NER for places the rules miss where a place is cued (batched)",
    )
