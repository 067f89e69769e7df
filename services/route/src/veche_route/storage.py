"""Route's documents, insert-mostly, each keyed by its natural idempotency key (``_id``):

* ``routings`` — one routing decision per incoming classified event (its event id);
* ``assignments`` — one per body an appeal went to (``<appeal id>:<executor code>``), what the
  SLA watcher reads;
* ``rule_changes`` — the competence rules' change log (``_id`` = rule book version, unique
  ``(rule_id, revision)``): the audit trail and the source every replica folds its rules from;
* ``rule_markers`` — one empty document per log number after the seed (``_id`` = the number,
  zero-padded text): a replica checks for the next change by ``_id`` before reading the log;
* ``deadline_notices`` — one per assignment, term, kind and due time: the watcher emits an
  event only for the notice it inserted, so replicas and restarts never double it;
* ``extensions`` — the single 59-ФЗ extension per assignment (``_id`` = assignment id);
* ``answers`` — appeals closed by an answer (``_id`` = appeal id): the watcher drops their looks
  (checked by ``_id``), no look is queued when the answer overtakes the routing; an answer
  updates no assignment (by appeal id that scanned them all on FerretDB);
* ``deadline_watch`` — the watcher's queue: one small entry per open term and the moment to look
  at it next (``_id`` = ``<UTC time>|<assignment id>``, so the due entries are one ``_id``
  range). A query on ``assignments`` by due time reads every assignment ever stored on a
  server that indexes only ``_id`` (FerretDB: 3.4 s of store CPU per tick at 7 000), and it
  kept returning the same first due-soon terms, starving the rest; the queue is read by
  ``_id``, entries are inserted and deleted, never updated;
* ``migrations`` — one-off steps done once per database (``deadline_watch:backfill``: the looks
  of assignments stored before the queue).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from pymongo import ASCENDING, DESCENDING, AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError
from veche_shared.events import AppealDeadlineV1, AppealRoutedV1
from veche_shared.mongo import Document, chunks, insert_new, record_events_once

from .domain.deadlines import due_keys_until, first_look, watch_key
from .domain.ruleset import Change

MAX_CLAIM_ATTEMPTS = 20
WATCH_BACKFILL = "deadline_watch:backfill"  # done once per database (``migrations``)


class RevisionConflictError(Exception):
    """Someone else changed the rule first (its revision is taken)."""


def marker_id(version: int) -> str:
    return f"{version:012d}"


class RouteStore:
    def __init__(self, client: AsyncMongoClient[Document], database: str) -> None:
        self.db: AsyncDatabase[Document] = client[database]
        self.routings = self.db["routings"]
        self.assignments = self.db["assignments"]
        self.rule_changes = self.db["rule_changes"]
        self.notices = self.db["deadline_notices"]
        self.extensions = self.db["extensions"]
        self.answers = self.db["answers"]
        self.republish_claims = self.db["notice_republish_claims"]
        self.watch = self.db["deadline_watch"]
        self.rule_markers = self.db["rule_markers"]
        self.migrations = self.db["migrations"]

    async def create_indexes(self) -> None:
        await self.routings.create_index([("appeal_id", ASCENDING)])
        await self.assignments.create_index([("appeal_id", ASCENDING)])
        await self.rule_changes.create_index(
            [("rule_id", ASCENDING), ("revision", ASCENDING)], unique=True
        )
        await self.notices.create_index([("published", ASCENDING), ("at", ASCENDING)])

    # -- routing decisions -------------------------------------------------------------------

    async def record(self, decisions: Sequence[tuple[str, AppealRoutedV1]]) -> list[AppealRoutedV1]:
        """Store each decision once; return the events as first recorded (for republishing)."""
        documents = [
            {
                "_id": source_event_id,
                "appeal_id": str(event.appeal_id),
                "topic": event.topic,
                "territory": event.territory.code,
                "executor": event.executor.code,
                "rule_id": event.rule_id,
                "rules_version": event.rules_version,
                "answer_by": event.deadlines.answer_by,
                "at": event.occurred_at,
                "event": event.stored(),
            }
            for source_event_id, event in decisions
        ]
        return await record_events_once(self.routings, documents, [event for _, event in decisions])

    async def record_assignments(self, routed: Sequence[tuple[str, AppealRoutedV1]]) -> None:
        """One document per body of each recorded decision (a redelivery finds them there), and
        the first watch entry of each term.

        An appeal answered before it was routed (a redelivery) still gets its looks: the
        watcher checks ``answers`` when a look comes due and drops it then. Checking here too
        cost a store round trip per batch for what is rare and already handled."""
        documents: list[Document] = [
            {
                "_id": assignment.assignment_id,
                "appeal_id": str(event.appeal_id),
                "routing_id": routing_id,
                "role": assignment.role.value,
                "executor": assignment.executor.model_dump(mode="json", exclude_none=True),
                "supervisor": assignment.supervisor.model_dump(mode="json", exclude_none=True)
                if assignment.supervisor
                else None,
                "rule_id": assignment.rule_id,
                "term": "answer",
                "start": event.appeal.registered_at,
                "due_at": assignment.answer_by,
                "extended": False,
            }
            for routing_id, event in routed
            for assignment in event.assignments
        ]
        await insert_new(self.assignments, documents)
        # after the assignments: a redelivered batch (the process died in between) adds the
        # looks it missed, and a look never precedes its assignment
        await self.add_looks([(d, first_look(d["start"], d["due_at"])) for d in documents])

    async def close_appeals(self, answers: Sequence[tuple[str, datetime]]) -> None:
        """An answer closes the appeal (59-ФЗ ст. 10): the watcher drops the looks of every
        body's term when it reaches them (it checks ``answers`` by ``_id``). No update of
        ``assignments`` by appeal id: on FerretDB that scanned every assignment."""
        await insert_new(
            self.answers, [{"_id": appeal_id, "answered_at": at} for appeal_id, at in answers]
        )

    async def answered(self, appeal_ids: set[str]) -> set[str]:
        cursor = self.answers.find({"_id": {"$in": list(appeal_ids)}}, {"_id": 1})
        return {doc["_id"] async for doc in cursor}

    async def routed_event(self, routing_id: str) -> AppealRoutedV1 | None:
        doc = await self.routings.find_one({"_id": routing_id}, {"event": 1})
        return AppealRoutedV1.from_stored(doc["event"]) if doc else None

    async def appeal_assignments(self, appeal_id: str) -> list[Document]:
        return [doc async for doc in self.assignments.find({"appeal_id": appeal_id}).sort("_id")]

    async def assignment(self, assignment_id: str) -> Document | None:
        return await self.assignments.find_one({"_id": assignment_id})

    # -- competence rules --------------------------------------------------------------------

    async def changes_after(self, version: int) -> list[Change]:
        cursor = self.rule_changes.find({"_id": {"$gt": version}}).sort("_id", ASCENDING)
        return [Change.from_document(doc) async for doc in cursor]

    async def has_change(self, version: int) -> bool:
        """Whether log entry ``version`` is known, by its marker (an ``_id`` lookup)."""
        found = await self.rule_markers.find_one({"_id": marker_id(version)}, {"_id": 1})
        return found is not None

    async def seed(self, changes: Sequence[Change]) -> None:
        """Insert the seed entries unless the log has any (replicas seeding at once agree: the
        same file gives the same entries, duplicates are ignored)."""
        if await self.rule_changes.find_one({}, {"_id": 1}) is None:
            await insert_new(self.rule_changes, [c.document() for c in changes])

    async def latest_change(self, rule_id: str) -> Change | None:
        doc = await self.rule_changes.find_one(
            {"rule_id": rule_id}, sort=[("revision", DESCENDING)]
        )
        return Change.from_document(doc) if doc else None

    async def append_change(self, change: Change) -> Change:
        """Claim the next log number for a change whose revision is already decided.

        The unique ``(rule_id, revision)`` index makes a concurrent edit of the same rule fail
        (:class:`RevisionConflictError`); a clash on the log number only means another rule changed
        at the same moment, so the next number is tried.
        """
        for _ in range(MAX_CLAIM_ATTEMPTS):
            last = await self.rule_changes.find_one({}, {"_id": 1}, sort=[("_id", DESCENDING)])
            number = (int(last["_id"]) if last else 0) + 1
            document = change.document() | {"_id": number}
            try:
                await self.rule_changes.insert_one(document)
                await insert_new(self.rule_markers, [{"_id": marker_id(number)}])
            except DuplicateKeyError:
                taken = await self.rule_changes.find_one(
                    {"rule_id": change.rule_id, "revision": change.revision}, {"_id": 1}
                )
                if taken is not None:
                    raise RevisionConflictError(change.rule_id) from None
                continue
            return Change.from_document(document)
        raise RevisionConflictError(change.rule_id)

    async def audit(self, rule_id: str | None, limit: int) -> list[Document]:
        query = {"rule_id": rule_id} if rule_id else {}
        cursor = self.rule_changes.find(query).sort("_id", DESCENDING).limit(limit)
        return [doc async for doc in cursor]

    # -- deadlines ---------------------------------------------------------------------------

    async def due_looks(self, now: datetime, limit: int) -> list[Document]:
        """The watch entries due at ``now``, earliest first (an ``_id`` range)."""
        cursor = self.watch.find({"_id": {"$lte": due_keys_until(now)}}).sort("_id").limit(limit)
        return [doc async for doc in cursor]

    async def add_looks(self, looks: Sequence[tuple[Document, datetime]]) -> None:
        """Queue a look at each assignment's term (idempotent: the key is the look itself)."""
        await insert_new(
            self.watch,
            [
                {
                    "_id": watch_key(when, doc["_id"]),
                    "assignment_id": doc["_id"],
                    "appeal_id": doc["appeal_id"],
                    "due_at": doc["due_at"],
                }
                for doc, when in looks
            ],
        )

    async def drop_looks(self, keys: Sequence[str]) -> None:
        for batch in chunks(list(keys), 500):
            await self.watch.delete_many({"_id": {"$in": list(batch)}})

    async def assignments_by_id(self, assignment_ids: Sequence[str]) -> dict[str, Document]:
        cursor = self.assignments.find({"_id": {"$in": list(assignment_ids)}})
        return {doc["_id"]: doc async for doc in cursor}

    async def record_notices(self, notices: Sequence[tuple[str, AppealDeadlineV1]]) -> list[str]:
        """Insert notices keyed by their natural key; return the keys this call inserted."""
        documents = [
            {
                "_id": key,
                "assignment_id": event.assignment_id,
                "kind": event.kind.value,
                "published": False,
                "at": event.occurred_at,
                "event": event.stored(),
            }
            for key, event in notices
        ]
        existing = await insert_new(self.notices, documents)
        return [key for key, _ in notices if key not in existing]

    async def notices_by_key(self, keys: Sequence[str]) -> list[Document]:
        cursor = self.notices.find({"_id": {"$in": list(keys)}}, {"_id": 1})
        return [doc async for doc in cursor]

    async def unpublished_notices(self, older_than: datetime, limit: int) -> list[Document]:
        query = {"published": False, "at": {"$lte": older_than}}
        return [doc async for doc in self.notices.find(query).sort("at").limit(limit)]

    async def claim_republish(self, keys: Sequence[str], window: int) -> set[str]:
        """The notices this replica may re-send in this window (one claim insert each)."""
        documents = [{"_id": f"{key}#{window}", "notice": key} for key in keys]
        taken = await insert_new(self.republish_claims, documents)
        return {doc["notice"] for doc in documents if doc["_id"] not in taken}

    async def mark_published(self, keys: Sequence[str]) -> None:
        for batch in chunks(list(keys)):
            await self.notices.update_many(
                {"_id": {"$in": list(batch)}}, {"$set": {"published": True}}
            )

    async def claim_extension(self, document: dict[str, Any]) -> bool:
        """The one extension of an assignment; False when it was already extended."""
        return not await insert_new(self.extensions, [document])

    async def extend_assignment(self, assignment: Document, due_at: datetime) -> None:
        """The new term is watched from its own first look; the old term's look finds the due
        time changed and is dropped (so is the new one, should the appeal be answered)."""
        await self.add_looks(
            [(assignment | {"due_at": due_at}, first_look(assignment["start"], due_at))]
        )
        await self.assignments.update_one(
            {"_id": assignment["_id"]}, {"$set": {"due_at": due_at, "extended": True}}
        )

    # -- the watch of assignments stored before the queue ------------------------------------

    async def backfill_done(self) -> bool:
        return await self.migrations.find_one({"_id": WATCH_BACKFILL}, {"_id": 1}) is not None

    async def backfill_looks(self, page: int = 500) -> int:
        """Queue a first look at every assignment of an unanswered appeal, once per database.

        Assignments stored by a version before the queue have no look. The pages are ``_id``
        ranges; a look already there (or repeated by a second replica doing the same) is kept
        by ``insert_new``, and a term already notified gets no second notice (the notice keys),
        so the backfill may run any number of times; the marker saves the later starts the
        read. Returns the assignments read."""
        last: str | None = None
        seen = 0
        fields = {"appeal_id": 1, "start": 1, "due_at": 1}
        while True:
            query = {"_id": {"$gt": last}} if last is not None else {}
            cursor = self.assignments.find(query, fields).sort("_id").limit(page)
            docs = [doc async for doc in cursor]
            if not docs:
                break
            closed = await self.answered({doc["appeal_id"] for doc in docs})
            await self.add_looks(
                [
                    (doc, first_look(doc["start"], doc["due_at"]))
                    for doc in docs
                    if doc["appeal_id"] not in closed
                ]
            )
            seen += len(docs)
            last = docs[-1]["_id"]
        await insert_new(self.migrations, [{"_id": WATCH_BACKFILL, "assignments": seen}])
        return seen
