"""The live rule book of one replica and the admin operations on the shared change log.

Propagation: every replica folds the log from the store. Before each consumed batch the
handler calls :meth:`RuleSource.refresh`, which looks up the marker of the next log number by
its ``_id`` and reads the log only when it exists, so a change acknowledged by the admin API
applies to the next appeal any replica routes, with no background delay and no extra topic.
(Reading the log itself per batch — a range on numeric ``_id`` — cost the local store 12 ms
at 54 entries, 10 % of a core at 50 appeals/s.) A marker lost to a crash between the change and
its marker is covered by a full read every ``reread_s`` (``VECHE_RULES_REREAD_S``).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from veche_shared.events import utc_now

from .domain.rules import Catalog, RuleBook, RuleSpec
from .domain.ruleset import Change, CurrentRule, Operation, RuleState, seed_changes
from .storage import RevisionConflictError, RouteStore


class RuleNotFoundError(Exception):
    pass


class RuleExistsError(Exception):
    pass


class StaleRevisionError(Exception):
    def __init__(self, current: int) -> None:
        super().__init__(f"the rule is at revision {current}")
        self.current = current


class InvalidRuleError(Exception):
    def __init__(self, reasons: Sequence[str]) -> None:
        super().__init__("; ".join(reasons))
        self.reasons = list(reasons)


@dataclass(slots=True)
class RuleSource:
    store: RouteStore
    state: RuleState
    catalog: Catalog
    seed: tuple[RuleSpec, ...] = ()
    seed_actor: str = "seed"
    reread_s: float = 10.0
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock, init=False)
    _read_at: float = field(default=float("-inf"), init=False)

    @property
    def book(self) -> RuleBook:
        return self.state.book

    async def start(self) -> None:
        """Seed an empty log from the rules file, then load everything."""
        await self.store.seed(seed_changes(self.seed, self.seed_actor, utc_now()))
        await self.refresh()

    async def refresh(self) -> RuleBook:
        async with self._lock:  # one query at a time; the others reuse its result
            stale = time.monotonic() - self._read_at >= self.reread_s
            if stale or await self.store.has_change(self.state.version + 1):
                self._read_at = time.monotonic()
                self.state.apply(await self.store.changes_after(self.state.version))
        return self.state.book

    async def current(self, rule_id: str) -> CurrentRule:
        await self.refresh()
        found = self.state.current(rule_id)
        if found is None or found.spec is None:
            raise RuleNotFoundError(rule_id)
        return found

    async def create(self, spec: RuleSpec, actor: str) -> Change:
        self._validate(spec)
        latest = await self.store.latest_change(spec.id)
        if latest is not None and latest.after is not None:
            raise RuleExistsError(spec.id)
        revision = latest.revision + 1 if latest else 1
        return await self._append(spec.id, revision, Operation.CREATE, None, spec.data(), actor)

    async def update(self, spec: RuleSpec, expected: int, actor: str) -> Change:
        self._validate(spec)
        latest = await self._live(spec.id, expected)
        return await self._append(
            spec.id, latest.revision + 1, Operation.UPDATE, latest.after, spec.data(), actor
        )

    async def delete(self, rule_id: str, expected: int, actor: str) -> Change:
        latest = await self._live(rule_id, expected)
        return await self._append(
            rule_id, latest.revision + 1, Operation.DELETE, latest.after, None, actor
        )

    async def _live(self, rule_id: str, expected: int) -> Change:
        latest = await self.store.latest_change(rule_id)
        if latest is None or latest.after is None:
            raise RuleNotFoundError(rule_id)
        if latest.revision != expected:
            raise StaleRevisionError(latest.revision)
        return latest

    async def _append(
        self,
        rule_id: str,
        revision: int,
        operation: Operation,
        before: dict[str, object] | None,
        after: dict[str, object] | None,
        actor: str,
    ) -> Change:
        change = Change(0, rule_id, revision, operation, before, after, actor, utc_now())
        try:
            stored = await self.store.append_change(change)
        except RevisionConflictError:
            latest = await self.store.latest_change(rule_id)
            raise StaleRevisionError(latest.revision if latest else 0) from None
        await self.refresh()
        return stored

    def _validate(self, spec: RuleSpec) -> None:
        if reasons := self.catalog.problems(spec):
            raise InvalidRuleError(reasons)
