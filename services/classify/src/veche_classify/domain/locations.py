"""Location mentions: light rules for settlements, streets and houses, natasha NER as a fallback.

The rules cover how appeals write addresses («ул. Ленина, д. 5», «на улице Мира», «в пос.
Первомайский», «мкр Южный»). natasha's NER (slovnet, ~3 ms per text) runs only when the rules
find nothing: it costs more than the rest of the hot path together. The full yargy address
grammar (~37 ms per text) is not used here.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

_NAME = r"[А-ЯЁ0-9][А-Яа-яЁё0-9\-]*(?:\s+(?:[А-ЯЁ][а-яё\-]+|лет|Октября|Победы|\d+))*"
_STREET = re.compile(
    r"(?P<kind>ул\.|улиц[аеуы]|пр-т|пр-кт|просп\.|проспект[аеу]?|пер\.|переул(?:ок|ке|ка)|"
    r"ш\.|шоссе|мкр\.?|микрорайон[аеу]?|пл\.|площад[ьи]|бульвар[аеу]?|б-р|проезд[аеу]?)"
    rf"\s*(?P<name>{_NAME})"
    r"(?:,?\s*(?:д\.|дом[аеу]?|№)\s*(?P<house>\d+[а-яА-Я]?(?:/\d+)?(?:\s*(?:корп\.|к\.)\s*\d+)?))?"
)
# «Красноармейский пр-т», «Одоевское шоссе»: the name comes first.
_STREET_BEFORE = re.compile(
    r"(?P<name>[А-ЯЁ][а-яё]+(?:ий|ый|ой|ая|ое|ом|ем|ей|ого))\s+"
    r"(?P<kind>пр-т|пр-те|проспект[аеу]?|шоссе|ш\.|бульвар[аеу]?|переул(?:ок|ке))"
)
_SETTLEMENT = re.compile(
    r"(?P<kind>г\.|город[аеу]?|пос\.|п\.|посел(?:ок|ке|ка)|пгт|с\.|сел[оеа]|д\.(?=\s*[А-ЯЁ])|"
    r"деревн[яеиюй]|снт|СНТ)\s*(?P<name>[А-ЯЁ][а-яё\-]+(?:\s+[А-ЯЁ][а-яё\-]+)?)"
)
_HOUSE_ONLY = re.compile(r"(?:\bдом[аеу]?\s*№\s*|\bд\.\s*)(?P<house>\d+[а-я]?(?:/\d+)?)")


@dataclass(frozen=True, slots=True)
class Mention:
    kind: str  # settlement | street | house | place (from NER)
    text: str
    name: str | None = None
    house: str | None = None


NerFn = Callable[[str], Sequence[str]]


def rule_mentions(text: str) -> list[Mention]:
    found: list[Mention] = []
    for m in _SETTLEMENT.finditer(text):
        found.append(Mention("settlement", m.group(0), name=m["name"]))
    streets = list(_STREET.finditer(text)) + list(_STREET_BEFORE.finditer(text))
    for m in streets:
        house = m.groupdict().get("house")
        found.append(Mention("street", m.group(0).strip(" ,"), name=m["name"], house=house))
    if not streets:
        for m in _HOUSE_ONLY.finditer(text):
            found.append(Mention("house", m.group(0), house=m["house"]))
    return _dedup(found)


def extract(text: str, ner: NerFn | None = None) -> list[Mention]:
    """Rules first; NER (if given) only when the rules find nothing."""
    found = rule_mentions(text)
    if found or ner is None:
        return found
    return _dedup([Mention("place", span, name=span) for span in ner(text)])


def _dedup(mentions: list[Mention]) -> list[Mention]:
    seen: set[str] = set()
    out = []
    for mention in mentions:
        if mention.text not in seen:
            seen.add(mention.text)
            out.append(mention)
    return out


class NatashaLocations:
    """natasha NER LOC spans (slovnet news model shipped in the wheel, nothing downloaded)."""

    def __call__(self, text: str) -> list[str]:
        tagger = _tagger()
        markup = tagger(text)
        return [text[span.start : span.stop] for span in markup.spans if span.type == "LOC"]


@lru_cache(maxsize=1)
def _tagger() -> Any:
    from natasha import NewsEmbedding, NewsNERTagger

    return NewsNERTagger(NewsEmbedding())
