"""Moderation flags (59-ФЗ ст. 11, ПОС rules): they mark an appeal for a person, never drop it.

* ``obscene`` — obscene language (mat roots, on the normalised text);
* ``threat`` — a threat by the author against life, health or property (first-person forms:
  «взорву», «подожгу»; a citizen *reporting* a threat — «сосед угрожает убить» — is not flagged);
* ``no_essence`` — nothing to act on: fewer than three meaningful words;
* ``third_party_personal_data`` — phone numbers, e-mails, document numbers or a person's name in
  the text that are not the applicant's own contact (they must not be published or forwarded
  carelessly).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from .text import morph, words

OBSCENE = "obscene"
THREAT = "threat"
NO_ESSENCE = "no_essence"
THIRD_PARTY_PERSONAL_DATA = "third_party_personal_data"

_OBSCENE = re.compile(
    r"\b(х[уy][йеяию]\w*|п[иеё]зд\w*|[её]б[аиуе]?(т|н|л|ш)\w*|бля\w*|муда[кч]\w*|"
    r"пид[оа]р\w*|залуп\w*|сук[аи]н?\b|шлюх\w*|гандон\w*|долба[её]б\w*|ублюд\w*)"
)
_THREAT = re.compile(
    r"\b(убью|пристрелю|зарежу|взорву|подожгу|сожгу|порешу|закопаю|придушу|"
    r"вам не жить|кровью умоетесь|найду (вас|тебя) и)\b"
)
_PHONE = re.compile(r"(?<!\d)(?:\+7|8)[\s(\-]*\d{3}[\s)\-]*\d{3}[\s\-]*\d{2}[\s\-]*\d{2}(?!\d)")
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+\.[\w.-]+")
_DOCUMENT = re.compile(
    r"(паспорт\w*|снилс|инн)\D{0,15}\d{2,4}[\s\-]?\d{2,6}[\s\-]?\d{0,6}", re.IGNORECASE
)
# «Иванова Т. С.», «Т. С. Иванова»
_INITIALS_NAME = re.compile(
    r"\b[А-ЯЁ][а-яё]+\s+[А-ЯЁ]\.\s?[А-ЯЁ]\.|\b[А-ЯЁ]\.\s?[А-ЯЁ]\.\s?[А-ЯЁ][а-яё]+"
)
_CAPITALISED = re.compile(r"(?<![.!?]\s)(?<!^)\b([А-ЯЁ][а-яё]{2,})\s+([А-ЯЁ][а-яё]{2,})\b")
_STREET_WORDS = re.compile(r"(ул\.|улиц\w*|пр\.|им\.|пос\.|д\.|с\.|г\.)\s*$")
_FILLER = frozenset(
    [
        "здравствуйте",
        "добрый",
        "день",
        "вечер",
        "утро",
        "доброе",
        "привет",
        "уважаемый",
        "уважаемая",
        "уважаемые",
        "администрация",
        "спасибо",
        "тест",
        "проверка",
        "помогите",
        "пожалуйста",
        "вопрос",
        "срочно",
    ]
)


def flags(normalised: str, original: str, own_contacts: Iterable[str] = ()) -> tuple[str, ...]:
    found: list[str] = []
    if _OBSCENE.search(normalised):
        found.append(OBSCENE)
    if _THREAT.search(normalised):
        found.append(THREAT)
    meaningful = [w for w in words(normalised) if len(w) > 2 and w not in _FILLER]
    if len(meaningful) < 3:
        found.append(NO_ESSENCE)
    if has_third_party_data(original, own_contacts):
        found.append(THIRD_PARTY_PERSONAL_DATA)
    return tuple(found)


def has_third_party_data(text: str, own_contacts: Iterable[str] = ()) -> bool:
    own = {_digits_or_lower(c) for c in own_contacts if c}
    for match in (*_PHONE.finditer(text), *_EMAIL.finditer(text)):
        if _digits_or_lower(match.group(0)) not in own:
            return True
    if _DOCUMENT.search(text) or _INITIALS_NAME.search(text):
        return True
    return any(_is_person(m) and not _after_street_word(text, m.start()) for m in _pairs(text))


def _pairs(text: str) -> list[re.Match[str]]:
    return list(_CAPITALISED.finditer(text))


def _after_street_word(text: str, start: int) -> bool:
    return bool(_STREET_WORDS.search(text[max(0, start - 8) : start]))


def _is_person(match: re.Match[str]) -> bool:
    """First name + surname (or surname + first name) by pymorphy3's Name/Surn tags."""
    tags = [
        {g for parse in morph().parse(word.lower())[:3] for g in (parse.tag.grammemes or ())}
        for word in match.groups()
    ]
    names = ["Name" in t for t in tags]
    surnames = ["Surn" in t or "Patr" in t for t in tags]
    return (names[0] and surnames[1]) or (surnames[0] and names[1])


def _digits_or_lower(value: str) -> str:
    digits = re.sub(r"\D", "", value)
    if "@" in value or len(digits) < 7:
        return value.strip().lower()
    return digits[-10:]


__all__ = [
    "NO_ESSENCE",
    "OBSCENE",
    "THIRD_PARTY_PERSONAL_DATA",
    "THREAT",
    "flags",
    "has_third_party_data",
]
