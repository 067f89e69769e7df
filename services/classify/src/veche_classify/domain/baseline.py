"""Keyword baseline classifier (``keyword-baseline-0``).

Honest about what it is: a lemma-overlap score against the taxonomy's keyword lists, with
urgency from cue phrases. It exists so the pipeline carries real decisions end to end; the
trained model (issue 5) replaces it behind the same :class:`Classifier` protocol.
"""

from __future__ import annotations

from collections import Counter
from typing import Protocol

from veche_shared.events import AppealSnapshot, Channel, Classification, TopicScore, Urgency

from .taxonomy import Taxonomy
from .text import lemmas

NAME = "keyword-baseline-0"
URGENCY_ORDER = (Urgency.LOW, Urgency.MEDIUM, Urgency.HIGH, Urgency.CRITICAL)
CUE_WINDOW = 4  # a cue's lemmas may be separated by a few words ("пахнет в подъезде газом")


class Classifier(Protocol):
    def classify(self, appeal: AppealSnapshot) -> Classification: ...


class KeywordClassifier:
    def __init__(self, taxonomy: Taxonomy) -> None:
        self._taxonomy = taxonomy

    def classify(self, appeal: AppealSnapshot) -> Classification:
        words = lemmas(f"{appeal.title or ''} {appeal.text}")
        ranked = self._rank_topics(words)
        best = ranked[0]
        return Classification(
            topic=best.topic,
            confidence=best.confidence,
            alternatives=tuple(ranked[1:3]),
            urgency=self._urgency(words, appeal.channel),
            classifier=NAME,
        )

    def _rank_topics(self, words: list[str]) -> list[TopicScore]:
        present = Counter(words)
        hits = {
            topic.code: sum(present[k] for k in topic.keywords) for topic in self._taxonomy.topics
        }
        total = sum(hits.values())
        if total == 0:
            return [TopicScore(topic="other", confidence=0.2)]
        # Add-one smoothing over the taxonomy keeps a single lucky keyword from claiming certainty.
        smoothing = len(hits)
        scores = [
            TopicScore(topic=code, confidence=(count + 1) / (total + smoothing))
            for code, count in hits.items()
        ]
        return sorted(scores, key=lambda s: s.confidence, reverse=True)

    def _urgency(self, words: list[str], channel: Channel) -> Urgency:
        matched = [
            level
            for level in URGENCY_ORDER
            if any(_contains_cue(words, cue) for cue in self._taxonomy.urgency_cues.get(level, ()))
        ]
        # The most severe cue wins; "low" cues (suggestions, questions) only lower the default
        # when nothing more pressing is mentioned.
        level = max(matched, key=URGENCY_ORDER.index) if matched else self._taxonomy.default_urgency
        if channel is Channel.EDDS:  # duty-dispatch incidents are never below high
            level = max(level, Urgency.HIGH, key=URGENCY_ORDER.index)
        return level


def _contains_cue(words: list[str], cue: tuple[str, ...]) -> bool:
    first = cue[0]
    for start, word in enumerate(words):
        if word != first:
            continue
        window = words[start + 1 : start + 1 + CUE_WINDOW * len(cue)]
        position = 0
        for needed in cue[1:]:
            try:
                position = window.index(needed, position) + 1
            except ValueError:
                break
        else:
            return True
    return False
