"""Registering an appeal: number it, store it, announce it — all or nothing."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from veche_shared.events import AppealReceivedV1, utc_now
from veche_shared.telemetry import store_span, trace_id_hex

from .domain.intake import AppealSubmission, counter_key, register
from .storage import IngestStore

Publish = Callable[[AppealReceivedV1], Awaitable[None]]


class PublishFailedError(RuntimeError):
    """The broker did not acknowledge the event; the appeal was not registered."""


@dataclass(frozen=True, slots=True)
class Registered:
    event: AppealReceivedV1
    trace_id: str | None


class Registrar:
    def __init__(self, store: IngestStore, publish: Publish, region_code: str) -> None:
        self._store = store
        self._publish = publish
        self._region_code = region_code

    async def register(self, submission: AppealSubmission) -> Registered:
        registered_at = utc_now()
        database = self._store.db.name
        with store_span("insert", "registrations", database):
            sequence = await self._store.next_sequence(
                counter_key(self._region_code, registered_at.year)
            )
        event = register(
            submission,
            appeal_id=uuid.uuid4(),
            region_code=self._region_code,
            sequence=sequence,
            registered_at=registered_at,
        )
        trace_id = trace_id_hex()
        with store_span("insert", "appeals", database):
            await self._store.save_received(event, trace_id)
        try:
            await self._publish(event)
        except Exception as error:
            with store_span("delete", "appeals", database):
                await self._store.forget(event)
            raise PublishFailedError("the appeal could not be handed to the pipeline") from error
        return Registered(event=event, trace_id=trace_id)
