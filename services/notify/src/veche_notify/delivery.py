"""Send recorded notifications exactly once where the channel allows it, and say what happened.

For every notification of a batch, by its stored state:

* claimed by this run when it was recorded (``claim_on_insert``) — send, as below;
* ``pending`` — claim it (``sending`` is stored *before* the message leaves), send with retries
  (tenacity: exponential backoff with jitter, transient errors only) under the channel's rate
  limit, then store ``sent`` / ``failed`` / ``gave_up``;
* ``sending`` — a previous run died between claiming and finishing: the message may or may not
  have left. Webhooks are resent with the same ``X-Veche-Delivery`` id (receivers deduplicate);
  SMS likewise when the gateway honours ``Idempotency-Key``; e-mail by default with the same
  Message-ID (``VECHE_EMAIL_RECONCILE=resend``). Otherwise the notification is finished as
  ``unknown`` — no duplicate, and the doubt is reported;
* anything else is final and only reported.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
import uuid
from collections.abc import Awaitable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

import httpx
from aiolimiter import AsyncLimiter
from opentelemetry import trace
from opentelemetry.context import Context
from tenacity import (
    AsyncRetrying,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential_jitter,
)
from veche_shared.events import NotificationStatus, utc_now
from veche_shared.mongo import Document, chunks

from .channels import DeliveryError, EmailSender, Outgoing, SmsSender, WebhookSender
from .domain.plan import Channel
from .settings import NotifySettings
from .storage import PENDING, SENDING, NotifyStore

log = logging.getLogger(__name__)


class Sender(Protocol):
    async def send(self, outgoing: Outgoing) -> str: ...


@dataclass(frozen=True, slots=True)
class Result:
    status: NotificationStatus
    attempts: int
    reason: str | None = None
    provider_ref: str | None = None

    def fields(self, previous_attempts: int = 0) -> dict[str, Any]:
        now = utc_now()
        fields: dict[str, Any] = {
            "status": self.status.value,
            "attempts": previous_attempts + self.attempts,
            "reason": self.reason,
            "finished_at": now,
        }
        if self.status is NotificationStatus.SENT:
            fields |= {"sent_at": now, "provider_ref": self.provider_ref}
        return fields


def limiter(rate_per_s: float) -> AsyncLimiter:
    """aiolimiter needs a whole message per period: 0.5/s becomes 1 per 2 s."""
    return AsyncLimiter(rate_per_s, 1.0) if rate_per_s >= 1 else AsyncLimiter(1, 1 / rate_per_s)


def is_transient(error: BaseException) -> bool:
    return isinstance(error, DeliveryError) and error.transient


async def merged_when_all_end(
    calls: Iterable[Awaitable[dict[str, Document]]],
) -> dict[str, Document]:
    """Run concurrently and merge the states each call knows. A failure (a store write) is
    raised only after every other call has ended and recorded its sends: none is abandoned
    mid-letter."""
    outcomes = await asyncio.gather(*calls, return_exceptions=True)
    merged: dict[str, Document] = {}
    for outcome in outcomes:
        if isinstance(outcome, BaseException):
            raise outcome
        merged |= outcome
    return merged


class Deliverer:
    def __init__(self, settings: NotifySettings, store: NotifyStore) -> None:
        self._settings = settings
        self._store = store
        self._email = EmailSender(settings)
        # one HTTP client (connection pool, TLS context) for the process: building one per batch
        # cost more CPU than the batch's webhooks and SMS together
        self._http: httpx.AsyncClient | None = None
        # sends under way in this process: while others are still out, a result lingers
        # (NotifyStore's result gathering) to share their insert; the last one writes at once
        self._sending = 0
        # one limiter per channel for the whole process: a burst never floods a relay
        self._limiters = {
            Channel.EMAIL: limiter(settings.email_rate_per_s),
            Channel.SMS: limiter(settings.sms_rate_per_s),
            Channel.WEBHOOK: limiter(settings.webhook_rate_per_s),
        }

    async def close(self) -> None:
        """Close the SMTP sessions and HTTP connections kept for reuse (after the consumers
        have drained)."""
        await self._email.close()
        if self._http is not None:
            await self._http.aclose()
            self._http = None

    def _http_client(self) -> httpx.AsyncClient:
        if self._http is None:
            self._http = httpx.AsyncClient(timeout=self._settings.send_timeout_s)
        return self._http

    def claim_on_insert(
        self, documents: Sequence[Document], token: str, at: datetime
    ) -> list[Document]:
        """The notifications to record, each deliverable one already claimed by ``token``:
        whoever inserts it first owns it, as with a claim document, one command fewer."""
        claim = {"status": SENDING, "claim": token, "claimed_at": at}
        return [d | claim if self._skip_reason(d) is None else d for d in documents]

    async def settle(
        self,
        documents: Sequence[Document],
        secrets: Mapping[str, str],
        contexts: Mapping[str, Context] | None = None,
        claimed_by: str | None = None,
    ) -> dict[str, Document]:
        """Bring every given notification to a final state (see the module docstring); return
        the states this run knows — all but those another consumer claimed first.
        ``claimed_by``: this run's token in the notifications it recorded already claimed."""
        contexts = contexts or {}
        known = {d["_id"]: d for d in documents if d["status"] not in (PENDING, SENDING)}
        pending = [d for d in documents if d["status"] == PENDING]
        sending = [d for d in documents if d["status"] == SENDING]
        mine = [d for d in sending if claimed_by is not None and d.get("claim") == claimed_by]
        mine_ids = {d["_id"] for d in mine}
        interrupted = [d for d in sending if d["_id"] not in mine_ids]
        client = self._http_client()
        senders: dict[str, Sender] = {
            Channel.EMAIL.value: self._email,
            Channel.SMS.value: SmsSender(self._settings, client),
            Channel.WEBHOOK.value: WebhookSender(client),
        }
        known |= await self._skip_undeliverable(pending)
        deliverable = [d for d in pending if self._skip_reason(d) is None]
        # Chunks go concurrently: one after the other, a batch of 50 appeals (~170 letters) took
        # five claim-and-send rounds in a row (spans: 1.2 s per batch at 50 appeals/s), while
        # the SMTP session pool, not the chunk, is what bounds the letters in flight.
        send_chunk = self._settings.send_chunk
        known |= await merged_when_all_end(
            [
                *(
                    self._claim_and_send(part, senders, secrets, contexts)
                    for part in chunks(deliverable, send_chunk)
                ),
                *(
                    self._send_all(part, senders, secrets, contexts)
                    for part in chunks(mine, send_chunk)
                ),
            ]
        )
        resend = [d for d in interrupted if self._resend_interrupted(d)]
        unknown = [d for d in interrupted if not self._resend_interrupted(d)]
        known |= await self._finish(
            [(d, self._unknown(d).fields(d.get("attempts") or 0)) for d in unknown]
        )
        for part in chunks(resend, self._settings.send_chunk):
            known |= await self._send_all(part, senders, secrets, contexts)
        return known

    async def _claim_and_send(
        self,
        part: Sequence[Document],
        senders: Mapping[str, Sender],
        secrets: Mapping[str, str],
        contexts: Mapping[str, Context],
    ) -> dict[str, Document]:
        claimed = await self._store.claim(part, uuid.uuid4().hex, utc_now())
        return await self._send_all(claimed, senders, secrets, contexts)

    async def _finish(
        self, results: Sequence[tuple[Document, Mapping[str, Any]]], *, linger: bool = False
    ) -> dict[str, Document]:
        await self._store.finish([(d["_id"], fields) for d, fields in results], linger=linger)
        return {d["_id"]: d | dict(fields) for d, fields in results}

    def _skip_reason(self, document: Document) -> str | None:
        if not document["address"]:
            return "recipient has no address for this channel"
        if document["channel"] == Channel.SMS.value and not self._settings.sms_gateway_url:
            return "SMS gateway not configured"
        return None

    async def _skip_undeliverable(self, pending: Sequence[Document]) -> dict[str, Document]:
        skipped = [
            (d, Result(NotificationStatus.SKIPPED, 0, reason).fields())
            for d in pending
            if (reason := self._skip_reason(d)) is not None
        ]
        return await self._finish(skipped)

    def _resend_interrupted(self, document: Document) -> bool:
        channel = document["channel"]
        if channel == Channel.WEBHOOK.value:
            return True
        if channel == Channel.SMS.value:
            return self._settings.sms_gateway_idempotent
        return self._settings.email_reconcile == "resend"

    @staticmethod
    def _unknown(document: Document) -> Result:
        return Result(
            NotificationStatus.UNKNOWN,
            0,
            "interrupted mid-send; the channel cannot confirm delivery, not resent",
        )

    async def _send_all(
        self,
        documents: Sequence[Document],
        senders: Mapping[str, Sender],
        secrets: Mapping[str, str],
        contexts: Mapping[str, Context],
    ) -> dict[str, Document]:
        """Send concurrently and store each result as its send ends (results that end within
        the result gathering, ``VECHE_RESULT_GATHER_MS``, share one insert; the last send under
        way writes at once): a letter the relay accepted is not left ``sending`` while the rest
        of its chunk is still being sent, so a crash can only catch it in the moment between
        the relay's reply and this write."""
        return await merged_when_all_end(
            self._send_and_record(d, senders, secrets, contexts.get(d["_id"])) for d in documents
        )

    async def _send_and_record(
        self,
        document: Document,
        senders: Mapping[str, Sender],
        secrets: Mapping[str, str],
        context: Context | None,
    ) -> dict[str, Document]:
        self._sending += 1
        try:
            result = await self._send_one(document, senders, secrets, context)
        finally:
            self._sending -= 1
        fields = result.fields(document.get("attempts") or 0)
        return await self._finish([(document, fields)], linger=self._sending > 0)

    async def _send_one(
        self,
        document: Document,
        senders: Mapping[str, Sender],
        secrets: Mapping[str, str],
        context: Context | None,
    ) -> Result:
        channel = document["channel"]
        outgoing = Outgoing(
            key=document["_id"],
            address=document["address"],
            subject=document["subject"],
            body=document["body"],
            secret=secrets.get(document["recipient"]) if channel == Channel.WEBHOOK.value else None,
        )
        started = time.time_ns()
        result = await self._with_retries(senders[channel], Channel(channel), outgoing)
        # an event on the appeal's span, not a child span: 3-4 letters an appeal, and a span
        # costs ~4x an event to make, export and collect
        trace.get_current_span(context).add_event(
            f"notify send {channel}",
            {
                "veche.notification.kind": document["kind"],
                "veche.notification.status": result.status.value,
                "veche.notification.attempts": result.attempts,
                "veche.duration_ms": round((time.time_ns() - started) / 1e6, 3),
            },
            timestamp=started,
        )
        return result

    async def _with_retries(self, sender: Sender, channel: Channel, outgoing: Outgoing) -> Result:
        """Send; on a transient failure retry with exponential backoff and jitter.

        The first attempt goes straight out: tenacity's machinery (a retry state built per call,
        ~5 % of notify's py-spy samples at 50 appeals/s when built for every letter) is set up
        only once a transient failure calls for backoff. The waits are tenacity's own sequence.
        """
        try:
            reference = await self._attempt(sender, channel, outgoing)
        except DeliveryError as error:
            if not error.transient or self._settings.delivery_attempts == 1:
                return self._failure(error, 1)
            return await self._retry(sender, channel, outgoing)
        except Exception as error:  # a sender bug must not leave the message in limbo
            return self._sender_bug(error, channel, 1)
        return Result(NotificationStatus.SENT, 1, provider_ref=reference)

    async def _retry(self, sender: Sender, channel: Channel, outgoing: Outgoing) -> Result:
        """Attempts 2..n after a transient failure of the first."""
        s = self._settings
        # the wait tenacity's exponential jitter gives after attempt 1: initial + up to initial
        await asyncio.sleep(min(s.retry_max_s, s.retry_initial_s * (1 + random.random())))
        attempts = 1
        try:
            async for attempt in AsyncRetrying(
                retry=retry_if_exception(is_transient),
                stop=stop_after_attempt(s.delivery_attempts - 1),
                # the sequence goes on where the first wait left it: twice the first backoff
                wait=wait_exponential_jitter(
                    multiplier=2 * s.retry_initial_s, max=s.retry_max_s, jitter=s.retry_initial_s
                ),
                reraise=True,
            ):
                with attempt:
                    attempts += 1
                    reference = await self._attempt(sender, channel, outgoing)
        except DeliveryError as error:
            return self._failure(error, attempts)
        except Exception as error:  # a sender bug must not leave the message in limbo
            return self._sender_bug(error, channel, attempts)
        return Result(NotificationStatus.SENT, attempts, provider_ref=reference)

    async def _attempt(self, sender: Sender, channel: Channel, outgoing: Outgoing) -> str:
        async with self._limiters[channel]:
            return await sender.send(outgoing)

    @staticmethod
    def _failure(error: DeliveryError, attempts: int) -> Result:
        status = NotificationStatus.GAVE_UP if error.transient else NotificationStatus.FAILED
        return Result(status, attempts, error.reason)

    @staticmethod
    def _sender_bug(error: Exception, channel: Channel, attempts: int) -> Result:
        log.exception("unexpected send failure", extra={"channel": channel.value})
        return Result(NotificationStatus.FAILED, attempts, f"error {type(error).__name__}")
