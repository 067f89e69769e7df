"""Competence rules as data: topic x territory x level -> executor, with priority and fallbacks."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from veche_shared.events import Executor, ExecutorLevel

from .territory import Municipality


@dataclass(frozen=True, slots=True)
class Rule:
    id: str
    topic: str
    territory: str
    level: ExecutorLevel
    executor: dict[str, Any]
    priority: int
    copy: bool = False
    fallback: bool = False
    when_subtopic: tuple[str, ...] = ()

    @classmethod
    def from_data(cls, data: dict[str, Any], *, topic: str = "*") -> Rule:
        return cls(
            id=data["id"],
            topic=data.get("topic", topic),
            territory=str(data.get("territory", "*")),
            level=ExecutorLevel(data["level"]),
            executor=dict(data["executor"]),
            priority=int(data.get("priority", 0)),
            copy=bool(data.get("copy", False)),
            fallback=bool(data.get("fallback", False)),
            when_subtopic=tuple(data.get("when_subtopic") or ()),
        )

    def applies(self, topic: str, territory: str | None) -> bool:
        # Subtopics are not produced by the classifier yet: such rules wait for it.
        return self.topic == topic and self.territory in {"*", territory} and not self.when_subtopic

    def resolve(self, municipality: Municipality | None) -> Executor | None:
        """The concrete executor, or None when a municipal template has no municipality."""
        spec = self.executor
        key = spec.get("from_municipality")
        if key is None:
            return Executor(
                code=spec.get("body") or self.id,
                organisation=spec["organisation"],
                department=spec.get("department"),
                level=self.level,
                contact_email=spec.get("contact_email"),
            )
        if municipality is None or key not in municipality.departments:
            return None
        return Executor(
            code=f"{municipality.code}:{key}",
            organisation=municipality.administration,
            department=municipality.departments[key],
            level=self.level,
            contact_email=municipality.department_email(key),
        )


@dataclass(frozen=True, slots=True)
class Decision:
    rule_id: str
    executor: Executor
    flags: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class RuleBook:
    rules: tuple[Rule, ...]
    last_resort: Rule
    version: int = 1

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> RuleBook:
        return cls(
            rules=tuple(Rule.from_data(r) for r in data["rules"]),
            last_resort=Rule.from_data(data["fallback"]),
            version=int(data.get("version", data.get("schema_version", 1))),
        )

    def decide(self, topic: str, municipality: Municipality | None) -> Decision:
        territory = municipality.code if municipality else None
        candidates = [r for r in self.rules if r.applies(topic, territory) and not r.copy]
        ordered = sorted(
            candidates,
            key=lambda r: (r.fallback, r.territory == "*", -r.priority),
        )
        for rule in ordered:
            executor = rule.resolve(municipality)
            if executor is not None:
                flags = ("territory_unresolved",) if municipality is None else ()
                return Decision(rule.id, executor, flags)
        executor = self.last_resort.resolve(None)
        assert executor is not None  # the last resort names a body, never a template
        return Decision(
            self.last_resort.id, executor, ("territory_unresolved", "needs_manual_routing")
        )
