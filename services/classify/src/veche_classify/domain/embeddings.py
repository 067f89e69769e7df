"""navec word vectors (shipped in the natasha wheel, never downloaded) and text embeddings."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin

from .text import lemma, morph, words

# Parts of speech that carry no topic: prepositions, conjunctions, particles, interjections,
# pronouns. Their vectors only pull every text's mean towards the same point.
_FUNCTION_POS = frozenset({"PREP", "CONJ", "PRCL", "INTJ", "NPRO"})


@lru_cache(maxsize=1)
def navec() -> Any:
    # navec news embeddings (250 k words x 300 d, quantised) shipped inside the natasha wheel:
    # loaded from the installed package, never downloaded.
    from natasha import NewsEmbedding

    return NewsEmbedding()


@lru_cache(maxsize=200_000)
def vector(word: str) -> Any:
    table = navec()
    for form in (word, lemma(word)):
        if form in table:
            return table[form]
    return None


@lru_cache(maxsize=200_000)
def is_content(word: str) -> bool:
    return len(word) > 2 and morph().parse(word)[0].tag.POS not in _FUNCTION_POS


class WeightedEmbedding(BaseEstimator, TransformerMixin):  # type: ignore[misc]
    """IDF-weighted mean of unit navec vectors of a text's content lemmas (+ optional max-pool).

    Rare, specific words (``оптоволокно``) weigh more than words every appeal has
    (``просить``, ``житель``); IDF is learnt from the training texts at fit time, unseen
    lemmas get the largest IDF.
    """

    def __init__(self, weight: float = 1.0, max_pool: bool = False) -> None:
        self.weight = weight
        self.max_pool = max_pool

    def fit(self, normalised_texts: Sequence[str], y: Any = None) -> WeightedEmbedding:
        df: Counter[str] = Counter()
        for text in normalised_texts:
            df.update({lemma(w) for w in words(text) if is_content(w)})
        n = len(normalised_texts)
        self.idf_ = {word: math.log((1 + n) / (1 + count)) + 1 for word, count in df.items()}
        self.default_idf_ = math.log(1 + n) + 1
        return self

    def transform(self, normalised_texts: Sequence[str]) -> Any:
        width = 600 if self.max_pool else 300
        out = np.zeros((len(normalised_texts), width), dtype=np.float32)
        for row, text in enumerate(normalised_texts):
            found = []
            for word in words(text):
                if is_content(word) and (v := vector(word)) is not None:
                    found.append((self.idf_.get(lemma(word), self.default_idf_), v))
            if not found:
                continue
            weights = np.array([w for w, _ in found], dtype=np.float32)
            vectors = np.vstack([v for _, v in found])
            mean = weights @ vectors
            out[row, :300] = mean / (np.linalg.norm(mean) or 1.0)
            if self.max_pool:
                top = vectors.max(axis=0)
                out[row, 300:] = top / (np.linalg.norm(top) or 1.0)
        return out * self.weight
