"""Turning a citizen's submission into a registered appeal (pure: no I/O)."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field
from veche_shared.events import AppealReceivedV1, AppealSnapshot, Channel, Contact, Location


class AppealSubmission(BaseModel):
    """The body of ``POST /appeals``. Unknown fields are an error: a typo must not pass silently."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    text: str = Field(
        min_length=1, max_length=10_000, description="the appeal in the citizen's words"
    )
    title: str | None = Field(default=None, max_length=300)
    channel: Channel = Channel.PORTAL
    contact: Contact = Field(default_factory=Contact)
    location: Location = Field(default_factory=Location)
    external_ref: str | None = Field(
        default=None, max_length=200, description="the sending system's own id"
    )


def registration_number(region_code: str, year: int, sequence: int) -> str:
    """``71-2026-000123``: region, year, then a per-region-and-year sequence."""
    if not 0 < sequence < 1_000_000:
        raise ValueError(f"registration sequence out of range: {sequence}")
    return f"{region_code}-{year:04d}-{sequence:06d}"


def counter_key(region_code: str, year: int) -> str:
    return f"registration:{region_code}:{year:04d}"


def register(
    submission: AppealSubmission,
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
        channel=submission.channel,
        title=submission.title,
        text=submission.text,
        location=submission.location,
        contact=submission.contact,
        external_ref=submission.external_ref,
    )
    return AppealReceivedV1(appeal_id=appeal_id, occurred_at=registered_at, appeal=snapshot)
