"""Which municipality an appeal is about, from its address and text.

The region file lists each municipality's settlements with their inflected and adjectival forms
(«Алексин», «в Алексине», «Алексинский район»), so matching is a phrase lookup on normalised
words. Names that are also common words («Рассвет», «Ленинский») are marked ambiguous in the
data and skipped. Unknown territory is a normal outcome, never an error.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

_WORDS = re.compile(r"[а-яa-z0-9]+(?:-[а-яa-z0-9]+)*")
MAX_PHRASE = 4
# «Тульская область» names the region, not the city of Tula.
REGION_WORD = "област"


def normalise(text: str) -> list[str]:
    return _WORDS.findall(text.lower().replace("ё", "е"))


@dataclass(frozen=True, slots=True)
class Municipality:
    code: str
    name: str
    administration: str
    departments: dict[str, str]
    email_pattern: str | None
    contact_email: str | None

    def department_email(self, key: str) -> str | None:
        return (
            self.email_pattern.format(department=key) if self.email_pattern else self.contact_email
        )


@dataclass(slots=True)
class TerritoryIndex:
    municipalities: dict[str, Municipality]
    phrases: dict[tuple[str, ...], str] = field(default_factory=dict)

    @classmethod
    def from_region(cls, region: dict[str, Any]) -> TerritoryIndex:
        index = cls(municipalities={})
        for entry in region["municipalities"]:
            bodies = entry.get("bodies") or {}
            index.municipalities[entry["code"]] = Municipality(
                code=entry["code"],
                name=entry["name"],
                administration=bodies.get("administration", entry["name"]),
                departments=dict(bodies.get("departments") or {}),
                email_pattern=bodies.get("email_pattern"),
                contact_email=bodies.get("contact_email"),
            )
            for alias in _aliases(entry):
                index.phrases.setdefault(tuple(normalise(alias)), entry["code"])
        return index

    def resolve(self, *texts: str | None) -> Municipality | None:
        """The municipality named most often, trying the address before the free text."""
        for text in texts:
            if not text:
                continue
            hits = self._hits(normalise(text))
            if hits:
                code, _ = hits.most_common(1)[0]
                return self.municipalities[code]
        return None

    def _hits(self, words: list[str]) -> Counter[str]:
        hits: Counter[str] = Counter()
        for start in range(len(words)):
            for size in range(MAX_PHRASE, 0, -1):
                code = self.phrases.get(tuple(words[start : start + size]))
                follower = words[start + size] if start + size < len(words) else ""
                if code is not None and not follower.startswith(REGION_WORD):
                    hits[code] += 1
                    break
        return hits


def _aliases(entry: dict[str, Any]) -> list[str]:
    aliases = list(entry.get("aliases") or [])
    for settlement in entry.get("settlements") or []:
        if settlement.get("ambiguous"):
            continue  # a name that is also a common word needs context we do not parse yet
        aliases.append(settlement["name"])
        aliases.extend(settlement.get("aliases") or [])
    return [a for a in aliases if a and normalise(a)]
