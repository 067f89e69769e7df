"""Notify's documents — insert-only on the hot path: a state change is a new document with a
unique ``_id``, never an update (an update is the store's dearest operation, and a unique insert
is also the only claim that is atomic on every MongoDB-protocol server).

* ``notifications`` — one per unique key (appeal, kind, recipient, channel): the rendered message,
  written once. A deliverable one is written already claimed (``claim`` and ``claimed_at`` in
  the document): its unique insert is the claim, so a batch's fresh letters need no claim
  command of their own.
* ``deliveries`` — what happened to each: ``<key>|sending`` (the claim of a notification that
  was stored unclaimed, stored *before* the message leaves, so a process that dies mid-send
  leaves a trace that the next delivery of the event reconciles; the first claim wins),
  ``<key>|final`` (``sent`` | ``failed`` | ``gave_up`` |
  ``skipped`` | ``unknown``; the first result wins) and ``<key>|dead-letter``. A notification's
  state is its document folded with these: no claim → ``pending``.
* ``outcomes`` — one per incoming event: the ``appeals.notified.v1`` event it produced,
  republished unchanged on redelivery so downstream deduplicates by its event id.
* ``subscriptions`` — municipal systems' webhook subscriptions (URL, event types, secret).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from pymongo import ASCENDING, AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase
from veche_shared.events import AppealNotifiedV1, utc_now
from veche_shared.mongo import Document, GroupInsert, chunks, insert_new, record_events_once

PENDING = "pending"
SENDING = "sending"
CLAIM, FINAL, DEAD_LETTER = "sending", "final", "dead-letter"
READ_CHUNK = 500
# How stale the subscriptions a batch plans with may be: another replica's change applies
# within this, this process's own at once. Read per batch, they were one of ~6 store commands
# per appeal at low load.
SUBSCRIPTIONS_FRESH_S = 5.0


def delivery_id(key: str, step: str) -> str:
    return f"{key}|{step}"


class NotifyStore:
    def __init__(
        self, client: AsyncMongoClient[Document], database: str, *, result_linger_s: float = 0.0
    ) -> None:
        self.db: AsyncDatabase[Document] = client[database]
        self.notifications = self.db["notifications"]
        self.deliveries = self.db["deliveries"]
        self.outcomes = self.db["outcomes"]
        self.subscriptions = self.db["subscriptions"]
        # results that end within the linger, or while a write is in flight, share the next
        # insert (group commit): at saturation one insert for every two letters (1 044 for
        # 2 176) was a fifth of notify's busy samples; lingering, one per ~15. A relay's 250
        # stays unrecorded at most this much longer.
        self._results = GroupInsert(self.deliveries, linger_s=result_linger_s)
        self._subscriptions: list[Document] | None = None
        self._subscriptions_read_at = 0.0

    async def create_indexes(self) -> None:
        await self.notifications.create_index([("appeal_id", ASCENDING)])

    # notifications -------------------------------------------------------------------------

    async def record_notifications(self, documents: Sequence[Mapping[str, Any]]) -> set[str]:
        """Insert new notifications; return the keys that already existed."""
        return {str(key) for key in await insert_new(self.notifications, documents)}

    async def load(self, keys: Iterable[str]) -> dict[str, Document]:
        """The notifications with their current delivery state folded in."""
        keys = sorted(set(keys))
        found: dict[str, Document] = {}
        steps: dict[str, dict[str, Document]] = {}
        for part in chunks(keys, READ_CHUNK):
            async for document in self.notifications.find({"_id": {"$in": list(part)}}):
                found[document["_id"]] = document
            ids = [delivery_id(k, step) for k in part for step in (CLAIM, FINAL, DEAD_LETTER)]
            async for step in self.deliveries.find({"_id": {"$in": ids}}):
                key, _, name = step["_id"].rpartition("|")
                steps.setdefault(key, {})[name] = step
        return {key: fold(document, steps.get(key, {})) for key, document in found.items()}

    async def for_appeal(self, appeal_id: str) -> list[Document]:
        """Every notification of an appeal with its state (for diagnosis; not the hot path)."""
        found = self.notifications.find({"appeal_id": appeal_id}, {"_id": 1})
        keys = [d["_id"] async for d in found]
        return list((await self.load(keys)).values())

    async def claim(
        self, documents: Sequence[Document], token: str, at: datetime
    ) -> list[Document]:
        """Claim pending notifications for this run (``sending``); return those won.

        A claim is a unique insert: when two consumers race for a key (a partition rebalance),
        exactly one insert succeeds on any MongoDB-protocol server, so a message is sent once.
        """
        claims = [
            {"_id": delivery_id(d["_id"], CLAIM), "claim": token, "claimed_at": at}
            for d in documents
        ]
        taken = await insert_new(self.deliveries, claims)
        return [
            fold(d, {CLAIM: claim})
            for d, claim in zip(documents, claims, strict=True)
            if claim["_id"] not in taken
        ]

    async def finish(
        self, results: Sequence[tuple[str, Mapping[str, Any]]], *, linger: bool = False
    ) -> None:
        """Record final states (the first result recorded for a key stands); ``linger``: more
        results are coming, wait up to the result gathering to share their insert."""
        await self._results.insert(
            [{"_id": delivery_id(key, FINAL), **fields} for key, fields in results], linger=linger
        )

    async def mark_dead_lettered(self, keys: Sequence[str]) -> None:
        at = utc_now()
        await insert_new(
            self.deliveries, [{"_id": delivery_id(k, DEAD_LETTER), "at": at} for k in keys]
        )

    # outcomes ------------------------------------------------------------------------------

    async def record_outcomes(
        self, outcomes: Sequence[tuple[str, AppealNotifiedV1]]
    ) -> list[AppealNotifiedV1]:
        documents = [
            {
                "_id": source_event_id,
                "appeal_id": str(event.appeal_id),
                "at": event.occurred_at,
                "event": event.stored(),
            }
            for source_event_id, event in outcomes
        ]
        return await record_events_once(self.outcomes, documents, [event for _, event in outcomes])

    # subscriptions -------------------------------------------------------------------------

    async def add_subscription(self, document: Mapping[str, Any]) -> None:
        await self.subscriptions.insert_one(dict(document))
        self._subscriptions = None

    async def list_subscriptions(self) -> list[Document]:
        return [document async for document in self.subscriptions.find({}).sort("created_at")]

    async def current_subscriptions(self) -> list[Document]:
        """The subscriptions, read at most every ``SUBSCRIPTIONS_FRESH_S``."""
        now = time.monotonic()
        if self._subscriptions is None or now - self._subscriptions_read_at > SUBSCRIPTIONS_FRESH_S:
            self._subscriptions = await self.list_subscriptions()
            self._subscriptions_read_at = now
        return self._subscriptions

    async def get_subscription(self, subscription_id: str) -> Document | None:
        return await self.subscriptions.find_one({"_id": subscription_id})

    async def delete_subscription(self, subscription_id: str) -> bool:
        result = await self.subscriptions.delete_one({"_id": subscription_id})
        self._subscriptions = None
        return result.deleted_count == 1


def fold(notification: Mapping[str, Any], steps: Mapping[str, Mapping[str, Any]]) -> Document:
    """A notification's current state from its delivery documents."""
    state: Document = dict(notification) | {"status": PENDING}
    # claimed by its own insert, or later by a claim document
    claim = notification if notification.get("claim") else steps.get(CLAIM)
    if claim:
        state |= {"status": SENDING, "claim": claim["claim"], "claimed_at": claim["claimed_at"]}
    if final := steps.get(FINAL):
        state |= {k: v for k, v in final.items() if k != "_id"}
    if DEAD_LETTER in steps:
        state["dead_lettered"] = True
    return state
