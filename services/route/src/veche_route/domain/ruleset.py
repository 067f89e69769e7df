"""The competence rules as a change log: every create, update and delete is one immutable entry.

An entry's number is the rule book's version (global, gap-free in practice) and it carries the
rule's own revision, so the current state is a fold of the log. The store makes both numbers
unique; that is what turns a concurrent edit into a conflict instead of a lost update.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from .rules import RuleBook, RuleSpec


class Operation(StrEnum):
    SEED = "seed"
    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"


@dataclass(frozen=True, slots=True)
class Change:
    version: int  # position in the log = the rule book's version after it
    rule_id: str
    revision: int  # the rule's own version: what If-Match names
    operation: Operation
    before: dict[str, Any] | None
    after: dict[str, Any] | None  # None: the rule is deleted
    actor: str
    at: datetime

    def document(self) -> dict[str, Any]:
        return {
            "_id": self.version,
            "rule_id": self.rule_id,
            "revision": self.revision,
            "operation": self.operation.value,
            "before": self.before,
            "after": self.after,
            "actor": self.actor,
            "at": self.at,
        }

    @classmethod
    def from_document(cls, doc: Mapping[str, Any]) -> Change:
        return cls(
            version=int(doc["_id"]),
            rule_id=str(doc["rule_id"]),
            revision=int(doc["revision"]),
            operation=Operation(doc["operation"]),
            before=doc.get("before"),
            after=doc.get("after"),
            actor=str(doc["actor"]),
            at=doc["at"],
        )


@dataclass(frozen=True, slots=True)
class CurrentRule:
    revision: int
    spec: RuleSpec | None  # None: deleted (its id may be created again)


@dataclass(slots=True)
class RuleState:
    last_resort: RuleSpec
    rules: dict[str, CurrentRule] = field(default_factory=dict)
    version: int = 0
    _book: RuleBook | None = None

    def apply(self, changes: Iterable[Change]) -> bool:
        """Fold newer entries in (older or repeated ones are ignored); True if anything moved."""
        moved = False
        for change in sorted(changes, key=lambda c: c.version):
            if change.version <= self.version:
                continue
            spec = RuleSpec.model_validate(change.after) if change.after is not None else None
            self.rules[change.rule_id] = CurrentRule(change.revision, spec)
            self.version = change.version
            moved = True
        if moved:
            self._book = None
        return moved

    def current(self, rule_id: str) -> CurrentRule | None:
        return self.rules.get(rule_id)

    def live(self) -> list[tuple[int, RuleSpec]]:
        return [
            (rule.revision, rule.spec)
            for _, rule in sorted(self.rules.items())
            if rule.spec is not None
        ]

    @property
    def book(self) -> RuleBook:
        if self._book is None:
            specs = [spec for _, spec in self.live()]
            self._book = RuleBook.from_specs(specs, self.last_resort, self.version)
        return self._book


def seed_changes(specs: Iterable[RuleSpec], actor: str, at: datetime) -> list[Change]:
    """The first entries of an empty log: every rule of the seed file at revision 1."""
    return [
        Change(number, spec.id, 1, Operation.SEED, None, spec.data(), actor, at)
        for number, spec in enumerate(specs, start=1)
    ]
