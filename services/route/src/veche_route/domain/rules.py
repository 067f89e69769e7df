"""Competence rules as data: topic × territory (or any) × level → executor, priority, fallbacks.

Selection (the same semantics as ``resolution:`` in the rules file):

* candidates: rules of the appeal's topic whose territory is the appeal's municipality or ``*``
  and whose ``when_subtopic`` (if any) meets one of the appeal's subtopics;
* primary: the non-copy, non-fallback candidate with the highest priority whose executor
  resolves (a municipal template needs a known municipality with that department); then the
  topic's fallback rules by priority; then the book's last resort (territory unresolved);
* copies: every candidate marked ``copy`` that resolves to a body other than the primary's —
  59-ФЗ ст. 8 ч. 3: an appeal about several bodies' competence goes to each of them.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator
from veche_shared.events import EmailAddress, Executor, ExecutorLevel

from .territory import Municipality

RULE_ID = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,99}$")


class ExecutorSpec(BaseModel):
    """Either a named body or a municipal template (``from_municipality: <department key>``)."""

    model_config = ConfigDict(extra="forbid")

    body: str | None = Field(default=None, max_length=100)
    organisation: str | None = Field(default=None, min_length=1, max_length=300)
    department: str | None = Field(default=None, max_length=300)
    contact_email: EmailAddress | None = None
    from_municipality: str | None = Field(default=None, max_length=50)

    @model_validator(mode="after")
    def _named_or_template(self) -> ExecutorSpec:
        if (self.organisation is None) == (self.from_municipality is None):
            raise ValueError("executor needs exactly one of 'organisation' or 'from_municipality'")
        return self


class AnswerTermSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    days: int | None = Field(default=None, ge=1, le=60)
    working_days: int | None = Field(default=None, ge=1, le=60)
    hours: int | None = Field(default=None, ge=1, le=24 * 30)
    basis: str = Field(default="", max_length=300)

    @model_validator(mode="after")
    def _one_unit(self) -> AnswerTermSpec:
        if sum(v is not None for v in (self.days, self.working_days, self.hours)) != 1:
            raise ValueError("answer term needs exactly one of days, working_days, hours")
        return self


class RuleSpec(BaseModel):
    """One rule as stored, seeded and sent to the admin API (validated)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    id: str = Field(pattern=RULE_ID.pattern)
    topic: str = Field(min_length=1, max_length=50)
    territory: str = Field(default="*", min_length=1, max_length=50)
    level: ExecutorLevel
    executor: ExecutorSpec
    priority: int = Field(default=100, ge=0, le=1000)
    copy_: bool = Field(default=False, alias="copy")
    fallback: bool = False
    when_subtopic: tuple[str, ...] = ()
    flags: tuple[str, ...] = ()
    supervisor: ExecutorSpec | None = None
    answer: AnswerTermSpec | None = Field(default=None, description="overrides the topic's term")
    note: str | None = Field(default=None, max_length=1000)

    @model_validator(mode="after")
    def _consistent(self) -> RuleSpec:
        if self.copy_ and self.fallback:
            raise ValueError("a rule is either a copy or a fallback, not both")
        if self.fallback and self.executor.from_municipality is not None:
            raise ValueError("a fallback must name a body: it applies with no municipality")
        if self.supervisor is not None and self.supervisor.from_municipality is not None:
            raise ValueError("a supervisor must name a body")
        return self

    def data(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


@dataclass(frozen=True, slots=True)
class Catalog:
    """What a rule may refer to: the taxonomy's topics, the region's municipalities and
    department keys (checked by the admin API, so a typo is a 422, not a silent no-match)."""

    topics: Collection[str]
    territories: Collection[str]
    department_keys: Collection[str]

    def problems(self, spec: RuleSpec) -> list[str]:
        reasons: list[str] = []
        if spec.topic not in self.topics:
            reasons.append(f"topic: unknown topic {spec.topic!r}")
        if spec.territory != "*" and spec.territory not in self.territories:
            reasons.append(f"territory: unknown municipality {spec.territory!r} (or '*')")
        key = spec.executor.from_municipality
        if key is not None and key not in self.department_keys:
            reasons.append(f"executor.from_municipality: unknown department key {key!r}")
        if key is not None and spec.level is not ExecutorLevel.MUNICIPAL:
            reasons.append("level: a municipal template must have level 'municipal'")
        return reasons


def named_executor(spec: ExecutorSpec, level: ExecutorLevel, default_code: str) -> Executor:
    assert spec.organisation is not None  # checked by ExecutorSpec
    return Executor(
        code=spec.body or default_code,
        organisation=spec.organisation,
        department=spec.department,
        level=level,
        contact_email=spec.contact_email,
    )


@dataclass(frozen=True, slots=True)
class Rule:
    spec: RuleSpec

    @property
    def id(self) -> str:
        return self.spec.id

    @property
    def topic(self) -> str:
        return self.spec.topic

    @classmethod
    def from_data(cls, data: Mapping[str, Any], *, topic: str = "*") -> Rule:
        return cls(RuleSpec.model_validate({"topic": topic, **data}))

    def applies(self, topic: str, territory: str | None, subtopics: Collection[str]) -> bool:
        spec = self.spec
        if spec.topic != topic or spec.territory not in {"*", territory}:
            return False
        return not spec.when_subtopic or any(s in subtopics for s in spec.when_subtopic)

    def resolve(self, municipality: Municipality | None) -> Executor | None:
        """The concrete executor, or None when a municipal template has no municipality."""
        spec = self.spec.executor
        key = spec.from_municipality
        if key is None:
            return named_executor(spec, self.spec.level, self.id)
        if municipality is None or key not in municipality.departments:
            return None
        return Executor(
            code=f"{municipality.code}:{key}",
            organisation=municipality.administration,
            department=municipality.departments[key],
            level=self.spec.level,
            contact_email=municipality.department_email(key),
        )


@dataclass(frozen=True, slots=True)
class Choice:
    rule: Rule
    executor: Executor


@dataclass(frozen=True, slots=True)
class Decision:
    primary: Choice
    copies: tuple[Choice, ...] = ()
    flags: tuple[str, ...] = ()

    @property
    def rule_id(self) -> str:
        return self.primary.rule.id

    @property
    def executor(self) -> Executor:
        return self.primary.executor


@dataclass(frozen=True, slots=True)
class RuleBook:
    rules: tuple[Rule, ...]
    last_resort: Rule
    version: int = 1

    @classmethod
    def from_data(cls, data: Mapping[str, Any], version: int | None = None) -> RuleBook:
        return cls.from_specs(
            [RuleSpec.model_validate(r) for r in data["rules"]],
            RuleSpec.model_validate({"topic": "*", **data["fallback"]}),
            version if version is not None else int(data.get("version", 1)),
        )

    @classmethod
    def from_specs(cls, specs: Iterable[RuleSpec], last_resort: RuleSpec, version: int) -> RuleBook:
        return cls(tuple(Rule(s) for s in specs), Rule(last_resort), version)

    def decide(
        self, topic: str, municipality: Municipality | None, subtopics: Collection[str] = ()
    ) -> Decision:
        territory = municipality.code if municipality else None
        candidates = [r for r in self.rules if r.applies(topic, territory, subtopics)]
        primary = self._primary(candidates, municipality)
        # The last resort's own flags describe why it is used; territory is flagged by the caller.
        last_resort = primary.rule is self.last_resort
        flags = ("needs_manual_routing",) if last_resort else tuple(primary.rule.spec.flags)
        copies: list[Choice] = []
        seen = {primary.executor.code}
        for rule in sorted((r for r in candidates if r.spec.copy_), key=_by_priority):
            executor = rule.resolve(municipality)
            if executor is not None and executor.code not in seen:
                seen.add(executor.code)
                copies.append(Choice(rule, executor))
        return Decision(primary, tuple(copies), tuple(dict.fromkeys(flags)))

    def primary_for(
        self, topic: str, municipality: Municipality | None, subtopics: Collection[str] = ()
    ) -> Choice | None:
        """The topic's own primary body, or None when only the last resort would take it."""
        territory = municipality.code if municipality else None
        candidates = [r for r in self.rules if r.applies(topic, territory, subtopics)]
        choice = self._primary(candidates, municipality)
        return None if choice.rule is self.last_resort else choice

    def _primary(self, candidates: list[Rule], municipality: Municipality | None) -> Choice:
        ordinary = sorted(
            (r for r in candidates if not r.spec.copy_ and not r.spec.fallback), key=_by_priority
        )
        fallbacks = sorted((r for r in candidates if r.spec.fallback), key=_by_priority)
        for rule in (*ordinary, *fallbacks):
            executor = rule.resolve(municipality)
            if executor is not None:
                return Choice(rule, executor)
        executor = self.last_resort.resolve(None)
        assert executor is not None  # the last resort names a body, never a template
        return Choice(self.last_resort, executor)


def _by_priority(rule: Rule) -> tuple[int, bool, str]:
    # Higher priority first; at equal priority a territorial rule beats "*"; then by id, so
    # the choice never depends on storage order.
    return (-rule.spec.priority, rule.spec.territory == "*", rule.spec.id)
