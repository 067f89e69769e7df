"""Which municipality an appeal is about, from its address, location mentions, text or point.

The region file lists each municipality's settlements with inflected and adjectival forms
(«Алексин», «в Алексине», «Алексинский район»); matching is a longest-phrase lookup on
normalised words, in three tiers:

* **exact** forms from the data (every alias, including district phrases);
* **lemmas** — a word whose most probable pymorphy3 parse has a settlement's lemma («в
  Новомосковске» → новомосковск), and «<adjective of the centre> район / округ» in any case;
* **marked** — names that are also common words, surnames or street names («Донской»,
  «Славный», «Плеханова») count only right after a settlement marker («г.», «пос.», «рп»).

A name right after a street marker («ул. Плеханова») or before one («Алексинское шоссе») is a
street, not a place; a word followed by «область» names the region («Тульская область»), not
its capital. Coordinates fall back to the nearest municipality centroid (approximate: the data
has centroids, no polygons). Unknown territory is a normal outcome, never an error.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from functools import lru_cache
from typing import Any

import pymorphy3

_WORDS = re.compile(r"[а-яa-z0-9]+(?:-[а-яa-z0-9]+)*|[,;:()\n]")
BOUNDARY = frozenset(",;:()\n")  # a phrase never spans these; dots stay («г. Тула»)
MAX_PHRASE = 4
REGION_WORD = "област"  # «Тульская область» names the region, not the city of Tula
SETTLEMENT_MARKERS = frozenset(
    [
        "г",
        "гор",
        "город",
        "п",
        "пос",
        "поселок",
        "посёлок",
        "рп",
        "пгт",
        "с",
        "село",
        "д",
        "дер",
        "деревня",
        "мкр",
        "микрорайон",
        "х",
        "хутор",
    ]
)
STREET_BEFORE = frozenset(
    [
        "ул",
        "улица",
        "пр",
        "пр-т",
        "просп",
        "проспект",
        "пер",
        "переулок",
        "пл",
        "площадь",
        "б-р",
        "бульвар",
        "проезд",
        "наб",
        "набережная",
        "тупик",
        "ш",
        "шоссе",
        "мкрн",
    ]
)
STREET_AFTER = frozenset(
    [
        "улица",
        "улице",
        "улицы",
        "улицу",
        "проспект",
        "проспекте",
        "проспекта",
        "переулок",
        "переулке",
        "переулка",
        "шоссе",
        "площадь",
        "площади",
        "бульвар",
        "бульваре",
        "проезд",
        "проезде",
        "набережная",
        "набережной",
    ]
)
DISTRICT_TAILS = (("район",), ("муниципальный", "район"), ("муниципальный", "округ"), ("округ",))
EARTH_KM = 6371.0


def normalise(text: str) -> list[str]:
    """Lower-case words (ё → е) with punctuation boundaries kept as their own tokens."""
    return _WORDS.findall(text.lower().replace("ё", "е"))


def words_of(text: str) -> list[str]:
    return [word for word in normalise(text) if word not in BOUNDARY]


@lru_cache(maxsize=1)
def _morph() -> pymorphy3.MorphAnalyzer:
    return pymorphy3.MorphAnalyzer()


@lru_cache(maxsize=100_000)
def lemma(word: str) -> str:
    """The most probable parse's normal form: «алексине» → «алексин», «районе» → «район»."""
    return str(_morph().parse(word)[0].normal_form).replace("ё", "е")


class Method(StrEnum):
    ADDRESS = "address"
    MENTIONS = "mentions"
    TEXT = "text"
    COORDINATES = "coordinates"


@dataclass(frozen=True, slots=True)
class Municipality:
    code: str
    name: str
    administration: str
    departments: dict[str, str]
    email_pattern: str | None
    contact_email: str | None
    centroid: tuple[float, float] | None = None  # (lat, lon)

    def department_email(self, key: str) -> str | None:
        return (
            self.email_pattern.format(department=key) if self.email_pattern else self.contact_email
        )


@dataclass(frozen=True, slots=True)
class Resolution:
    municipality: Municipality | None
    method: Method | None = None

    @property
    def flags(self) -> tuple[str, ...]:
        if self.municipality is None:
            return ("territory_unresolved",)
        if self.method is Method.COORDINATES:
            return ("territory_from_coordinates",)  # nearest centroid: approximate
        return ()


@dataclass(slots=True)
class TerritoryIndex:
    municipalities: dict[str, Municipality]
    exact: dict[tuple[str, ...], str] = field(default_factory=dict)
    lemmas: dict[tuple[str, ...], str] = field(default_factory=dict)
    marked: dict[tuple[str, ...], str] = field(default_factory=dict)
    max_centroid_km: float = 40.0

    @classmethod
    def from_region(cls, region: dict[str, Any]) -> TerritoryIndex:
        index = cls(municipalities={})
        for entry in region["municipalities"]:
            index.municipalities[entry["code"]] = _municipality(entry)
            index._add_entry(entry)
        return index

    def _add_entry(self, entry: dict[str, Any]) -> None:
        code = entry["code"]
        for alias in entry.get("aliases") or []:
            self._add(self.exact, words_of(alias), code)
        settlements = entry.get("settlements") or []
        for settlement in settlements:
            names = [settlement["name"], *(settlement.get("aliases") or [])]
            if settlement.get("ambiguous"):
                for name in names:
                    self._add(self.marked, words_of(name), code)
                self._add(self.marked, _lemmas(settlement.get("lemma") or ""), code)
                continue
            for name in names:
                self._add(self.exact, words_of(name), code)
            self._add(self.lemmas, _lemmas(settlement.get("lemma") or settlement["name"]), code)
            for context_alias in settlement.get("context_aliases") or []:
                self._add(self.marked, words_of(context_alias), code)
        centre = settlements[0] if settlements else {}
        if centre.get("adjective"):
            adjective = tuple(words_of(centre["adjective"]))
            for tail in DISTRICT_TAILS:
                self._add(self.lemmas, [*adjective, *tail], code)

    @staticmethod
    def _add(table: dict[tuple[str, ...], str], words: Sequence[str], code: str) -> None:
        if words:
            table.setdefault(tuple(words), code)

    def resolve(self, *texts: str | None) -> Municipality | None:
        """The municipality named most often, trying each text in order (kept for callers)."""
        for text in texts:
            if text and (hits := self.hits(text)):
                return self.municipalities[hits.most_common(1)[0][0]]
        return None

    def locate(
        self,
        *,
        address: str | None,
        mentions: Iterable[str] = (),
        text: str | None = None,
        point: tuple[float, float] | None = None,
    ) -> Resolution:
        """Address first (the citizen's own statement), then structured mentions, the free
        text, and last the coordinates (centroids are approximate)."""
        sources = ((Method.ADDRESS, address), (Method.MENTIONS, " ; ".join(mentions)))
        for method, source in (*sources, (Method.TEXT, text)):
            if source and (hits := self.hits(source)):
                return Resolution(self.municipalities[hits.most_common(1)[0][0]], method)
        if point is not None and (nearest := self.nearest(point)) is not None:
            return Resolution(nearest, Method.COORDINATES)
        return Resolution(None)

    def hits(self, text: str) -> Counter[str]:
        words = normalise(text)
        lemmas = [word if word in BOUNDARY else lemma(word) for word in words]
        found: Counter[str] = Counter()
        start = 0
        while start < len(words):
            match = self._match_at(words, lemmas, start)
            if match is None:
                start += 1
                continue
            code, size = match
            found[code] += 1  # equal counts: the first place named wins (Counter keeps order)
            start += size
        return found

    def _match_at(self, words: list[str], lemmas: list[str], start: int) -> tuple[str, int] | None:
        previous = words[start - 1] if start else ""
        if words[start] in BOUNDARY or previous in STREET_BEFORE:
            return None
        marked = previous in SETTLEMENT_MARKERS
        for size in range(min(MAX_PHRASE, len(words) - start), 0, -1):
            end = start + size
            follower = words[end] if end < len(words) else ""
            if follower.startswith(REGION_WORD) or follower in STREET_AFTER:
                continue
            phrase, phrase_lemmas = tuple(words[start:end]), tuple(lemmas[start:end])
            code = self.exact.get(phrase) or self.lemmas.get(phrase_lemmas)
            if code is None and marked:
                code = self.marked.get(phrase) or self.marked.get(phrase_lemmas)
            if code is not None:
                return code, size
        return None

    def nearest(self, point: tuple[float, float]) -> Municipality | None:
        """The municipality whose centroid is nearest, if within ``max_centroid_km``."""
        best: tuple[float, Municipality] | None = None
        for municipality in self.municipalities.values():
            if municipality.centroid is None:
                continue
            distance = haversine_km(point, municipality.centroid)
            if best is None or distance < best[0]:
                best = (distance, municipality)
        if best is None or best[0] > self.max_centroid_km:
            return None
        return best[1]


def haversine_km(a: tuple[float, float], b: tuple[float, float]) -> float:
    lat1, lon1, lat2, lon2 = map(math.radians, (*a, *b))
    h = (
        math.sin((lat2 - lat1) / 2) ** 2
        + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    )
    return 2 * EARTH_KM * math.asin(math.sqrt(h))


def _lemmas(phrase: str) -> list[str]:
    return [lemma(word) for word in words_of(phrase)]


def _municipality(entry: dict[str, Any]) -> Municipality:
    bodies = entry.get("bodies") or {}
    centroid = entry.get("centroid") or {}
    return Municipality(
        code=entry["code"],
        name=entry["name"],
        administration=bodies.get("administration", entry["name"]),
        departments=dict(bodies.get("departments") or {}),
        email_pattern=bodies.get("email_pattern"),
        contact_email=bodies.get("contact_email"),
        centroid=(float(centroid["lat"]), float(centroid["lon"])) if centroid else None,
    )
