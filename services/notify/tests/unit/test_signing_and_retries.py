import hashlib
import hmac

import pytest
from aiosmtplib import SMTPRecipientsRefused, SMTPResponseException, SMTPServerDisconnected
from aiosmtplib.errors import SMTPRecipientRefused
from veche_notify.channels import (
    DeliveryError,
    Outgoing,
    is_transient_http,
    message_id,
    normalise_phone,
    smtp_error,
)
from veche_notify.delivery import Deliverer
from veche_notify.domain.plan import Channel
from veche_notify.domain.signing import sign, signature_headers, verify
from veche_notify.settings import NotifySettings
from veche_shared.events import NotificationStatus

BODY = b'{"delivery_id":"a:webhook.appeal.routed:subscriber:s1:webhook"}'


def test_signature_is_hmac_sha256_of_timestamp_dot_body_as_documented():
    expected = hmac.new(b"topsecret-topsecret", b"1700000000." + BODY, hashlib.sha256)
    assert sign("topsecret-topsecret", 1700000000, BODY) == "v1=" + expected.hexdigest()


def test_receiver_verifies_a_fresh_signature_and_rejects_tampering_and_replays():
    headers = signature_headers("topsecret-topsecret", BODY, timestamp=1700000000)
    stamp, signature = headers["X-Veche-Timestamp"], headers["X-Veche-Signature"]
    assert verify("topsecret-topsecret", BODY, stamp, signature, now=1700000100)
    assert not verify("topsecret-topsecret", BODY + b" ", stamp, signature, now=1700000100)
    assert not verify("another-secret-00", BODY, stamp, signature, now=1700000100)
    assert not verify("topsecret-topsecret", BODY, "1700000001", signature, now=1700000100)
    assert not verify("topsecret-topsecret", BODY, stamp, signature, now=1700000000 + 301)
    assert not verify("topsecret-topsecret", BODY, "soon", signature, now=1700000100)
    rotated = f"v1=deadbeef, {signature}"
    assert verify("topsecret-topsecret", BODY, stamp, rotated, now=1700000100)


@pytest.mark.parametrize(
    ("status", "transient"),
    [
        (400, False),
        (401, False),
        (404, False),
        (409, False),
        (410, False),
        (422, False),
        (429, True),
        (500, True),
        (502, True),
        (503, True),
        (504, True),
    ],
)
def test_http_retry_classification_retries_5xx_and_429_never_other_4xx(status, transient):
    assert is_transient_http(status) is transient


def test_smtp_4xx_and_lost_connections_are_transient_5xx_is_permanent():
    assert smtp_error(SMTPResponseException(451, "try later")).transient
    assert not smtp_error(SMTPResponseException(550, "no such user")).transient
    assert smtp_error(SMTPServerDisconnected("gone")).transient
    refused = SMTPRecipientsRefused([SMTPRecipientRefused(550, "unknown", "x@example.org")])
    assert not smtp_error(refused).transient


def test_message_id_is_deterministic_per_notification():
    assert message_id("k1", "veche.local") == message_id("k1", "veche.local")
    assert message_id("k1", "veche.local") != message_id("k2", "veche.local")


def test_russian_phone_numbers_are_normalised_to_e164():
    assert normalise_phone("8 (910) 123-45-67") == "+79101234567"
    assert normalise_phone("+7 910 123 45 67") == "+79101234567"


class ScriptedSender:
    """Fails with the given errors in turn, then succeeds."""

    def __init__(self, *errors: Exception) -> None:
        self.errors = list(errors)
        self.calls = 0

    async def send(self, outgoing: Outgoing) -> str:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return "ok"


def deliverer(attempts: int = 4) -> Deliverer:
    settings = NotifySettings(delivery_attempts=attempts, retry_initial_s=0.001, retry_max_s=0.002)
    return Deliverer(settings, store=None)  # type: ignore[arg-type]  # retries need no store


OUTGOING = Outgoing("k", "http://example.org/hook", "appeal.routed", "{}", "s" * 16)


async def test_transient_failures_are_retried_until_success():
    sender = ScriptedSender(
        DeliveryError("HTTP 503", transient=True), DeliveryError("timeout", transient=True)
    )
    result = await deliverer()._with_retries(sender, Channel.WEBHOOK, OUTGOING)
    assert (result.status, result.attempts, sender.calls) == (NotificationStatus.SENT, 3, 3)


async def test_retries_stop_at_the_limit_and_give_up_with_the_last_reason():
    sender = ScriptedSender(*[DeliveryError("HTTP 503", transient=True)] * 10)
    result = await deliverer(attempts=4)._with_retries(sender, Channel.WEBHOOK, OUTGOING)
    assert (result.status, result.attempts, result.reason) == (
        NotificationStatus.GAVE_UP,
        4,
        "HTTP 503",
    )


async def test_a_permanent_failure_after_a_transient_one_stops_the_retries():
    sender = ScriptedSender(
        DeliveryError("HTTP 503", transient=True), DeliveryError("HTTP 410", transient=False)
    )
    result = await deliverer()._with_retries(sender, Channel.WEBHOOK, OUTGOING)
    assert (result.status, result.attempts, result.reason, sender.calls) == (
        NotificationStatus.FAILED,
        2,
        "HTTP 410",
        2,
    )


async def test_one_attempt_allowed_gives_up_after_the_first_transient_failure():
    sender = ScriptedSender(DeliveryError("HTTP 503", transient=True))
    result = await deliverer(attempts=1)._with_retries(sender, Channel.WEBHOOK, OUTGOING)
    assert (result.status, result.attempts, sender.calls) == (NotificationStatus.GAVE_UP, 1, 1)


async def test_a_sender_bug_fails_the_notification_instead_of_escaping():
    for errors in (
        [RuntimeError("bug")],
        [DeliveryError("HTTP 503", transient=True), KeyError("x")],
    ):
        sender = ScriptedSender(*errors)
        result = await deliverer()._with_retries(sender, Channel.WEBHOOK, OUTGOING)
        assert (result.status, result.attempts) == (NotificationStatus.FAILED, len(errors))
        assert result.reason == f"error {type(errors[-1]).__name__}"


async def test_a_permanent_failure_is_not_retried():
    sender = ScriptedSender(DeliveryError("HTTP 404", transient=False))
    result = await deliverer()._with_retries(sender, Channel.WEBHOOK, OUTGOING)
    assert (result.status, result.attempts, sender.calls) == (NotificationStatus.FAILED, 1, 1)
