"""Incidents: near-duplicate appeals about one problem in one place, linked under one id.

Two appeals belong to the same incident when they share the topic and the place key (the
settlement and street named in the text, or the address given on the form), arrive within the
time window, and their content lemmas overlap enough (Jaccard similarity). This is the ЦУР
practice: executors handle one problem once, every citizen still gets an answer.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from .locations import Mention
from .text import lemma, normalise, words

# Function words and appeal boilerplate carry no information about *which* problem it is.
_STOP = frozenset(
    [
        "в",
        "во",
        "на",
        "у",
        "к",
        "ко",
        "с",
        "со",
        "о",
        "об",
        "от",
        "до",
        "по",
        "за",
        "из",
        "под",
        "над",
        "при",
        "для",
        "без",
        "и",
        "а",
        "но",
        "или",
        "не",
        "ни",
        "что",
        "чтобы",
        "как",
        "так",
        "уже",
        "еще",
        "это",
        "этот",
        "тот",
        "весь",
        "свой",
        "наш",
        "ваш",
        "мой",
        "я",
        "мы",
        "вы",
        "они",
        "он",
        "она",
        "оно",
        "быть",
        "который",
        "уважаемый",
        "здравствуйте",
        "добрый",
        "день",
        "просить",
        "прошу",
        "принять",
        "мера",
        "обращение",
        "житель",
        "администрация",
        "город",
        "улица",
        "дом",
        "очень",
        "там",
        "тут",
        "сейчас",
        "когда",
        "где",
        "почему",
    ]
)


@dataclass(frozen=True, slots=True)
class Candidate:
    appeal_id: str
    incident_id: str
    topic: str
    place_key: str
    lemmas: frozenset[str]
    at: datetime


def place_key(mentions: Sequence[Mention], form_address: str | None) -> str | None:
    """Settlement + street (+ house) from the text, else the form's address; None if unknown."""
    settlement = next((m.name for m in mentions if m.kind == "settlement" and m.name), None)
    street = next((m for m in mentions if m.kind == "street" and m.name), None)
    parts = [settlement, street.name if street else None]
    if any(parts):
        return "|".join(_key_words(p) for p in parts if p)
    if form_address:
        return _key_words(form_address)
    place = next((m.name for m in mentions if m.name), None)
    return _key_words(place) if place else None


def content_lemmas(text: str) -> frozenset[str]:
    return frozenset(
        lemma(w) for w in words(normalise(text)) if len(w) > 2 and lemma(w) not in _STOP
    )


def similarity(a: frozenset[str], b: frozenset[str]) -> float:
    if not a or not b:
        return 0.0
    return len(a & b) / len(a | b)


def match(
    new: Candidate,
    earlier: Iterable[Candidate],
    *,
    threshold: float,
    window: timedelta,
) -> Candidate | None:
    """The most similar earlier appeal of the same topic and place within the window."""
    best: tuple[float, Candidate] | None = None
    for other in earlier:
        if other.appeal_id == new.appeal_id or other.topic != new.topic:
            continue
        if other.place_key != new.place_key or abs(new.at - other.at) > window:
            continue
        score = similarity(new.lemmas, other.lemmas)
        if score >= threshold and (best is None or score > best[0]):
            best = (score, other)
    return best[1] if best else None


def retained(members: Iterable[Candidate], *, per_incident: int, limit: int) -> list[Candidate]:
    """The members a place keeps for linking later appeals, oldest first: the newest few of
    each incident, at most ``limit`` in all.

    A burst (a heating outage: hundreds of appeals about one house) is one incident; a new
    appeal about it matches one of its latest members as well as any of the hundreds, and the
    place stays a small document that is cheap to read and rewrite for every batch.
    """
    kept: list[Candidate] = []
    per: dict[str, int] = {}
    for member in sorted(members, key=lambda m: m.at, reverse=True):
        if per.get(member.incident_id, 0) < per_incident:
            per[member.incident_id] = per.get(member.incident_id, 0) + 1
            kept.append(member)
            if len(kept) == limit:
                break
    return kept[::-1]


def _key_words(value: str) -> str:
    return " ".join(lemma(w) for w in words(normalise(value)) if len(w) > 1)
