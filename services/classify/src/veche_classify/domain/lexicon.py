"""Hand-written domain lexicon as features: knowledge of each topic beyond the corpus templates.

``data/lexicon/topics.yaml`` lists, per topic and per urgency cue level, words and short
phrases of that domain written from general knowledge (not from the corpus). Lemmatised once
at fit time and kept inside the transformer, so the artefact is self-contained.

Per text, per lexicon category:

* hits: how many lemmas (or lemma phrases) of the text are entries of the category,
  as ``log1p`` — exact, typo-tolerant only as far as pymorphy3's lemma is;
* soft hits: for each content word, its navec cosine to the nearest entry of the category,
  averaged over the text and max-pooled — a synonym the lexicon author forgot still scores.
  The per-word similarities are cached (a word's row is computed once per process).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from sklearn.base import BaseEstimator, TransformerMixin

from .embeddings import is_content, vector
from .text import lemma, normalise, words

LEXICON_FILE = Path(__file__).resolve().parents[3] / "data" / "lexicon" / "topics.yaml"
_CACHE_LIMIT = 300_000


def read_lexicon(path: Path) -> dict[str, list[tuple[str, ...]]]:
    """Category → entries as lemma tuples (topics first, then ``urgency:<level>``)."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    raw: dict[str, list[Any]] = dict(data["topics"])
    raw.update({f"urgency:{level}": cues for level, cues in data.get("urgency", {}).items()})
    lexicon = {}
    for category, entries in raw.items():
        lemmatised = {tuple(lemma(w) for w in words(normalise(str(e)))) for e in entries}
        lexicon[category] = sorted(entry for entry in lemmatised if entry)
    return lexicon


class LexiconFeatures(BaseEstimator, TransformerMixin):  # type: ignore[misc]
    """Lexicon hit counts and navec soft hits per category, for already normalised texts."""

    def __init__(self, path: Path = LEXICON_FILE, weight: float = 1.0, soft: bool = True) -> None:
        self.path = path
        self.weight = weight
        self.soft = soft

    def fit(self, texts: Sequence[str], y: Any = None) -> LexiconFeatures:
        lexicon = read_lexicon(Path(self.path))
        self.categories_ = list(lexicon)
        self.unigrams_: dict[str, list[int]] = {}
        self.phrases_: dict[str, list[tuple[tuple[str, ...], int]]] = {}
        for index, entries in enumerate(lexicon.values()):
            for entry in entries:
                if len(entry) == 1:
                    self.unigrams_.setdefault(entry[0], []).append(index)
                else:
                    self.phrases_.setdefault(entry[0], []).append((entry, index))
        self.entry_vectors_, self.entry_category_ = self._entry_vectors(lexicon)
        self._cache: dict[str, Any] = {}
        return self

    @staticmethod
    def _entry_vectors(lexicon: dict[str, list[tuple[str, ...]]]) -> tuple[Any, Any]:
        """Unit navec vector of every entry (mean of its words'), with the entry's category."""
        rows, owners = [], []
        for index, entries in enumerate(lexicon.values()):
            for entry in entries:
                found = [v for v in map(vector, entry) if v is not None]
                if found:
                    mean = np.mean(found, axis=0)
                    rows.append(mean / (np.linalg.norm(mean) or 1.0))
                    owners.append(index)
        return np.asarray(rows, dtype=np.float32), np.asarray(owners)

    @property
    def width(self) -> int:
        return 3 * len(self.categories_) if self.soft else len(self.categories_)

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state.pop("_cache", None)  # per-process word cache: not part of the artefact
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._cache = {}

    def transform(self, normalised_texts: Sequence[str]) -> Any:
        n = len(self.categories_)
        out = np.zeros((len(normalised_texts), self.width), dtype=np.float32)
        for row, text in enumerate(normalised_texts):
            text_words = words(text)
            lemmas = [lemma(w) for w in text_words]
            out[row, :n] = np.log1p(self._hits(lemmas))
            if self.soft:
                content = [m for w, m in zip(text_words, lemmas, strict=True) if is_content(w)]
                soft = [s for s in map(self._word_similarity, content) if s is not None]
                if soft:
                    stacked = np.vstack(soft)
                    out[row, n : 2 * n] = stacked.mean(axis=0)
                    out[row, 2 * n :] = stacked.max(axis=0)
        return out * self.weight

    def _hits(self, lemmas: list[str]) -> Any:
        counts = np.zeros(len(self.categories_), dtype=np.float32)
        for i, word in enumerate(lemmas):
            for index in self.unigrams_.get(word, ()):
                counts[index] += 1
            for phrase, index in self.phrases_.get(word, ()):
                if tuple(lemmas[i : i + len(phrase)]) == phrase:
                    counts[index] += 1
        return counts

    def _word_similarity(self, word: str) -> Any:
        """Per category: the cosine of the word to the category's nearest entry (cached)."""
        if word in self._cache:
            return self._cache[word]
        v = vector(word)
        result = None
        if v is not None:
            cosines = self.entry_vectors_ @ (v / (np.linalg.norm(v) or 1.0))
            result = np.full(len(self.categories_), -1.0, dtype=np.float32)
            np.maximum.at(result, self.entry_category_, cosines)
        if len(self._cache) >= _CACHE_LIMIT:
            self._cache.clear()
        self._cache[word] = result
        return result
