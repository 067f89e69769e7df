"""Ingest's documents.

* ``appeals`` — the appeal as registered (``_id`` = appeal id), the submission with personal data
  (ingest is its owner), its received event for the outbox, and a status summary kept from the
  downstream events (for lists and Open311).
* ``outbox`` — one small entry per appeal not yet confirmed by Kafka (``_id`` = appeal id),
  written before the appeal and removed once Kafka has it: the relay reads this short list, never
  the whole ``appeals`` collection (a store without secondary-index queries would scan it).
* ``timeline`` — one entry per downstream pipeline event (``_id`` = event id): inserted, never
  updated. The received entry is kept in the appeal document itself (``received_entry``): one
  store round trip fewer on every registration, the HTTP path's busiest. Appeals stored before
  that have theirs here; the view takes it from either place.
* ``intake_keys`` — idempotency keys (``_id`` = key) -> appeal id.
* ``registrations`` — one document per registration number: the unique ``_id`` decides races.
* ``api_clients`` — Open311 client systems, by the SHA-256 of their key.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Mapping, Sequence
from datetime import datetime
from functools import partial
from typing import Any

from pymongo import ASCENDING, DESCENDING, AsyncMongoClient, UpdateOne
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError
from veche_shared.events import AppealReceivedV1, utc_now
from veche_shared.group_commit import GroupCommit
from veche_shared.mongo import Document, GroupInsert, chunks, insert_new

from .domain.timeline import (
    STAGE_ORDER,
    Stage,
    StatusChange,
    current_status,
    status_changes,
    timeline_entry,
)


class IngestStore:
    def __init__(self, client: AsyncMongoClient[Document], database: str) -> None:
        self.db: AsyncDatabase[Document] = client[database]
        self.appeals = self.db["appeals"]
        self.timeline = self.db["timeline"]
        self.intake_keys = self.db["intake_keys"]
        self.registrations = self.db["registrations"]
        self.api_clients = self.db["api_clients"]
        self.answers = self.db["answers"]
        self.outbox = self.db["outbox"]
        self._sequences: dict[str, GroupCommit[None, int]] = {}
        # concurrent registrations share their inserts (group commit): one command per
        # collection for all the requests that arrived during the previous one
        self._new_outbox = GroupInsert(self.outbox)
        self._new_appeals = GroupInsert(self.appeals)
        self._last_claimed: dict[str, int] = {}
        # Updates of one appeal document are serialised within the process: FerretDB applies an
        # update as read-modify-write, so concurrent updates of one document could lose one
        # (MongoDB is atomic per document; the lock costs it nothing measurable).
        self._summary_lock = asyncio.Lock()

    async def create_indexes(self) -> None:
        await self.timeline.create_index([("appeal_id", ASCENDING), ("at", ASCENDING)])
        await self.appeals.create_index("registration_number", unique=True)
        await self.outbox.create_index([("at", ASCENDING)])
        await self.appeals.create_index([("registered_at", DESCENDING)])
        await self.registrations.create_index([("key", ASCENDING), ("seq", DESCENDING)])

    # -- registration numbers ------------------------------------------------------------

    async def next_sequence(self, key: str) -> int:
        """Claim the next number of a sequence: unique on any MongoDB-protocol server; numbers
        other replicas take are skipped, not reused (a claim insert that fails midway, or a
        request that dies after claiming, leaves a gap).

        Each number is a document whose ``_id`` is the number itself, so the store's unique
        ``_id`` decides races (an atomic ``$inc`` is not available everywhere: FerretDB's
        find_one_and_update is not atomic under concurrency). Requests arriving while a claim is
        in flight are numbered together by the next insert (group commit), so concurrent
        registrations do not queue behind one store round trip each; across replicas a
        collision costs one more insert.
        """
        group = self._sequences.get(key)
        if group is None:
            group = self._sequences[key] = GroupCommit(partial(self._claim_numbers, key))
        return await group.submit(None)

    async def _claim_numbers(self, key: str, requests: list[None]) -> list[int]:
        """The next ``len(requests)`` free numbers, in order."""
        last = self._last_claimed.get(key) or await self._highest_claim(key)
        claimed: list[int] = []
        while len(claimed) < len(requests):
            wanted = range(last + 1, last + 1 + len(requests) - len(claimed))
            ids = {n: f"{key}:{n:06d}" for n in wanted}
            taken = await insert_new(
                self.registrations, [{"_id": ids[n], "key": key, "seq": n} for n in wanted]
            )
            claimed += [n for n in wanted if ids[n] not in taken]
            last = wanted[-1]
        self._last_claimed[key] = last
        return claimed

    async def _highest_claim(self, key: str) -> int:
        latest = await self.registrations.find_one({"key": key}, sort=[("seq", DESCENDING)])
        return int(latest["seq"]) if latest else 0

    # -- idempotency ---------------------------------------------------------------------

    async def claim_key(self, key: str, appeal_id: str, fingerprint: str) -> tuple[str, str]:
        """Bind an idempotency key to an appeal id.

        Returns the appeal id and request fingerprint bound first: ours, or an earlier request's.
        """
        try:
            await self.intake_keys.insert_one(
                {"_id": key, "appeal_id": appeal_id, "fingerprint": fingerprint, "at": utc_now()}
            )
        except DuplicateKeyError:
            bound = await self.intake_keys.find_one({"_id": key})
            if bound is None:  # keys are never deleted
                raise LookupError(f"idempotency key {key} vanished") from None
            return str(bound["appeal_id"]), str(bound.get("fingerprint", ""))
        return appeal_id, fingerprint

    # -- appeals -------------------------------------------------------------------------

    async def queue_publication(self, appeal_id: str, registered_at: datetime) -> None:
        """The appeal's outbox entry, written before the appeal itself (an entry whose appeal
        never comes is removed by :meth:`pending_publication`)."""
        await self._new_outbox.insert([{"_id": appeal_id, "at": registered_at}])

    async def save_received(
        self,
        event: AppealReceivedV1,
        *,
        trace_id: str | None,
        trace_headers: Mapping[str, str],
        idempotency_key: str | None,
        private: Mapping[str, Any] | None = None,
    ) -> bool:
        """Store the appeal (after :meth:`queue_publication`: an appeal is never stored without
        the relay knowing of it); False if the appeal id is already stored."""
        document = received_document(
            event,
            trace_id=trace_id,
            trace_headers=trace_headers,
            idempotency_key=idempotency_key,
            private=private,
        )
        [stored] = await self._new_appeals.insert([document])
        return bool(stored)

    async def appeal(self, appeal_id: str) -> Document | None:
        return await self.appeals.find_one({"_id": appeal_id})

    async def appeal_by_number(self, registration_number: str) -> Document | None:
        return await self.appeals.find_one({"registration_number": registration_number})

    async def mark_published(self, appeal_ids: Sequence[str]) -> None:
        """Kafka has these appeals: take them off the outbox (an appeal is published exactly
        when it has no outbox entry — one delete, no update of the appeal)."""
        for batch in chunks(list(appeal_ids), 500):
            await self.outbox.delete_many({"_id": {"$in": list(batch)}})

    async def is_queued(self, appeal_id: str) -> bool:
        """Stored but not yet confirmed by Kafka (the outbox will deliver it)."""
        return await self.outbox.find_one({"_id": appeal_id}, {"_id": 1}) is not None

    async def pending_publication(self, older_than: datetime, limit: int) -> list[Document]:
        """Appeals on the outbox longer than the grace period, oldest first.

        Entries whose appeal was never stored (the request died between the two inserts:
        nothing was accepted) are removed on the way.
        """
        entries = [
            d async for d in self.outbox.find({"at": {"$lt": older_than}}).sort("at").limit(limit)
        ]
        ids = [entry["_id"] for entry in entries]
        if not ids:
            return []
        found = {d["_id"]: d async for d in self.appeals.find({"_id": {"$in": ids}})}
        abandoned = [i for i in ids if i not in found]
        if abandoned:
            await self.outbox.delete_many({"_id": {"$in": abandoned}})
        return [found[i] for i in ids if i in found]

    # -- timeline and status -------------------------------------------------------------

    async def add_timeline(self, entries: Sequence[dict[str, Any]]) -> int:
        """Insert entries keyed by event id; fold them into the appeals' status summaries (one
        update per appeal, whatever number of its entries the batch holds)."""
        duplicates = await insert_new(self.timeline, entries)
        fresh = [e for e in entries if e["_id"] not in duplicates]
        updates = [_status_update(change) for change in status_changes(fresh)]
        for batch in chunks(updates):  # small batches: FerretDB holds a connection per statement
            async with self._summary_lock:
                await self.appeals.bulk_write(list(batch), ordered=False)
        return len(fresh)

    async def appeal_view(self, appeal_id: str) -> dict[str, Any] | None:
        appeal = await self.appeals.find_one({"_id": appeal_id}, {"private": 0, "event": 0})
        if appeal is None:
            return None
        entries = [
            entry
            async for entry in self.timeline.find({"appeal_id": appeal_id}).sort("at", ASCENDING)
        ]
        received = appeal.get("received_entry")
        if received is not None and all(e["_id"] != received["_id"] for e in entries):
            entries.insert(0, received)  # registration comes first: nothing precedes it
        status = current_status([e["stage"] for e in entries])
        return {
            "appeal_id": appeal_id,
            "registration_number": appeal["registration_number"],
            "registered_at": appeal["registered_at"].isoformat(),
            "status": status.value,
            "trace_id": appeal.get("trace_id"),
            "flags": appeal.get("flags", []),
            **_summary_fields(appeal, entries),
            "timeline": [
                {
                    "stage": e["stage"],
                    "at": e["at"].isoformat(),
                    "event_id": e["_id"],
                    **e["summary"],
                }
                for e in entries
            ],
        }

    async def list_appeals(
        self, filters: dict[str, Any], *, limit: int, offset: int
    ) -> tuple[list[Document], int]:
        cursor = (
            self.appeals.find(
                filters, {"private": 0, "event": 0, "trace_headers": 0, "received_entry": 0}
            )
            .sort([("registered_at", DESCENDING), ("_id", ASCENDING)])
            .skip(offset)
            .limit(limit)
        )
        items = [d async for d in cursor]
        return items, await self.appeals.count_documents(filters)

    # -- answers -------------------------------------------------------------------------

    async def record_answer(self, answer: Mapping[str, Any]) -> tuple[Document, bool]:
        """Store an appeal's answer once; return the stored one and whether it was already there."""
        existing = await insert_new(self.answers, [answer])
        if not existing:
            return dict(answer), False
        stored = await self.answers.find_one({"_id": answer["_id"]})
        if stored is None:
            raise LookupError(f"answer {answer['_id']} vanished")
        return stored, True

    # -- Open311 clients -----------------------------------------------------------------

    async def add_api_client(self, name: str, key: str) -> None:
        await insert_new(
            self.api_clients, [{"_id": hash_key(key), "client": name, "at": utc_now()}]
        )

    async def api_client(self, key: str) -> str | None:
        found = await self.api_clients.find_one({"_id": hash_key(key)})
        return str(found["client"]) if found else None


def received_document(
    event: AppealReceivedV1,
    *,
    trace_id: str | None,
    trace_headers: Mapping[str, str],
    idempotency_key: str | None,
    private: Mapping[str, Any] | None = None,
) -> Document:
    """The appeal as registration stores it: the fields the list and the view query, the
    status summary the timeline folds later events into, and the event it publishes."""
    appeal = event.appeal
    return {
        "_id": str(event.appeal_id),
        "registration_number": appeal.registration_number,
        "registered_at": appeal.registered_at,
        "region_code": appeal.region_code,
        "channel": appeal.channel.value,
        "trace_id": trace_id,
        "idempotency_key": idempotency_key,
        "stage_rank": STAGE_ORDER[Stage.RECEIVED],
        "topic_hint": appeal.topic_hint,
        "flags": list(appeal.flags),
        "event": event.stored(),
        "trace_headers": dict(trace_headers),
        "private": dict(private or {}),
        "received_entry": timeline_entry(event),
    }


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def _status_update(change: StatusChange) -> UpdateOne:
    update: dict[str, Any] = {
        "$max": {"stage_rank": change.stage_rank, "updated_at": change.updated_at}
    }
    if change.fields:
        update["$set"] = change.fields
    return UpdateOne({"_id": change.appeal_id}, update)


def _summary_fields(appeal: Document, entries: Sequence[Document]) -> dict[str, Any]:
    """The status summary as the entries shown beside it say it: their status write follows
    their insert, so a view read in between would show a stage without its fields (a notified
    appeal with no executor). Fields the entries do not give come from the stored summary."""
    keys = ("topic", "urgency", "territory", "executor", "answer_by")
    fields = {key: appeal[key] for key in keys if appeal.get(key) is not None}
    for change in status_changes(entries):
        fields |= {key: value for key, value in change.fields.items() if value is not None}
    return fields
