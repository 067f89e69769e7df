"""One appeal in, one Classification out: model scores, urgency rules, locations, flags.

Works on batches: the featuriser and both classifiers run once per batch (most of the cost).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from veche_shared.events import (
    AppealSnapshot,
    Classification,
    LocationMention,
    TopicScore,
    Urgency,
)

from .locations import Mention, NerFn, cheap_mentions, needs_ner, ner_mentions
from .model import Scored, TriageModel
from .moderation import flags
from .text import normalise
from .urgency import apply_rules


@dataclass(frozen=True, slots=True)
class Decision:
    classification: Classification
    mentions: tuple[Mention, ...]


class Triage:
    def __init__(
        self, model: TriageModel, *, review_threshold: float, ner: NerFn | None = None
    ) -> None:
        self.model = model
        self.review_threshold = review_threshold
        self._ner = ner

    def classify(self, appeal: AppealSnapshot) -> Classification:
        return self.decide([appeal])[0].classification

    def decide(self, appeals: Sequence[AppealSnapshot]) -> list[Decision]:
        texts = [_full_text(appeal) for appeal in appeals]
        scores = self.model.score(texts)
        mentions = self._mentions(texts)
        return [
            self._decision(appeal, text, scored, found)
            for appeal, text, scored, found in zip(appeals, texts, scores, mentions, strict=True)
        ]

    def _mentions(self, texts: Sequence[str]) -> list[list[Mention]]:
        """Rules for every text; NER once per batch, only for texts with an unresolved place cue."""
        found = [cheap_mentions(text) for text in texts]
        if self._ner is None:
            return found
        todo = [i for i, text in enumerate(texts) if needs_ner(text, found[i])]
        if not todo:
            return found
        batch = getattr(self._ner, "batch", None)
        spans = batch([texts[i] for i in todo]) if batch else [self._ner(texts[i]) for i in todo]
        for i, places in zip(todo, spans, strict=True):
            found[i] = ner_mentions(places)
        return found

    def _decision(
        self, appeal: AppealSnapshot, text: str, scored: Scored, found: list[Mention]
    ) -> Decision:
        normalised = normalise(text)
        (topic, confidence), *rest = scored.topics
        urgency, fired = apply_rules(
            Urgency(scored.urgency[0][0]),
            normalised,
            registered_at=appeal.registered_at,
            channel=appeal.channel,
            hint=appeal.urgency_hint,
        )
        mentions = tuple(found)
        contact = appeal.contact
        own = [c for c in (contact.phone, contact.email, contact.name) if c]
        found_flags = tuple(dict.fromkeys((*appeal.flags, *flags(normalised, text, own))))
        classification = Classification(
            topic=topic,
            confidence=round(confidence, 4),
            alternatives=tuple(TopicScore(topic=t, confidence=round(p, 4)) for t, p in rest[:3]),
            urgency=urgency,
            location_mentions=tuple(m.text for m in mentions),
            locations=tuple(
                LocationMention(kind=m.kind, text=m.text[:300], name=m.name, house=m.house)
                for m in mentions
            ),
            flags=found_flags,
            urgency_rules=fired,
            # a flagged appeal needs a person whatever the confidence (59-ФЗ ст. 11)
            needs_review=confidence < self.review_threshold or bool(found_flags),
            classifier=self.model.version,
        )
        return Decision(classification, mentions)


def _full_text(appeal: AppealSnapshot) -> str:
    return f"{appeal.title}. {appeal.text}" if appeal.title else appeal.text
