"""The SLA watcher: due-soon and overdue notices on appeals.deadline.v1, once each.

Every replica runs it. A notice is an insert keyed by (assignment, term, kind, due time): only
the replica whose insert succeeded publishes it, then marks it published. A notice recorded but
not confirmed (the process died in between, Kafka was down) is re-published after a grace
period, with the event id stored the first time. Replicas claim each re-send per grace window
(an insert), so one of them sends it; should the first send have reached Kafka after all, the
double is the same event and notify deduplicates it.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from opentelemetry import trace
from veche_shared.background import Periodic
from veche_shared.events import (
    AppealDeadlineV1,
    DeadlineKind,
    Executor,
    utc_now,
)

from .domain.deadlines import (
    extended_due,
    look_outcome,
    notice_key,
    watch_key,
)
from .storage import RouteStore

log = logging.getLogger(__name__)
tracer = trace.get_tracer("veche.route.watcher")

Publish = Callable[[AppealDeadlineV1], Awaitable[None]]


class AssignmentNotFoundError(Exception):
    pass


class AlreadyExtendedError(Exception):
    pass


@dataclass(frozen=True, slots=True)
class WatchOutcome:
    emitted: int
    republished: int


@dataclass(slots=True)
class DeadlineWatcher:
    store: RouteStore
    publish: Publish
    horizon: timedelta
    interval: float
    republish_after: timedelta
    extension_max_days: int = 30
    batch: int = 200
    backfilled: bool = False

    async def tick(self, now: datetime | None = None) -> WatchOutcome:
        """Look at the terms whose look is due (the watch queue, read by ``_id``): record and
        publish the notices they call for, queue each term's next look, drop the looks done.
        The done looks go last, so a crash repeats a look (the notice keys make that harmless)
        rather than losing one; two replicas taking the same look publish its notice once."""
        now = now or utc_now()
        with tracer.start_as_current_span("route deadline watch") as span:
            looks = await self.store.due_looks(now, self.batch)
            assignments = await self.store.assignments_by_id(
                [look["assignment_id"] for look in looks]
            )
            answered = await self.store.answered({look["appeal_id"] for look in looks})
            # by notice key: two looks at one term in a tick (a stale look re-queued the term,
            # a backfilled look) must not record one notice twice in a batch, where the second
            # insert's duplicate would hide the first from its publisher
            due: dict[str, tuple[dict[str, Any], DeadlineKind]] = {}
            later: list[tuple[dict[str, Any], datetime]] = []
            for look in looks:
                doc = assignments.get(look["assignment_id"])
                if doc is None:  # cannot happen: a look is queued after its assignment
                    continue
                kind, when = look_outcome(
                    look["due_at"],
                    doc["start"],
                    doc["due_at"],
                    doc["appeal_id"] in answered,
                    now,
                    self.horizon,
                )
                if when is not None:
                    later.append((doc, when))
                if kind is None:
                    continue
                due[notice_key(doc["_id"], "answer", kind, doc["due_at"])] = (doc, kind)
            known = {d["_id"] for d in await self.store.notices_by_key(list(due))}
            notices: list[tuple[str, AppealDeadlineV1]] = []
            for key, (doc, kind) in due.items():
                if key not in known and (event := await self._event(doc, kind, doc["due_at"])):
                    notices.append((key, event))
            emitted = await self._record_and_publish(notices)
            await self.store.add_looks(later)
            queued = {watch_key(when, doc["_id"]) for doc, when in later}
            await self.store.drop_looks(
                [look["_id"] for look in looks if look["_id"] not in queued]
            )
            republished = await self.republish(now)
            span.set_attribute("veche.deadline.looks", len(looks))
            span.set_attribute("veche.deadline.emitted", emitted)
            return WatchOutcome(emitted, republished)

    async def extend(self, assignment_id: str, days: int, reason: str, actor: str) -> datetime:
        """The single extension of an answer term; the citizen is told (notify, EXTENDED)."""
        doc = await self.store.assignment(assignment_id)
        if doc is None:
            raise AssignmentNotFoundError(assignment_id)
        new_due = extended_due(doc["due_at"], days, self.extension_max_days)
        claimed = await self.store.claim_extension(
            {
                "_id": assignment_id,
                "days": days,
                "reason": reason,
                "actor": actor,
                "at": utc_now(),
                "before": doc["due_at"],
                "after": new_due,
            }
        )
        if not claimed:
            raise AlreadyExtendedError(assignment_id)
        await self.store.extend_assignment(doc, new_due)
        event = await self._event(doc, DeadlineKind.EXTENDED, new_due)
        if event is not None:
            key = notice_key(assignment_id, "answer", DeadlineKind.EXTENDED, new_due)
            await self._record_and_publish([(key, event)])
        return new_due

    async def republish(self, now: datetime) -> int:
        """Send notices recorded but never confirmed. Replicas claim each one per grace window
        (an insert), so one replica re-sends it, once per window until it is confirmed."""
        stale = await self.store.unpublished_notices(now - self.republish_after, self.batch)
        window = int(now.timestamp() // max(self.republish_after.total_seconds(), 1e-3))
        claimed = await self.store.claim_republish([doc["_id"] for doc in stale], window)
        mine = [
            (doc["_id"], AppealDeadlineV1.from_stored(doc["event"]))
            for doc in stale
            if doc["_id"] in claimed
        ]
        await self._publish_notices(mine)
        return len(mine)

    async def _record_and_publish(self, notices: Sequence[tuple[str, AppealDeadlineV1]]) -> int:
        inserted = set(await self.store.record_notices(notices))
        await self._publish_notices([(key, event) for key, event in notices if key in inserted])
        return len(inserted)

    async def _publish_notices(self, notices: Sequence[tuple[str, AppealDeadlineV1]]) -> None:
        """Publish each notice, then mark the ones the broker took (the rest stay for
        :meth:`republish`)."""
        published: list[str] = []
        try:
            for key, event in notices:
                await self.publish(event)
                published.append(key)
        finally:
            await self.store.mark_published(published)

    async def _event(
        self, doc: dict[str, Any], kind: DeadlineKind, due_at: datetime
    ) -> AppealDeadlineV1 | None:
        routed = await self.store.routed_event(doc["routing_id"])
        if routed is None:  # cannot happen: assignments are written after their routing
            log.warning("assignment without routing", extra={"assignment": doc["_id"]})
            return None
        supervisor = doc.get("supervisor")
        return AppealDeadlineV1(
            appeal_id=routed.appeal_id,
            appeal=routed.appeal,
            assignment_id=doc["_id"],
            kind=kind,
            term=doc.get("term", "answer"),
            due_at=due_at,
            executor=Executor.model_validate(doc["executor"]),
            supervisor=Executor.model_validate(supervisor) if supervisor else None,
        )

    def periodic(self) -> Periodic:
        """The watch as a background task of the service (start/stop with the app)."""
        return Periodic("deadline-watcher", self.interval, self._tick_and_log)

    async def backfill(self) -> int:
        """Queue looks for assignments stored before the watch queue existed (once per
        database: a marker in ``migrations``; repeating it is harmless)."""
        if await self.store.backfill_done():
            return 0
        with tracer.start_as_current_span("route deadline watch backfill") as span:
            seen = await self.store.backfill_looks()
            span.set_attribute("veche.deadline.backfilled", seen)
            log.info("deadline watch backfilled", extra={"assignments": seen})
            return seen

    async def _tick_and_log(self) -> None:
        if not self.backfilled:  # in the first tick, not at start-up: it may read a while
            await self.backfill()
            self.backfilled = True
        outcome = await self.tick()
        if outcome.emitted or outcome.republished:
            log.info(
                "deadline notices",
                extra={"emitted": outcome.emitted, "republished": outcome.republished},
            )
