"""The topic taxonomy and urgency cues, loaded from the project's YAML data file."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml
from veche_shared.events import Urgency

from .text import lemmas


@dataclass(frozen=True, slots=True)
class Topic:
    code: str
    name: str
    section: str
    keywords: frozenset[str]


@dataclass(frozen=True, slots=True)
class Taxonomy:
    topics: tuple[Topic, ...]
    urgency_cues: dict[Urgency, tuple[tuple[str, ...], ...]]
    default_urgency: Urgency

    @property
    def codes(self) -> tuple[str, ...]:
        return tuple(topic.code for topic in self.topics)


def load_taxonomy(path: Path) -> Taxonomy:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    topics = tuple(
        Topic(
            code=entry["code"],
            name=entry["name"],
            section=entry["section"]["code"],
            keywords=frozenset(k.replace("ё", "е") for k in entry.get("keywords", ())),
        )
        for entry in data["topics"]
    )
    urgency = data["urgency"]
    cues = {
        Urgency(level["code"]): tuple(
            tuple(lemmas(cue)) for cue in level.get("cues", ()) if lemmas(cue)
        )
        for level in urgency["levels"]
    }
    return Taxonomy(topics=topics, urgency_cues=cues, default_urgency=Urgency(urgency["default"]))
