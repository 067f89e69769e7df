from __future__ import annotations

from pathlib import Path
from typing import ClassVar, Literal

from pydantic import Field, SecretStr
from veche_shared.settings import ServiceSettings


class NotifySettings(ServiceSettings):
    service_name: ClassVar[str] = "notify"
    default_http_port: ClassVar[int] = 8003

    templates_override_dir: Path | None = Field(
        default=None, description="folder whose templates override the built-in ones (per region)"
    )
    # e-mail
    smtp_host: str = Field(default="127.0.0.1", description="SMTP relay host")
    smtp_port: int = Field(default=1025, description="SMTP relay port (1025: the local mail sink)")
    smtp_username: str | None = Field(default=None, description="SMTP login (unset: no AUTH)")
    smtp_password: SecretStr | None = Field(default=None, description="SMTP password")
    smtp_starttls: bool = Field(
        default=False, description="upgrade the SMTP connection with STARTTLS"
    )
    # A letter is four round trips (MAIL, RCPT, DATA, the text) on one session, so letters per
    # second are at most sessions / (4 x round trip): 8 sessions capped a burst at ~200 letters/s
    # on a busy machine (notify waited on the relay, not on CPU). Relays commonly allow 50
    # concurrent sessions per client (Postfix's default).
    smtp_connections: int = Field(
        default=32, ge=1, le=100, description="SMTP sessions kept open and reused for letters"
    )
    smtp_idle_s: float = Field(
        default=30.0, gt=0, description="an SMTP session idle this long is closed, not reused"
    )
    mail_from: str = Field(
        default="Veche <noreply@veche.local>", description="From: of every letter"
    )
    message_id_domain: str = Field(
        default="veche.local", description="right-hand side of the deterministic Message-ID"
    )
    email_reconcile: Literal["unknown", "resend"] = Field(
        default="resend",
        description="a letter interrupted mid-send: resend with the same Message-ID (no loss; "
        "a duplicate if the relay had accepted it) or report unknown (no duplicate; lost if not)",
    )
    # SMS
    sms_gateway_url: str | None = Field(
        default=None, description="SMS gateway JSON endpoint (unset: SMS recorded as skipped)"
    )
    sms_gateway_token: SecretStr | None = Field(
        default=None, description="bearer token for the SMS gateway"
    )
    sms_sender: str = Field(default="Veche", description="SMS sender name")
    sms_gateway_idempotent: bool = Field(
        default=False,
        description="the gateway deduplicates by Idempotency-Key, so an interrupted SMS is resent",
    )
    # delivery
    send_timeout_s: float = Field(default=10.0, gt=0, description="timeout of one send attempt")
    delivery_attempts: int = Field(default=5, ge=1, description="attempts per notification")
    retry_initial_s: float = Field(default=0.5, gt=0, description="first retry backoff")
    retry_max_s: float = Field(default=8.0, gt=0, description="largest retry backoff")
    email_rate_per_s: float = Field(default=20.0, gt=0, description="e-mails per second at most")
    sms_rate_per_s: float = Field(default=10.0, gt=0, description="SMS per second at most")
    webhook_rate_per_s: float = Field(
        default=50.0, gt=0, description="webhook deliveries per second at most"
    )
    send_chunk: int = Field(
        default=40, ge=1, le=40, description="notifications claimed and sent together"
    )
    result_gather_ms: float = Field(
        default=10.0,
        ge=0,
        le=1000,
        description="a send's result waits this long for others to share its insert",
    )
