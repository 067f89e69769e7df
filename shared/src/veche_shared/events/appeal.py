"""Version 1 of the appeal pipeline contracts: received -> classified -> routed -> notified.

Every event carries the appeal snapshot the next stage needs, so no service calls another.
Personal data (contact) travels only inside the event body, never in headers, logs or spans.
"""

from __future__ import annotations

from enum import StrEnum
from typing import ClassVar

from pydantic import AwareDatetime, Field, HttpUrl

from .base import Contract, Event
from .email import EmailAddress


class Channel(StrEnum):
    PORTAL = "portal"
    OPEN311 = "open311"
    HOTLINE = "hotline"
    EDDS = "edds"
    POS = "pos"
    SOCIAL = "social"
    IMPORT = "import"


class Urgency(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"


class Location(Contract):
    address: str | None = Field(default=None, max_length=500)
    lat: float | None = Field(default=None, ge=-90, le=90)
    lon: float | None = Field(default=None, ge=-180, le=180)


class Contact(Contract):
    """How the citizen asked to be answered. Personal data: never log it."""

    name: str | None = Field(default=None, max_length=200)
    email: EmailAddress | None = None
    phone: str | None = Field(default=None, pattern=r"^\+?[0-9][0-9 ()\-]{6,20}$")
    postal_address: str | None = Field(default=None, max_length=500)

    @property
    def is_anonymous(self) -> bool:
        return not (self.email or self.phone or self.postal_address)


class Attachment(Contract):
    """Metadata only: files stay where the sending system keeps them."""

    name: str = Field(min_length=1, max_length=255)
    content_type: str = Field(max_length=100, pattern=r"^[\w.+-]+/[\w.+-]+$")
    size_bytes: int = Field(ge=0, le=100 * 1024 * 1024)
    url: HttpUrl


class Consent(Contract):
    personal_data: bool = Field(default=False, description="consent to process personal data")
    publication: bool = Field(default=False, description="the answer may be published")


class Source(Contract):
    """Where the appeal came from, channel by channel (no personal data)."""

    system: str | None = Field(default=None, max_length=100, description="sending system")
    operator_id: str | None = Field(default=None, max_length=100, description="hotline operator")
    occurred_at: AwareDatetime | None = Field(
        default=None, description="call / post / incident time"
    )
    url: HttpUrl | None = Field(default=None, description="social-media post")
    severity: str | None = Field(default=None, max_length=20, description="ЕДДС severity")


class AppealSnapshot(Contract):
    """The appeal as registered by ingest; copied forward so later stages need no lookup."""

    registration_number: str = Field(pattern=r"^\d{2}-\d{4}-\d{6}$")
    registered_at: AwareDatetime
    region_code: str = Field(pattern=r"^\d{2}$")
    channel: Channel
    title: str | None = Field(default=None, max_length=300)
    text: str = Field(min_length=1, max_length=10_000)
    location: Location = Field(default_factory=Location)
    contact: Contact = Field(default_factory=Contact)
    external_ref: str | None = Field(default=None, max_length=200)
    attachments: tuple[Attachment, ...] = Field(default=(), max_length=20)
    consent: Consent = Field(default_factory=Consent)
    source: Source = Field(default_factory=Source)
    urgency_hint: Urgency | None = Field(
        default=None, description="a floor set by the channel (ЕДДС incidents are at least high)"
    )
    topic_hint: str | None = Field(default=None, description="e.g. the Open311 service code chosen")
    flags: tuple[str, ...] = Field(default=(), description="intake moderation flags (59-ФЗ ст. 11)")


class AppealReceivedV1(Event):
    schema_name: ClassVar[str] = "appeal.received"
    appeal: AppealSnapshot


class TopicScore(Contract):
    topic: str
    confidence: float = Field(ge=0, le=1)


class LocationMention(Contract):
    """A place named in the appeal text (may be personal data: an address)."""

    kind: str = Field(description="settlement | street | house | place (from NER)")
    text: str = Field(max_length=300)
    name: str | None = Field(default=None, max_length=200)
    house: str | None = Field(default=None, max_length=50)


class Classification(Contract):
    topic: str
    confidence: float = Field(ge=0, le=1)
    alternatives: tuple[TopicScore, ...] = ()
    urgency: Urgency
    location_mentions: tuple[str, ...] = ()
    classifier: str = Field(description="name and version of the model that decided")
    locations: tuple[LocationMention, ...] = Field(default=(), description="structured mentions")
    flags: tuple[str, ...] = Field(
        default=(),
        description="moderation: obscene, threat, no_essence, third_party_personal_data",
    )
    urgency_rules: tuple[str, ...] = Field(
        default=(), description="rules that raised urgency: threat_to_life, winter_outage"
    )
    incident_id: str | None = Field(
        default=None, description="near-duplicate appeals about one problem share it"
    )
    needs_review: bool = Field(default=False, description="confidence below the review threshold")
    corrected: bool = Field(default=False, description="set by an operator's correction")


class AppealClassifiedV1(Event):
    schema_name: ClassVar[str] = "appeal.classified"
    appeal: AppealSnapshot
    classification: Classification


class ExecutorLevel(StrEnum):
    MUNICIPAL = "municipal"
    REGIONAL = "regional"
    FEDERAL = "federal"


class Executor(Contract):
    code: str
    organisation: str
    department: str | None = None
    level: ExecutorLevel
    contact_email: EmailAddress | None = None


class Territory(Contract):
    code: str
    name: str
    resolved: bool = Field(description="False when the municipality could not be determined")


class Deadlines(Contract):
    register_by: AwareDatetime
    redirect_by: AwareDatetime
    answer_by: AwareDatetime
    answer_basis: str | None = Field(default=None, description="which norm set answer_by")


class AssignmentRole(StrEnum):
    PRIMARY = "primary"  # the competent body that answers the citizen
    COPY = "copy"  # another competent body, with its own answer term


class Assignment(Contract):
    """One body's share of an appeal (59-ФЗ ст. 8 ч. 3: copies to every competent body)."""

    assignment_id: str
    role: AssignmentRole
    executor: Executor
    supervisor: Executor | None = Field(default=None, description="who receives escalations")
    answer_by: AwareDatetime
    rule_id: str


class AppealRoutedV1(Event):
    schema_name: ClassVar[str] = "appeal.routed"
    appeal: AppealSnapshot
    topic: str
    urgency: Urgency
    territory: Territory
    executor: Executor
    redirected: bool = Field(description="the competent body differs from the receiving one")
    deadlines: Deadlines
    rule_id: str
    assignments: tuple[Assignment, ...] = Field(default=(), description="primary first, copies")
    redirect_notice_by: AwareDatetime | None = Field(
        default=None, description="when redirected: tell the citizen by then (59-ФЗ ст. 8 ч. 3)"
    )
    flags: tuple[str, ...] = Field(default=(), description="e.g. territory_unresolved")
    rules_version: int | None = Field(default=None, description="competence rules applied")


class DeadlineKind(StrEnum):
    DUE_SOON = "due_soon"  # a configurable time before the term ends
    OVERDUE = "overdue"  # the term has ended without an answer: escalate to the supervisor
    EXTENDED = "extended"  # the single 59-ФЗ extension (up to 30 days), citizen to be told


class AppealDeadlineV1(Event):
    """Published by route's SLA watcher: once per appeal, assignment, term and kind."""

    schema_name: ClassVar[str] = "appeal.deadline"
    appeal: AppealSnapshot
    assignment_id: str = Field(description="which executor's copy of the appeal this is about")
    kind: DeadlineKind
    term: str = Field(description="register | redirect | answer")
    due_at: AwareDatetime
    executor: Executor
    supervisor: Executor | None = Field(default=None, description="who receives escalations")


class RecipientRole(StrEnum):
    CITIZEN = "citizen"
    EXECUTOR = "executor"
    SUPERVISOR = "supervisor"  # receives overdue escalations
    SUBSCRIBER = "subscriber"  # a municipal system subscribed to webhooks


class NotificationStatus(StrEnum):
    RECORDED = "recorded"
    SENT = "sent"
    FAILED = "failed"
    GAVE_UP = "gave_up"
    SKIPPED = "skipped"
    UNKNOWN = "unknown"  # a send was interrupted and the channel cannot tell whether it arrived


class NotificationV1(Contract):
    notification_id: str
    kind: str
    recipient_role: RecipientRole
    channel: str
    status: NotificationStatus
    reason: str | None = Field(
        default=None, description="why failed / gave up / skipped / unknown (no personal data)"
    )
    attempts: int | None = Field(default=None, ge=0, description="delivery attempts made")
    sent_at: AwareDatetime | None = Field(default=None, description="when the channel accepted it")


class AnswerOutcome(StrEnum):
    RESOLVED = "resolved"  # the problem was fixed
    EXPLAINED = "explained"  # an explanation was given (the question needed no action)
    DECLINED = "declined"  # refused on the merits, with reasons


class AppealAnsweredV1(Event):
    """The competent body has answered the citizen: the appeal is closed (59-ФЗ ст. 10)."""

    schema_name: ClassVar[str] = "appeal.answered"
    appeal: AppealSnapshot
    executor: Executor
    answered_at: AwareDatetime
    outcome: AnswerOutcome
    answer_ref: str | None = Field(
        default=None, max_length=100, description="the body's outgoing letter number"
    )


class AppealNotifiedV1(Event):
    schema_name: ClassVar[str] = "appeal.notified"
    registration_number: str
    notifications: tuple[NotificationV1, ...]
    cause: str | None = Field(
        default=None, description="schema of the event that called for them, e.g. appeal.deadline"
    )
    cause_event_id: str | None = Field(default=None, description="event_id of that event")


__all__ = [
    "AnswerOutcome",
    "AppealAnsweredV1",
    "AppealClassifiedV1",
    "AppealDeadlineV1",
    "AppealNotifiedV1",
    "AppealReceivedV1",
    "AppealRoutedV1",
    "AppealSnapshot",
    "Attachment",
    "Channel",
    "Classification",
    "Consent",
    "Contact",
    "DeadlineKind",
    "Deadlines",
    "Executor",
    "ExecutorLevel",
    "Location",
    "LocationMention",
    "NotificationStatus",
    "NotificationV1",
    "RecipientRole",
    "Source",
    "Territory",
    "TopicScore",
    "Urgency",
]
