"""Russian text normalisation: HTML remnants out, tokens (razdel), lemmas (pymorphy3, cached).

``normalise`` is what every model sees: lower case, markup and entities removed, ё→е, Latin
look-alike letters inside Cyrillic words mapped back (``пoлиция`` typed with a Latin «o»).
"""

from __future__ import annotations

import html
import re
from functools import lru_cache

import pymorphy3
from razdel import tokenize

_TAG = re.compile(r"<[^>]{0,200}>")
_SPACE = re.compile(r"\s+")
_WORD = re.compile(r"^[а-яёa-z][а-яёa-z\-]*$")
_MIXED_WORD = re.compile(r"\b\w*[а-яё]\w*\b")
# Latin letters that look like Cyrillic ones (lower case only: ``normalise`` lowers first).
_HOMOGLYPHS = str.maketrans("aeopcxyk", "аеорсхук")


@lru_cache(maxsize=1)
def morph() -> pymorphy3.MorphAnalyzer:
    return pymorphy3.MorphAnalyzer()


def clean(text: str) -> str:
    """Strip markup left by web forms and e-mail clients; unify whitespace."""
    text = html.unescape(_TAG.sub(" ", text))
    return _SPACE.sub(" ", text).strip()


def normalise(text: str) -> str:
    """Markup out, lower case, ё→е, Latin look-alikes inside Cyrillic words fixed."""
    lowered = clean(text).lower().replace("ё", "е")
    return _MIXED_WORD.sub(lambda m: m.group(0).translate(_HOMOGLYPHS), lowered)


@lru_cache(maxsize=200_000)
def lemma(word: str) -> str:
    return str(morph().parse(word)[0].normal_form).replace("ё", "е")


@lru_cache(maxsize=4096)
def words(normalised: str) -> tuple[str, ...]:
    """Word tokens of an already normalised text (numbers and punctuation dropped).

    Cached: the word features, the mean embedding and the moderation flags all tokenise the
    same normalised text of a batch.
    """
    return tuple(token.text for token in tokenize(normalised) if _WORD.match(token.text))


def lemmas(text: str) -> list[str]:
    return [lemma(word) for word in words(normalise(text))]
