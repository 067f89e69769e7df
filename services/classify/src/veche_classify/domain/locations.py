"""Location mentions: light rules for settlements, streets and houses, natasha NER as a fallback.

The rules cover how appeals write addresses («ул. Ленина, д. 5», «на улице Мира», «в пос.
Первомайский», «мкр Южный»). natasha's NER (slovnet, ~3 ms per text) costs more than the rest
of the hot path together, so it runs only where it can pay: the rules found nothing *and* the
text has a location cue (a capitalised word after a place preposition: «в Алексине», «у
Кимовска»), and then once per batch (``NatashaLocations.batch``). The full yargy address grammar
(~37 ms per text) is not used here.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from .text import morph

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
# «в Алексине», «под Тулой», «из Новомосковска»: a capitalised word after a place preposition
# that is not an institution, month or weekday («в Администрацию», «на Госуслугах»).
_CUE = re.compile(
    r"\b(?i:в|во|на|у|из|под|около|возле|за|до|по|над|близ)\s+"
    r"(?P<word>[А-ЯЁ][а-яё]{2,}(?:-[А-ЯЁа-яё]+)?)"
)
_NOT_PLACES = re.compile(
    r"^(?:Администрац|Министерств|Управлени|Госуслуг|Прокуратур|Губернатор|Глав|Ваш|Вам|Вас|"
    r"Правительств|Роспотребнадзор|Росреестр|Ростелеком|Пятерочк|Пятёрочк|Магнит|Телеграм|"
    r"Интернет|Октябр|Ноябр|Декабр|Январ|Феврал|Март|Апрел|Ма[йя]|Июн|Июл|Август|Сентябр|"
    r"Понедельник|Вторник|Сред|Четверг|Пятниц|Суббот|Воскресень|Новый|Новог|Росси|Бог)"
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


def _cue_words(text: str) -> list[str]:
    return [m["word"] for m in _CUE.finditer(text) if not _NOT_PLACES.match(m["word"])]


@lru_cache(maxsize=50_000)
def _is_toponym(word: str) -> bool:
    """pymorphy3's dictionary marks known place names (Тула, Алексин, Кимовск) with Geox."""
    return any("Geox" in parse.tag for parse in morph().parse(word)[:3])


def cue_mentions(text: str) -> list[Mention]:
    """Cued words the dictionary knows as place names: «в Алексине» without NER."""
    return _dedup(
        [Mention("settlement", w, name=w) for w in _cue_words(text) if _is_toponym(w.lower())]
    )


def location_cue(text: str) -> bool:
    """Whether NER could find a place the rules missed (a capitalised word after a preposition)."""
    return bool(_cue_words(text))


def needs_ner(text: str, rule_found: Sequence[Mention]) -> bool:
    return not rule_found and location_cue(text)


def cheap_mentions(text: str) -> list[Mention]:
    """Address rules, then dictionary place names after a preposition (no NER)."""
    return rule_mentions(text) or cue_mentions(text)


def ner_mentions(spans: Sequence[str]) -> list[Mention]:
    return _dedup([Mention("place", span, name=span) for span in spans])


def extract(text: str, ner: NerFn | None = None) -> list[Mention]:
    """Rules first; NER (if given) only when the rules find nothing and a place is cued."""
    found = cheap_mentions(text)
    if ner is None or not needs_ner(text, found):
        return found
    return ner_mentions(ner(text))


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

    def __init__(self) -> None:
        _tagger()  # load at start-up (~1 s), not inside the first batch that needs it

    def __call__(self, text: str) -> list[str]:
        return self.batch([text])[0]

    def batch(self, texts: Sequence[str]) -> list[list[str]]:
        """One slovnet pass over the batch (it pads and runs the texts together)."""
        markups = _tagger().map(list(texts))
        return [
            [markup.text[s.start : s.stop] for s in markup.spans if s.type == "LOC"]
            for markup in markups
        ]


@lru_cache(maxsize=1)
def _tagger() -> Any:
    from natasha import NewsEmbedding, NewsNERTagger

    return NewsNERTagger(NewsEmbedding())
