"""One classified appeal in, one routing decision out (pure): territory, competent bodies
(primary and copies, each with its own answer term), redirect notice and statutory deadlines."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import yaml
from veche_shared.events import (
    AppealClassifiedV1,
    AppealRoutedV1,
    Assignment,
    AssignmentRole,
    Deadlines,
    Executor,
    ExecutorLevel,
    Territory,
    Urgency,
)

from .calendar import MOSCOW, StatutoryTerms, Term, TermUnit
from .rules import Choice, RuleBook
from .territory import TerritoryIndex


def load_yaml(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    return data


@dataclass(frozen=True, slots=True)
class Router:
    territory: TerritoryIndex
    rules: RuleBook
    region_name: str
    receiving_body: Executor
    terms: StatutoryTerms = field(default_factory=StatutoryTerms.default)
    tz: ZoneInfo = MOSCOW
    copy_topic_confidence: float = 0.35
    department_keys: tuple[str, ...] = ()

    @classmethod
    def from_files(
        cls,
        region_file: Path,
        rules_file: Path,
        receiving_body: str,
        terms_file: Path | None = None,
        copy_topic_confidence: float = 0.35,
    ) -> Router:
        region = load_yaml(region_file)
        return cls(
            territory=TerritoryIndex.from_region(region),
            rules=RuleBook.from_data(load_yaml(rules_file)),
            region_name=region["region"]["name"],
            receiving_body=body_executor(region, receiving_body),
            terms=StatutoryTerms.from_data(load_yaml(terms_file))
            if terms_file
            else StatutoryTerms.default(),
            tz=ZoneInfo(region["region"].get("timezone", "Europe/Moscow")),
            copy_topic_confidence=copy_topic_confidence,
            department_keys=tuple(region.get("department_keys") or ()),
        )

    def route(self, event: AppealClassifiedV1, rules: RuleBook | None = None) -> AppealRoutedV1:
        rules = rules or self.rules
        appeal, classification = event.appeal, event.classification
        mentions = [*classification.location_mentions, *(m.text for m in classification.locations)]
        point = (
            (appeal.location.lat, appeal.location.lon)
            if appeal.location.lat is not None and appeal.location.lon is not None
            else None
        )
        resolution = self.territory.locate(
            address=appeal.location.address, mentions=mentions, text=appeal.text, point=point
        )
        municipality = resolution.municipality
        decision = rules.decide(classification.topic, municipality)
        copies = list(decision.copies)
        seen = {decision.executor.code, *(c.executor.code for c in copies)}
        # A second topic the classifier is fairly sure of is a second competence: copy to it.
        for alternative in classification.alternatives:
            if alternative.topic == classification.topic:
                continue
            if alternative.confidence < self.copy_topic_confidence:
                continue
            choice = rules.primary_for(alternative.topic, municipality)
            if choice is not None and choice.executor.code not in seen:
                seen.add(choice.executor.code)
                copies.append(choice)

        registered = appeal.registered_at
        critical = classification.urgency is Urgency.CRITICAL
        channel = appeal.channel.value
        answer_by, answer_term = self._answer(decision.primary, registered, channel, critical)
        assignments = [
            self._assignment(event, AssignmentRole.PRIMARY, decision.primary, answer_by),
            *(
                self._assignment(
                    event,
                    AssignmentRole.COPY,
                    choice,
                    self._answer(choice, registered, channel, critical)[0],
                )
                for choice in copies
            ),
        ]
        redirected = decision.executor.code != self.receiving_body.code
        redirect_by = self.terms.redirect.end(registered, self.tz)
        territory = (
            Territory(code=municipality.code, name=municipality.name, resolved=True)
            if municipality
            else Territory(code=appeal.region_code, name=self.region_name, resolved=False)
        )
        return AppealRoutedV1(
            appeal_id=event.appeal_id,
            appeal=appeal,
            topic=classification.topic,
            urgency=classification.urgency,
            territory=territory,
            executor=decision.executor,
            redirected=redirected,
            deadlines=Deadlines(
                register_by=self.terms.register.end(registered, self.tz),
                redirect_by=redirect_by,
                answer_by=answer_by,
                answer_basis=answer_term.label,
            ),
            rule_id=decision.rule_id,
            assignments=tuple(assignments),
            redirect_notice_by=redirect_by if redirected else None,
            flags=tuple(dict.fromkeys((*resolution.flags, *decision.flags))),
            rules_version=rules.version,
        )

    def _answer(
        self, choice: Choice, registered: datetime, channel: str, critical: bool
    ) -> tuple[datetime, Term]:
        override = choice.rule.spec.answer
        if override is not None:
            unit = next(u for u in TermUnit if getattr(override, u.value) is not None)
            term = Term(getattr(override, unit.value), unit, override.basis)
            return term.end(registered, self.tz), term
        return self.terms.answer(
            registered, topic=choice.rule.topic, channel=channel, critical=critical, tz=self.tz
        )

    def _assignment(
        self,
        event: AppealClassifiedV1,
        role: AssignmentRole,
        choice: Choice,
        answer_by: datetime,
    ) -> Assignment:
        spec = choice.rule.spec
        supervisor = (
            Executor(
                code=spec.supervisor.body or f"{spec.id}:supervisor",
                organisation=spec.supervisor.organisation or "",
                department=spec.supervisor.department,
                level=ExecutorLevel.REGIONAL,
                contact_email=spec.supervisor.contact_email,
            )
            if spec.supervisor is not None
            else self.receiving_body
        )
        return Assignment(
            assignment_id=f"{event.appeal_id}:{choice.executor.code}",
            role=role,
            executor=choice.executor,
            # The receiving body keeps redirected appeals under control and gets escalations.
            supervisor=None if supervisor.code == choice.executor.code else supervisor,
            answer_by=answer_by,
            rule_id=spec.id,
        )


def body_executor(region: dict[str, Any], code: str) -> Executor:
    """A regional or federal body of the region file as an executor (e.g. the receiving one)."""
    for body in region.get("regional_bodies") or []:
        if body["code"] == code:
            return Executor(
                code=code,
                organisation=body["name"],
                department=body.get("department"),
                level=ExecutorLevel(body.get("level", "regional")),
                contact_email=body.get("contact_email"),
            )
    raise ValueError(f"receiving body {code!r} is not among the region's bodies")
