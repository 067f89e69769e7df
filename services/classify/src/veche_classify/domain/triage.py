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

from .locations import Mention, NerFn, extract
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
        return [
            self._decision(appeal, text, scored)
            for appeal, text, scored in zip(appeals, texts, scores, strict=True)
        ]

    def _decision(self, appeal: AppealSnapshot, text: str, scored: Scored) -> Decision:
        normalised = normalise(text)
        (topic, confidence), *rest = scored.topics
        urgency, fired = apply_rules(
            Urgency(scored.urgency[0][0]),
            normalised,
            registered_at=appeal.registered_at,
            channel=appeal.channel,
            hint=appeal.urgency_hint,
        )
        mentions = tuple(extract(text, self._ner))
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
