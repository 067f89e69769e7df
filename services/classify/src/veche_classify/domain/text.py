"""Russian text normalisation: HTML remnants out, tokens (razdel), lemmas (pymorphy3, cached)."""

from __future__ import annotations

import html
import re
from functools import lru_cache

import pymorphy3
from razdel import tokenize

_TAG = re.compile(r"<[^>]{0,200}>")
_SPACE = re.compile(r"\s+")
_WORD = re.compile(r"^[а-яёa-z][а-яёa-z\-]*$")


@lru_cache(maxsize=1)
def _morph() -> pymorphy3.MorphAnalyzer:
    return pymorphy3.MorphAnalyzer()


def clean(text: str) -> str:
    """Strip markup left by web forms and e-mail clients; unify ё and whitespace."""
    text = html.unescape(_TAG.sub(" ", text))
    return _SPACE.sub(" ", text).strip()


@lru_cache(maxsize=200_000)
def lemma(word: str) -> str:
    return str(_morph().parse(word)[0].normal_form).replace("ё", "е")


def lemmas(text: str) -> list[str]:
    words = (token.text.lower() for token in tokenize(clean(text)))
    return [lemma(word) for word in words if _WORD.match(word)]
