"""Registering an appeal: deduplicate, number it, store it, hand it to Kafka.

The HTTP answer is given after the appeal is durably stored; it says ``published`` when Kafka
acknowledged the event (``acks=all``) and ``queued`` when Kafka did not answer in time — the stored
outbox entry is then delivered by :class:`~veche_ingest.outbox.OutboxRelay` with the same event
id, so nothing is lost and nothing is doubled.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from opentelemetry import trace
from opentelemetry.propagate import inject
from veche_shared.events import AppealReceivedV1, utc_now
from veche_shared.telemetry import store_span, trace_id_hex

from .domain.intake import Intake, counter_key, idempotency_key, intake_fingerprint, register
from .storage import IngestStore

log = logging.getLogger(__name__)
tracer = trace.get_tracer("veche.ingest")

Publish = Callable[[AppealReceivedV1, Mapping[str, str]], Awaitable[None]]
T = TypeVar("T")


class IdempotencyConflictError(Exception):
    """The same idempotency key came with a different request body."""


class NumberingError(Exception):
    """No free registration number: the stored appeals hold the ones the sequence gives out."""


NUMBER_ATTEMPTS = 5  # numbers tried for one appeal before the request fails


@dataclass(frozen=True, slots=True)
class Registered:
    appeal_id: str
    registration_number: str
    registered_at: str
    trace_id: str | None
    replayed: bool  # an idempotent repeat: the original appeal
    queued: bool  # stored; Kafka did not confirm in time, the outbox will deliver


class Registrar:
    def __init__(
        self,
        store: IngestStore,
        publish: Publish,
        *,
        region_code: str,
        publish_timeout: float,
        on_published: Callable[[str], None],
    ) -> None:
        self._store = store
        self._publish = publish
        self._region_code = region_code
        self._publish_timeout = publish_timeout
        self._on_published = on_published

    async def register(
        self,
        intake: Intake,
        *,
        header_key: str | None = None,
        private: Mapping[str, Any] | None = None,
    ) -> Registered:
        """Register an appeal in its own span: a child of the HTTP request's, or the root of
        the appeal's trace when the caller has none (batch import, channel relays)."""
        attributes = {"veche.channel": intake.channel.value}
        with tracer.start_as_current_span("register appeal", attributes=attributes) as span:
            registered = await self._register(intake, header_key, private)
            span.set_attribute("veche.appeal_id", registered.appeal_id)
            span.set_attribute("veche.replayed", registered.replayed)
            return registered

    async def _register(
        self, intake: Intake, header_key: str | None, private: Mapping[str, Any] | None
    ) -> Registered:
        key = idempotency_key(intake, header_key)
        appeal_id = str(uuid.uuid4())
        if key is not None:
            fingerprint = intake_fingerprint(intake)
            bound, bound_fingerprint = await self._store.claim_key(key, appeal_id, fingerprint)
            if bound != appeal_id:
                # a client's key promises the same request; a channel's own id names the appeal
                # even when the channel re-sends it edited
                if header_key and bound_fingerprint != fingerprint:
                    raise IdempotencyConflictError(
                        "this Idempotency-Key was used for a different request"
                    )
                return await self._replay(bound, key, intake, private)
        return await self._register_new(intake, appeal_id, key, private)

    async def _replay(
        self, appeal_id: str, key: str, intake: Intake, private: Mapping[str, Any] | None
    ) -> Registered:
        """The key was used before: answer with that appeal (waiting for a concurrent twin)."""
        for _ in range(50):
            stored = await self._store.appeal(appeal_id)
            if stored is not None:
                return await self._replayed(stored)
            await asyncio.sleep(0.1)
        # The first request died between claiming the key and storing the appeal: finish its
        # work under the same appeal id (the appeal's unique _id settles any race).
        log.warning("completing an abandoned idempotent registration")
        return await self._register_new(intake, appeal_id, key, private)

    async def _register_new(
        self, intake: Intake, appeal_id: str, key: str | None, private: Mapping[str, Any] | None
    ) -> Registered:
        registered_at = utc_now()
        # The outbox entry needs no number, so it is written beside the number's claim rather
        # than after it: one store round trip fewer before the answer. An entry whose appeal
        # never follows (the request died) is dropped by the relay; nothing was accepted.
        sequence, _ = await asyncio.gather(
            self._claim_number(registered_at),
            self._stored_as("outbox", self._store.queue_publication(appeal_id, registered_at)),
        )
        for _ in range(NUMBER_ATTEMPTS):
            event = register(
                intake,
                appeal_id=uuid.UUID(appeal_id),
                region_code=self._region_code,
                sequence=sequence,
                registered_at=registered_at,
            )
            trace_headers: dict[str, str] = {}
            inject(trace_headers)  # lets the outbox relay continue this appeal's trace
            if await self._save(event, trace_headers, key, private):
                return await self._hand_over(event, trace_headers)
            twin = await self._store.appeal(appeal_id)
            if twin is not None:  # a twin completed the same idempotent registration first
                return await self._replayed(twin)
            # The number's claim was ours, yet a stored appeal holds it: appeals restored or
            # imported without their claims. Skip it, as a number another replica took is.
            log.warning("registration number held by a stored appeal; numbering again")
            sequence = await self._claim_number(registered_at)
        raise NumberingError(
            f"{NUMBER_ATTEMPTS} registration numbers in a row are held by stored appeals "
            "the number sequence does not know of"
        )

    async def _claim_number(self, registered_at: datetime) -> int:
        key = counter_key(self._region_code, registered_at.year)
        return await self._stored_as("registrations", self._store.next_sequence(key))

    async def _save(
        self,
        event: AppealReceivedV1,
        trace_headers: Mapping[str, str],
        key: str | None,
        private: Mapping[str, Any] | None,
    ) -> bool:
        with store_span("insert", "appeals", self._store.db.name):
            return await self._store.save_received(
                event,
                trace_id=trace_id_hex(),
                trace_headers=trace_headers,
                idempotency_key=key,
                private=private,
            )

    async def _hand_over(
        self, event: AppealReceivedV1, trace_headers: Mapping[str, str]
    ) -> Registered:
        queued = not await self._try_publish(event, trace_headers)
        return Registered(
            appeal_id=str(event.appeal_id),
            registration_number=event.appeal.registration_number,
            registered_at=event.appeal.registered_at.isoformat(),
            trace_id=trace_id_hex(),
            replayed=False,
            queued=queued,
        )

    async def _stored_as(self, collection: str, write: Awaitable[T]) -> T:
        """One store write in its own span (concurrent writes each get theirs)."""
        with store_span("insert", collection, self._store.db.name):
            return await write

    async def _try_publish(self, event: AppealReceivedV1, trace_headers: Mapping[str, str]) -> bool:
        try:
            await asyncio.wait_for(self._publish(event, trace_headers), self._publish_timeout)
        except Exception as error:  # Kafka down or slow: the outbox entry stays pending
            log.warning(
                "event not confirmed by Kafka; queued for the outbox relay",
                extra={"error_class": type(error).__name__},
            )
            return False
        self._on_published(str(event.appeal_id))
        return True

    async def _replayed(self, stored: Mapping[str, Any]) -> Registered:
        queued = await self._store.is_queued(str(stored["_id"]))
        return _registered(stored, replayed=True, queued=queued)


def _registered(stored: Mapping[str, Any], *, replayed: bool, queued: bool) -> Registered:
    return Registered(
        appeal_id=str(stored["_id"]),
        registration_number=stored["registration_number"],
        registered_at=stored["registered_at"].isoformat(),
        trace_id=stored.get("trace_id"),
        replayed=replayed,
        queued=queued,
    )
