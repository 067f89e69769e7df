"""The topic taxonomy: one data file shared by every service that names topics.

Topic slugs travel in events (classify decides them, route matches rules on them, ingest serves
them as Open311 service codes), so the list lives beside the contracts.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

TAXONOMY_FILE = Path(__file__).resolve().parent / "data" / "taxonomy.yaml"


@dataclass(frozen=True, slots=True)
class TopicInfo:
    code: str
    name: str
    description: str
    section_code: str
    section_name: str
    keywords: tuple[str, ...]
    examples: tuple[str, ...]


@lru_cache(maxsize=4)
def load_raw(path: Path = TAXONOMY_FILE) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    return data


@lru_cache(maxsize=4)  # immutable, and notify names a topic in every letter it plans
def topics(path: Path = TAXONOMY_FILE) -> tuple[TopicInfo, ...]:
    return tuple(
        TopicInfo(
            code=entry["code"],
            name=entry["name"],
            description=entry.get("description", ""),
            section_code=entry["section"]["code"],
            section_name=entry["section"]["name"],
            keywords=tuple(entry.get("keywords", ())),
            examples=tuple(entry.get("examples", ())),
        )
        for entry in load_raw(path)["topics"]
    )
