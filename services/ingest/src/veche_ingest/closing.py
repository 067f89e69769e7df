"""Closing an appeal: the answering body reports its answer; ingest records it and tells the
pipeline (notify writes to the citizen, the timeline and Open311 show the appeal closed)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

from veche_shared.events import AppealAnsweredV1, AppealReceivedV1

from .domain.answers import AnswerSubmission, answer_event, stored_answer
from .domain.timeline import timeline_entry
from .storage import IngestStore

PublishAnswered = Callable[[AppealAnsweredV1, Mapping[str, str]], Awaitable[None]]


class AnswerConflictError(Exception):
    """The appeal already has a different answer (one answer per appeal)."""


@dataclass(frozen=True, slots=True)
class Closed:
    event: AppealAnsweredV1
    replayed: bool


class Closer:
    def __init__(self, store: IngestStore, publish: PublishAnswered) -> None:
        self._store = store
        self._publish = publish

    async def answer(self, appeal_id: str, submission: AnswerSubmission) -> Closed | None:
        """Record and publish the answer; None when there is no such appeal.

        Stored before it is published: if Kafka fails the caller retries and the same event
        (same id) is published again, so a retry never makes a second answer.
        """
        appeal = await self._store.appeal(appeal_id)
        if appeal is None:
            return None
        received = AppealReceivedV1.from_stored(appeal["event"])
        fingerprint = submission.fingerprint()
        stored, replayed = await self._store.record_answer(
            stored_answer(answer_event(received, submission), fingerprint)
        )
        if stored["fingerprint"] != fingerprint:
            raise AnswerConflictError(f"appeal {appeal_id} already has a different answer")
        event = AppealAnsweredV1.from_stored(stored["event"])
        await self._store.add_timeline([timeline_entry(event)])
        await self._publish(event, appeal.get("trace_headers") or {})
        return Closed(event, replayed)
