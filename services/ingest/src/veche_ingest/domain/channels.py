"""Each channel's own record, validated strictly and mapped onto one :class:`Intake`."""

from __future__ import annotations

import hashlib
import json
from pathlib import PurePosixPath
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, HttpUrl
from veche_shared.events import Attachment, Channel, Contact, Location, Source, Urgency

from .intake import MAX_TEXT, Intake

URGENCY_ORDER = (Urgency.LOW, Urgency.MEDIUM, Urgency.HIGH, Urgency.CRITICAL)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class HotlineCall(_Strict):
    """A call-centre record of the governor's hotline."""

    call_id: str = Field(min_length=1, max_length=100, examples=["HL-2026-11-22-0042"])
    operator_id: str = Field(min_length=1, max_length=100, examples=["op-17"])
    call_started_at: AwareDatetime
    transcript: str = Field(
        min_length=1,
        max_length=MAX_TEXT,
        examples=[
            "Заявитель сообщает, что в доме 12 по ул. Садовой в Новомосковске нет отопления."
        ],
    )
    caller: Contact = Field(default_factory=Contact)
    location: Location = Field(default_factory=Location)

    def to_intake(self) -> Intake:
        return Intake(
            channel=Channel.HOTLINE,
            text=self.transcript,
            contact=self.caller,
            location=self.location,
            source=Source(
                system="hotline", operator_id=self.operator_id, occurred_at=self.call_started_at
            ),
            external_ref=self.call_id,
        )


class EddsIncident(_Strict):
    """An incident passed on by the duty-dispatch service (ЕДДС)."""

    incident_id: str = Field(min_length=1, max_length=100, examples=["EDDS-71-000913"])
    severity: Urgency = Field(examples=["critical"])
    reported_at: AwareDatetime
    description: str = Field(
        min_length=1,
        max_length=MAX_TEXT,
        examples=["Поступило сообщение о запахе газа в подъезде дома 3 по ул. Ленина, г. Щёкино."],
    )
    location: Location = Field(default_factory=Location)
    reporter: Contact = Field(default_factory=Contact)

    def to_intake(self) -> Intake:
        return Intake(
            channel=Channel.EDDS,
            text=self.description,
            contact=self.reporter,
            location=self.location,
            source=Source(
                system="edds", occurred_at=self.reported_at, severity=self.severity.value
            ),
            external_ref=self.incident_id,
            # ЕДДС passes on incidents, not wishes: never below high downstream
            urgency_hint=max(self.severity, Urgency.HIGH, key=URGENCY_ORDER.index),
        )


class SocialPost(_Strict):
    post_id: str | None = Field(default=None, max_length=200)
    author_handle: str = Field(min_length=1, max_length=200)
    url: HttpUrl
    text: str = Field(min_length=1, max_length=MAX_TEXT)
    published_at: AwareDatetime

    def to_intake(self, source: str) -> Intake:
        channel = Channel.POS if source == "pos" else Channel.SOCIAL
        return Intake(
            channel=channel,
            text=self.text,
            source=Source(system=source, occurred_at=self.published_at, url=self.url),
            external_ref=f"{source}:{self.post_id or self.url}",
        )


class SocialBatch(_Strict):
    posts: list[SocialPost] = Field(min_length=1, max_length=500)


class Open311Request(_Strict):
    """``POST requests.json`` fields of GeoReport v2 (form-encoded)."""

    service_code: str
    description: str = Field(min_length=1, max_length=MAX_TEXT)
    lat: float | None = Field(default=None, ge=-90, le=90)
    long: float | None = Field(default=None, ge=-180, le=180)
    address_string: str | None = Field(default=None, max_length=500)
    email: str | None = None
    first_name: str | None = Field(default=None, max_length=100)
    last_name: str | None = Field(default=None, max_length=100)
    phone: str | None = None
    media_url: HttpUrl | None = None

    def to_intake(self) -> Intake:
        name = " ".join(p for p in (self.first_name, self.last_name) if p) or None
        attachments = (
            (
                Attachment(
                    name=PurePosixPath(self.media_url.path or "/media").name or "media",
                    content_type="application/octet-stream",
                    size_bytes=0,
                    url=self.media_url,
                ),
            )
            if self.media_url
            else ()
        )
        return Intake(
            channel=Channel.OPEN311,
            text=self.description,
            contact=Contact(name=name, email=self.email or None, phone=self.phone or None),
            location=Location(address=self.address_string, lat=self.lat, lon=self.long),
            attachments=attachments,
            topic_hint=self.service_code,
        )


class ImportRow(_Strict):
    """One row of a batch import (CSV columns or JSON Lines keys)."""

    text: str = Field(min_length=1, max_length=MAX_TEXT)
    external_id: str | None = Field(default=None, max_length=200)
    title: str | None = Field(default=None, max_length=300)
    channel: Channel = Channel.IMPORT
    name: str | None = Field(default=None, max_length=200)
    email: str | None = None
    phone: str | None = None
    postal_address: str | None = Field(default=None, max_length=500)
    address: str | None = Field(default=None, max_length=500)
    lat: float | None = None
    lon: float | None = None

    @classmethod
    def from_raw(cls, raw: dict[str, Any]) -> ImportRow:
        # CSV gives "" for empty cells: treat them as absent
        return cls.model_validate({k: v for k, v in raw.items() if v not in ("", None)})

    def to_intake(self) -> Intake:
        return Intake(
            channel=self.channel,
            text=self.text,
            title=self.title,
            contact=Contact(
                name=self.name,
                email=self.email,
                phone=self.phone,
                postal_address=self.postal_address,
            ),
            location=Location(address=self.address, lat=self.lat, lon=self.lon),
            external_ref=f"import:{self.external_id or self.content_digest()}",
        )

    def content_digest(self) -> str:
        """Rows without an id are identified by their content: re-importing creates nothing."""
        canonical = json.dumps(self.model_dump(mode="json"), sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(canonical.encode()).hexdigest()[:32]
