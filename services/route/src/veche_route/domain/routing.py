"""One classified appeal in, one routing decision out (pure)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import yaml
from veche_shared.events import AppealClassifiedV1, AppealRoutedV1, Deadlines, Territory

from .calendar import StatutoryTerms, term_end
from .rules import RuleBook
from .territory import TerritoryIndex


@dataclass(frozen=True, slots=True)
class Router:
    territory: TerritoryIndex
    rules: RuleBook
    region_name: str
    receiving_body: str
    terms: StatutoryTerms = field(default_factory=StatutoryTerms)

    @classmethod
    def from_files(cls, region_file: Path, rules_file: Path, receiving_body: str) -> Router:
        region = yaml.safe_load(region_file.read_text(encoding="utf-8"))
        rules = yaml.safe_load(rules_file.read_text(encoding="utf-8"))
        return cls(
            territory=TerritoryIndex.from_region(region),
            rules=RuleBook.from_data(rules),
            region_name=region["region"]["name"],
            receiving_body=receiving_body,
        )

    def route(self, event: AppealClassifiedV1) -> AppealRoutedV1:
        appeal = event.appeal
        mentions = " ".join(event.classification.location_mentions)
        municipality = self.territory.resolve(appeal.location.address, mentions, appeal.text)
        decision = self.rules.decide(event.classification.topic, municipality)
        territory = (
            Territory(code=municipality.code, name=municipality.name, resolved=True)
            if municipality
            else Territory(code=appeal.region_code, name=self.region_name, resolved=False)
        )
        registered = appeal.registered_at
        return AppealRoutedV1(
            appeal_id=event.appeal_id,
            appeal=appeal,
            topic=event.classification.topic,
            urgency=event.classification.urgency,
            territory=territory,
            executor=decision.executor,
            redirected=decision.executor.code != self.receiving_body,
            deadlines=Deadlines(
                register_by=term_end(registered, self.terms.register_days),
                redirect_by=term_end(registered, self.terms.redirect_days),
                answer_by=term_end(registered, self.terms.answer_days),
            ),
            rule_id=decision.rule_id,
        )
