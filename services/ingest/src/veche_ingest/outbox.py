"""Delivery of stored appeals to Kafka, whatever happened to the HTTP request.

* :class:`PublishedMarks` records "Kafka has it" for many appeals in one update (the hot path
  stays insert-only per request).
* :class:`OutboxRelay` finds appeals still pending after a grace period (Kafka was down, or the
  process died between storing and publishing) and publishes their stored event — same event
  id, so downstream deduplicates a rare double.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Awaitable, Callable, Mapping
from datetime import timedelta

from veche_shared.background import Periodic
from veche_shared.events import AppealReceivedV1, utc_now

from .storage import IngestStore

log = logging.getLogger(__name__)

Publish = Callable[[AppealReceivedV1, Mapping[str, str]], Awaitable[None]]


class PublishedMarks:
    def __init__(self, store: IngestStore, interval: float = 0.2) -> None:
        self._store = store
        self._pending: list[str] = []
        self._loop = Periodic("published-marks", interval, self.flush)

    def add(self, appeal_id: str) -> None:
        self._pending.append(appeal_id)

    async def flush(self) -> None:
        batch, self._pending = self._pending, []
        try:
            await self._store.mark_published(batch)
        except Exception:
            self._pending.extend(batch)  # try again next tick; the relay is the safety net
            raise

    async def start(self) -> None:
        await self._loop.start()

    async def stop(self) -> None:
        await self._loop.stop()
        with contextlib.suppress(Exception):
            await self.flush()


class OutboxRelay:
    def __init__(
        self,
        store: IngestStore,
        publish: Publish,
        *,
        grace: timedelta,
        interval: float,
        batch: int = 200,
    ) -> None:
        self._store = store
        self._publish = publish
        self._grace = grace
        self._interval = interval
        self._batch = batch

    async def relay_once(self) -> int:
        """Publish every appeal pending longer than the grace period; return how many."""
        pending = await self._store.pending_publication(utc_now() - self._grace, self._batch)
        delivered: list[str] = []
        for document in pending:
            event = AppealReceivedV1.from_stored(document["event"])
            await self._publish(event, document.get("trace_headers") or {})
            delivered.append(str(document["_id"]))
        await self._store.mark_published(delivered)
        return len(delivered)

    def periodic(self) -> Periodic:
        """The relay as a background task of the service (start/stop with the app)."""
        return Periodic("outbox-relay", self._interval, self._relay_and_log)

    async def _relay_and_log(self) -> None:
        if delivered := await self.relay_once():
            log.info("outbox relay delivered queued appeals", extra={"count": delivered})
