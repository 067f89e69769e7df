"""The notify service, as its own OS process, SIGKILLed in the middle of sending, then restarted.

Real Kafka, FerretDB and an in-process aiosmtpd server. The server holds the two letters of one
routed event at the end of DATA, before its reply, and the test kills the process at the two
moments that matter for e-mail:

* ``registered`` (to the citizen) — killed *before* the server's 250. The server keeps a letter
  only when it replies 250 (what "accepted" means in SMTP); aiosmtpd cancels the handler when
  the client's connection drops, so the held letter is gone. A lost letter unless resent.
* ``assigned`` (to the executor) — the server stored the letter as soon as the final dot
  arrived (as an MTA writes its queue file before replying), the process is frozen (SIGSTOP),
  the 250 is sent into its socket, then it is killed: it never read the reply nor marked the
  letter ``sent``. This is the residual window, made deterministic.

Restarted with ``VECHE_EMAIL_RECONCILE=resend`` the service finds both letters ``sending``
(Kafka redelivers the uncommitted event) and resends them with the same Message-ID.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from email import policy
from email.parser import BytesParser
from pathlib import Path
from typing import Any, TypeVar

import pytest
from aiosmtpd.smtp import SMTP, Envelope, Session
from veche_notify.mail_sink import KeepLetters, letters, serve_smtp
from veche_notify.settings import NotifySettings
from veche_notify.storage import NotifyStore
from veche_shared.events import AppealNotifiedV1
from veche_shared.testing.app_runner import free_port
from veche_shared.testing.kafka_tools import TopicReader, produce
from veche_shared.topics import APPEALS_NOTIFIED, APPEALS_ROUTED

from ..unit.factories import routed

pytestmark = pytest.mark.integration

T = TypeVar("T")
ON_REPLY = "stored only with the 250 reply"
ON_ARRIVAL = "stored when the final dot arrives, before the reply"


def kind_of(notification_key: str) -> str:
    """``appeal:kind[.occasion]:role:recipient:channel`` → kind."""
    return notification_key.split(":")[1].split(".")[0]


def notification_kind(content: bytes) -> str:
    message = BytesParser(policy=policy.default).parsebytes(content)
    return kind_of(str(message["X-Veche-Notification"]))


@dataclass
class Hold:
    stored: str
    arrived: asyncio.Event = field(default_factory=asyncio.Event)
    release: asyncio.Event = field(default_factory=asyncio.Event)
    replied: asyncio.Event = field(default_factory=asyncio.Event)
    dropped: asyncio.Event = field(default_factory=asyncio.Event)


class HoldingSink(KeepLetters):
    """Keeps letters like the mail sink; holds the first letter of each listed kind
    at the end of DATA until the test releases it."""

    def __init__(self, folder: Path, holds: dict[str, Hold]) -> None:
        super().__init__(folder)
        self.holds = holds

    async def handle_DATA(  # noqa: N802 (the name aiosmtpd calls)
        self, server: SMTP, session: Session, envelope: Envelope
    ) -> str:
        hold = self.holds.pop(notification_kind(envelope.original_content or b""), None)
        if hold is None:
            return await super().handle_DATA(server, session, envelope)
        if hold.stored == ON_ARRIVAL:
            await super().handle_DATA(server, session, envelope)
        hold.arrived.set()
        try:
            await hold.release.wait()
        except asyncio.CancelledError:  # aiosmtpd: the client's connection is gone
            hold.dropped.set()
            raise
        if hold.stored == ON_REPLY:
            await super().handle_DATA(server, session, envelope)
        # aiosmtpd writes the reply to the socket right after this returns, before it next
        # yields to the event loop, so a waiter woken by this event runs after the write
        hold.replied.set()
        return "250 Message accepted for delivery"


@dataclass
class NotifyProcess:
    """``python -m veche_notify`` with its environment, as deploy runs it."""

    env: dict[str, str]
    log: Path
    child: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as log:
            self.child = subprocess.Popen(
                [sys.executable, "-m", "veche_notify"],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )

    async def watched(self, awaitable: Awaitable[T], timeout: float) -> T:
        """Await while the process lives; fail at once, with its log, if it died or timed out."""
        task = asyncio.ensure_future(awaitable)
        deadline = asyncio.get_running_loop().time() + timeout
        try:
            while not task.done():
                assert self.child is not None
                if self.child.poll() is not None:
                    raise RuntimeError(f"notify exited:\n{self.log.read_text()[-3000:]}")
                if asyncio.get_running_loop().time() > deadline:
                    raise TimeoutError(f"notify's log:\n{self.log.read_text()[-3000:]}")
                await asyncio.wait({task}, timeout=0.1)
        finally:
            task.cancel()
        return task.result()

    def signal(self, sig: signal.Signals) -> None:
        assert self.child is not None
        self.child.send_signal(sig)

    async def kill(self) -> None:
        if self.child is not None and self.child.poll() is None:
            self.child.kill()  # SIGKILL: no shutdown hook, no offset commit, no store write
            await asyncio.to_thread(self.child.wait)

    async def stop(self) -> None:
        """SIGTERM: the service leaves the consumer group, so the next test's consumers need not
        wait out a dead member's session timeout."""
        if self.child is not None and self.child.poll() is None:
            self.child.send_signal(signal.SIGCONT)  # in case a failed test left it frozen
            self.child.terminate()
            try:
                await asyncio.to_thread(self.child.wait, 20)
            except subprocess.TimeoutExpired:
                await self.kill()


@asynccontextmanager
async def notify_process(env: dict[str, str], log: Path) -> AsyncIterator[NotifyProcess]:
    process = NotifyProcess(env, log)
    try:
        yield process
    finally:
        await process.stop()


def service_env(namespace: str, infra: Any, smtp_port: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VECHE_")}
    return env | {
        "VECHE_NAMESPACE": namespace,
        "VECHE_KAFKA_BOOTSTRAP": infra.kafka_bootstrap,
        "VECHE_MONGO_URL": infra.mongo_url,
        "VECHE_HTTP_PORT": str(free_port()),
        "VECHE_SMTP_HOST": "127.0.0.1",
        "VECHE_SMTP_PORT": str(smtp_port),
        "VECHE_EMAIL_RECONCILE": "resend",
        "VECHE_BATCH_TIMEOUT_MS": "20",
        "VECHE_LOG_LEVEL": "WARNING",
    }


async def statuses(store: NotifyStore, event: Any) -> dict[str, str]:
    return {d["kind"]: d["status"] for d in await store.for_appeal(str(event.appeal_id))}


def outcomes_of(records: list[Any], event: Any) -> list[AppealNotifiedV1]:
    notified = (AppealNotifiedV1.from_bytes(r.value) for r in records)
    return [n for n in notified if n.appeal_id == event.appeal_id]


async def test_killed_mid_send_and_restarted_loses_no_letter_and_marks_each_sent(
    infra, topics, mongo, tmp_path
):
    holds = {"registered": Hold(ON_REPLY), "assigned": Hold(ON_ARRIVAL)}
    registered, assigned = holds["registered"], holds["assigned"]
    mail = tmp_path / "mail"
    smtp = await serve_smtp(mail, handler=HoldingSink(mail, holds))
    env = service_env(topics, infra, smtp.sockets[0].getsockname()[1])
    store = NotifyStore(mongo, NotifySettings(namespace=topics).database)
    event = routed(redirected=False, appeal_id=str(uuid.uuid4()), sequence=11)
    bootstrap = infra.kafka_bootstrap
    try:
        async with (
            notify_process(env, tmp_path / "notify.log") as notify,
            TopicReader(bootstrap, APPEALS_NOTIFIED.qualified(topics)) as out,
        ):
            notify.start()
            await produce(bootstrap, APPEALS_ROUTED.qualified(topics), [event.to_bytes()])
            await notify.watched(
                asyncio.gather(registered.arrived.wait(), assigned.arrived.wait()), timeout=60
            )
            notify.signal(signal.SIGSTOP)  # frozen: it can no longer read a reply
            assigned.release.set()
            await asyncio.wait_for(assigned.replied.wait(), 5)
            await notify.kill()
            await asyncio.wait_for(registered.dropped.wait(), 5)
            registered.release.set()

            assert await statuses(store, event) == {"registered": "sending", "assigned": "sending"}
            before_restart = [kind_of(x.notification) for x in letters(mail)]
            assert before_restart == ["assigned"]  # only the letter the server replied 250 to
            await out.settle(quiet=0.5)
            assert outcomes_of(out.records, event) == []

            notify.start()  # Kafka redelivers the event: its offset was never committed
            await notify.watched(
                out.wait_for(lambda records: bool(outcomes_of(records, event)), timeout=60), 60
            )
            records = await out.settle(quiet=1.0)
            final = await statuses(store, event)
    finally:
        smtp.close()
        await smtp.wait_closed()

    received = letters(mail)
    per_kind = Counter(kind_of(x.notification) for x in received)
    # killed before the 250: the server kept nothing, so the resend is the one and only copy
    assert per_kind["registered"] == 1
    # killed after the 250, before "sent" was stored: a second copy with the same Message-ID
    assert per_kind["assigned"] == 2
    assert len({x.message_id for x in received if kind_of(x.notification) == "assigned"}) == 1
    assert final == {"registered": "sent", "assigned": "sent"}
    notified = outcomes_of(records, event)
    assert len(notified) == 1  # one outcome for the event, though it was consumed twice
    assert {(n.kind, n.status.value) for n in notified[0].notifications} == {
        ("registered", "sent"),
        ("assigned", "sent"),
    }
