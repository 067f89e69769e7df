"""Turning what a channel received into a registered appeal (pure: no I/O)."""

from __future__ import annotations

import hashlib
import re
import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field
from veche_shared.events import (
    AppealReceivedV1,
    AppealSnapshot,
    Attachment,
    Channel,
    Consent,
    Contact,
    Location,
    Source,
    Urgency,
)

MAX_TEXT = 10_000
_LETTERS = re.compile(r"[A-Za-zА-Яа-яЁё]{2,}")


class Intake(BaseModel):
    """An appeal as any channel delivers it, before registration."""

    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)

    channel: Channel
    text: str = Field(min_length=1, max_length=MAX_TEXT)
    title: str | None = Field(default=None, max_length=300)
    contact: Contact = Field(default_factory=Contact)
    location: Location = Field(default_factory=Location)
    attachments: tuple[Attachment, ...] = Field(default=(), max_length=20)
    consent: Consent = Field(default_factory=Consent)
    source: Source = Field(default_factory=Source)
    external_ref: str | None = Field(default=None, max_length=200)
    urgency_hint: Urgency | None = None
    topic_hint: str | None = None


class AppealSubmission(BaseModel):
    """The body of ``POST /appeals``. Unknown fields are an error: a typo must not pass silently."""

    model_config = ConfigDict(
        extra="forbid",
        str_strip_whitespace=True,
        json_schema_extra={
            "examples": [
                {
                    "text": "Во дворе дома 5 по улице Мира в Алексине третью неделю "
                    "не горят фонари.",
                    "title": "Не горят фонари во дворе",
                    "contact": {"name": "Иван Петров", "email": "ivan@example.org"},
                    "location": {"address": "Алексин, ул. Мира, 5"},
                    "consent": {"personal_data": True},
                }
            ]
        },
    )

    text: str = Field(
        min_length=1, max_length=MAX_TEXT, description="the appeal in the citizen's words"
    )
    title: str | None = Field(default=None, max_length=300)
    channel: Channel = Field(
        default=Channel.PORTAL, description="portal, or the sending system's channel"
    )
    contact: Contact = Field(default_factory=Contact)
    location: Location = Field(default_factory=Location)
    attachments: list[Attachment] = Field(default_factory=list, max_length=20)
    consent: Consent = Field(default_factory=Consent)
    external_ref: str | None = Field(
        default=None, max_length=200, description="the sending system's own id (deduplicates)"
    )

    def to_intake(self) -> Intake:
        return Intake(
            channel=self.channel,
            text=self.text,
            title=self.title,
            contact=self.contact,
            location=self.location,
            attachments=tuple(self.attachments),
            consent=self.consent,
            external_ref=self.external_ref,
        )


def intake_flags(intake: Intake) -> tuple[str, ...]:
    """59-ФЗ ст. 11 signals visible at intake: recorded, never used to drop an appeal."""
    flags: list[str] = []
    if intake.contact.is_anonymous:
        flags.append("anonymous")  # no address to answer to (ст. 11 ч. 1)
    if len(_LETTERS.findall(intake.text)) < 3:
        flags.append("no_essence")  # the text may not state a question (ст. 11 ч. 4.1)
    return tuple(flags)


def idempotency_key(intake: Intake, header_key: str | None) -> str | None:
    """The key that makes a repeated submission return the original appeal."""
    if header_key:
        return f"header:{hashlib.sha256(header_key.encode()).hexdigest()[:40]}"
    if intake.external_ref:
        return f"ref:{intake.channel.value}:{intake.external_ref}"
    return None


def intake_fingerprint(intake: Intake) -> str:
    """What must match for a repeat of the same key to be the same request."""
    canonical = intake.model_dump_json(exclude={"source"})
    return hashlib.sha256(canonical.encode()).hexdigest()


def registration_number(region_code: str, year: int, sequence: int) -> str:
    """``71-2026-000123``: region, year, then a per-region-and-year sequence."""
    if not 0 < sequence < 1_000_000:
        raise ValueError(f"registration sequence out of range: {sequence}")
    return f"{region_code}-{year:04d}-{sequence:06d}"


def counter_key(region_code: str, year: int) -> str:
    return f"registration:{region_code}:{year:04d}"


def register(
    intake: Intake,
    *,
    appeal_id: uuid.UUID,
    region_code: str,
    sequence: int,
    registered_at: datetime,
) -> AppealReceivedV1:
    snapshot = AppealSnapshot(
        registration_number=registration_number(region_code, registered_at.year, sequence),
        registered_at=registered_at,
        region_code=region_code,
        channel=intake.channel,
        title=intake.title,
        text=intake.text,
        location=intake.location,
        contact=intake.contact,
        external_ref=intake.external_ref,
        attachments=intake.attachments,
        consent=intake.consent,
        source=intake.source,
        urgency_hint=intake.urgency_hint,
        topic_hint=intake.topic_hint,
        flags=intake_flags(intake),
    )
    return AppealReceivedV1(appeal_id=appeal_id, occurred_at=registered_at, appeal=snapshot)
