"""The store client (PyMongo Async API) and the few write patterns every service uses.

Designed for any MongoDB-protocol server (FerretDB locally, MongoDB in production): inserts keyed
by a natural ``_id`` (a duplicate key means "already done"), no transactions, no change streams,
update batches kept small (FerretDB holds a backend connection per update statement).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, TypeVar

from pymongo import AsyncMongoClient, monitoring
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import BulkWriteError

from .events.base import Event
from .group_commit import GroupCommit
from .settings import ServiceSettings

DUPLICATE_KEY = 11000
# FerretDB's SQLite backend gives each database a pool of 100 connections, and an update statement
# holds two at once (its query, then its transaction): 50 update statements in flight on one
# database can each hold one and wait forever for the second (measured: a bulk of 50 never
# returns; 40 concurrent single updates from several consumers wedged the database). Keep a
# command's update statements well below that (hot paths prefer unique inserts to updates).
MAX_UPDATE_BATCH = 20  # two replicas bulk-updating one database stay below 50 statements

Document = dict[str, Any]
E = TypeVar("E", bound=Event)


def create_client(
    settings: ServiceSettings, listeners: Sequence[monitoring.CommandListener] = ()
) -> AsyncMongoClient[Document]:
    return AsyncMongoClient(
        settings.mongo_url,
        appname=f"veche-{settings.service_name}",
        tz_aware=True,
        serverSelectionTimeoutMS=5_000,
        connectTimeoutMS=5_000,
        retryWrites=True,
        event_listeners=list(listeners),
    )


async def insert_new(
    collection: AsyncCollection[Document], documents: Sequence[Mapping[str, Any]]
) -> set[Any]:
    """Insert documents keyed by ``_id``; return the ids that already existed.

    Unordered, so one duplicate does not stop the rest; duplicates are the normal result of a
    redelivered batch, any other write error is raised.
    """
    if not documents:
        return set()
    try:
        await collection.insert_many([dict(d) for d in documents], ordered=False)
    except BulkWriteError as error:
        errors = error.details.get("writeErrors", [])
        unexpected = [e for e in errors if e.get("code") != DUPLICATE_KEY]
        if unexpected or error.details.get("writeConcernErrors"):
            raise
        return {documents[e["index"]]["_id"] for e in errors}
    return set()


def chunks(items: Sequence[Any], size: int = MAX_UPDATE_BATCH) -> list[Sequence[Any]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


async def ping(client: AsyncMongoClient[Document]) -> None:
    await client.admin.command("ping")


async def record_events_once(
    collection: AsyncCollection[Document],
    documents: Sequence[Mapping[str, Any]],
    events: Sequence[E],
) -> list[E]:
    """Insert each output document (its event under ``"event"``) unless its ``_id`` exists;
    return the events as first recorded.

    The idempotent step of each stage: a redelivered input finds the output recorded the first
    time (same outgoing ``event_id``), so the stage republishes that instead of a new event and
    downstream deduplicates. A new output is returned as the event given — not parsed back from
    the document just made from it, a second validation of every output that cost route ~6 % of
    its CPU — a redelivered one as the stored event, validated as its type.
    """
    stored = await _first_versions(collection, await insert_new(collection, documents))
    return [
        type(event).from_stored(stored[d["_id"]]["event"]) if d["_id"] in stored else event
        for d, event in zip(documents, events, strict=True)
    ]


async def _first_versions(
    collection: AsyncCollection[Document], ids: set[Any]
) -> dict[Any, Document]:
    if not ids:
        return {}
    return {d["_id"]: d async for d in collection.find({"_id": {"$in": list(ids)}})}


class GroupInsert:
    """Inserts keyed by ``_id`` from concurrent callers share commands (group commit: see
    ``veche_shared.group_commit``); each caller learns which of its documents were new. Of two
    documents with one ``_id`` in flight together, the first to arrive is the one stored."""

    def __init__(self, collection: AsyncCollection[Document], *, linger_s: float = 0.0) -> None:
        self._collection = collection
        self._group: GroupCommit[Mapping[str, Any], bool] = GroupCommit(
            self._flush, linger_s=linger_s
        )

    async def insert(
        self, documents: Sequence[Mapping[str, Any]], *, linger: bool = False
    ) -> list[bool]:
        """``linger``: more documents are on their way; wait up to the linger for them."""
        return await self._group.submit_all(documents, linger=linger)

    async def _flush(self, documents: list[Mapping[str, Any]]) -> list[bool]:
        first: dict[Any, int] = {}
        for index, document in enumerate(documents):
            first.setdefault(document["_id"], index)
        unique = [documents[index] for index in first.values()]
        existing: set[Any] = set()
        for part in chunks(unique, 500):
            existing |= await insert_new(self._collection, part)
        return [
            first[d["_id"]] == index and d["_id"] not in existing
            for index, d in enumerate(documents)
        ]
