"""Which notifications an event calls for, and what each one says (pure: no I/O, no sending).

Every planned notification has a unique key (appeal, kind + occasion, recipient, channel): the
store keeps one document per key, so a redelivered event sends nothing twice. The key never holds
personal data — a citizen is ``citizen``, an executor its body code, a subscriber its id.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cache
from typing import Any

from veche_shared.events import (
    AppealAnsweredV1,
    AppealDeadlineV1,
    AppealRoutedV1,
    AppealSnapshot,
    Assignment,
    AssignmentRole,
    DeadlineKind,
    Executor,
    RecipientRole,
)
from veche_shared.taxonomy import topics

URGENCY_RU = {"low": "обычная", "medium": "обычная", "high": "высокая", "critical": "критическая"}
TERM_RU = {
    "register": "регистрация обращения",
    "redirect": "передача обращения по компетенции",
    "answer": "ответ заявителю",
}
WEBHOOK_EVENT_TYPES = ("appeal.routed", "appeal.deadline", "appeal.answered")


class Kind(StrEnum):
    # citizen
    REGISTERED = "registered"  # confirmation with the registration number
    REDIRECTED = "redirected"  # 59-ФЗ ст. 8 notice that another body will answer
    EXTENDED = "extended"  # 59-ФЗ ст. 12 ч. 2: the answer term was extended
    ANSWERED = "answered"  # the answer was sent, the appeal is closed (appeals.answered.v1)
    # executor / supervisor
    ASSIGNED = "assigned"  # a new appeal to answer, with topic, urgency and deadline
    DUE_SOON = "due_soon"  # reminder before the term ends
    OVERDUE = "overdue"  # escalation to the supervisor
    # municipal systems
    WEBHOOK = "webhook"


class Channel(StrEnum):
    EMAIL = "email"
    SMS = "sms"
    WEBHOOK = "webhook"


@dataclass(frozen=True, slots=True)
class Subscription:
    """A municipal system's webhook subscription (as much as planning needs)."""

    subscription_id: str
    url: str
    event_types: frozenset[str]


@dataclass(frozen=True, slots=True)
class Planned:
    appeal_id: str
    kind: Kind
    role: RecipientRole
    channel: Channel
    recipient: str  # who, without personal data: "citizen", an executor code, a subscription id
    address: str  # e-mail, phone or URL; empty when the recipient has none (recorded as skipped)
    occasion: str = ""  # what makes a repeated kind distinct: assignment, term, webhook event
    variables: Mapping[str, Any] = field(default_factory=dict, compare=False)

    @property
    def key(self) -> str:
        """The unique notification key: one message per appeal, kind, recipient and channel."""
        kind = f"{self.kind.value}.{self.occasion}" if self.occasion else self.kind.value
        return f"{self.appeal_id}:{kind}:{self.role.value}:{self.recipient}:{self.channel.value}"


def plan_routed(event: AppealRoutedV1, subscriptions: Sequence[Subscription] = ()) -> list[Planned]:
    """Citizen: confirmation (+ redirect notice); each assigned body: the new appeal; webhooks."""
    appeal_id = str(event.appeal_id)
    common = _appeal_variables(event.appeal) | {
        "topic": topic_name(event.topic),
        "urgency": URGENCY_RU[event.urgency.value],
        "territory": event.territory,
        "deadlines": event.deadlines,
        "executor": event.executor,
        "redirected": event.redirected,
        "redirect_notice_by": event.redirect_notice_by,
    }
    planned = [
        _to_citizen(event.appeal, appeal_id, Kind.REGISTERED, "", common),
    ]
    if event.redirected:
        planned.append(_to_citizen(event.appeal, appeal_id, Kind.REDIRECTED, "", common))
    for assignment in _assignments(event):
        variables = common | {
            "executor": assignment.executor,
            "copy": assignment.role is AssignmentRole.COPY,
            "answer_by": assignment.answer_by,
        }
        planned.append(
            _to_body(
                appeal_id,
                Kind.ASSIGNED,
                RecipientRole.EXECUTOR,
                assignment.executor,
                assignment.assignment_id,
                variables,
            )
        )
    planned.extend(_webhooks(appeal_id, "appeal.routed", "", routed_payload(event), subscriptions))
    return [p for p in planned if p is not None]


def plan_deadline(
    event: AppealDeadlineV1, subscriptions: Sequence[Subscription] = ()
) -> list[Planned]:
    """Due soon → the executor; overdue → the supervisor (or the executor when there is none);
    extended → the citizen."""
    appeal_id = str(event.appeal_id)
    occasion = f"{event.assignment_id}.{event.term}"
    variables = _appeal_variables(event.appeal) | {
        "term": TERM_RU.get(event.term, event.term),
        "due_at": event.due_at,
        "executor": event.executor,
        "supervisor": event.supervisor,
    }
    planned: list[Planned | None] = []
    if event.kind is DeadlineKind.DUE_SOON:
        planned.append(
            _to_body(
                appeal_id,
                Kind.DUE_SOON,
                RecipientRole.EXECUTOR,
                event.executor,
                occasion,
                variables,
            )
        )
    elif event.kind is DeadlineKind.OVERDUE:
        escalate_to, role = (
            (event.supervisor, RecipientRole.SUPERVISOR)
            if event.supervisor is not None
            else (event.executor, RecipientRole.EXECUTOR)
        )
        planned.append(_to_body(appeal_id, Kind.OVERDUE, role, escalate_to, occasion, variables))
    elif event.kind is DeadlineKind.EXTENDED:
        planned.append(_to_citizen(event.appeal, appeal_id, Kind.EXTENDED, event.term, variables))
    planned.extend(
        _webhooks(
            appeal_id,
            "appeal.deadline",
            f"{event.kind.value}.{occasion}",
            deadline_payload(event),
            subscriptions,
        )
    )
    return [p for p in planned if p is not None]


def plan_answered(
    event: AppealAnsweredV1, subscriptions: Sequence[Subscription] = ()
) -> list[Planned]:
    """The citizen learns the appeal is answered and closed; subscribers get the fact."""
    appeal_id = str(event.appeal_id)
    variables = _appeal_variables(event.appeal) | {
        "executor": event.executor,
        "answered_at": event.answered_at,
        "outcome": event.outcome.value,
    }
    planned = [_to_citizen(event.appeal, appeal_id, Kind.ANSWERED, "", variables)]
    payload = {
        "registration_number": event.appeal.registration_number,
        "answered_at": event.answered_at.isoformat(),
        "outcome": event.outcome.value,
        "executor": _body_json(event.executor),
    }
    planned.extend(_webhooks(appeal_id, "appeal.answered", "", payload, subscriptions))
    return [p for p in planned if p is not None]


def citizen_channel(appeal: AppealSnapshot) -> tuple[Channel, str] | None:
    """The citizen's own choice: e-mail when given, else SMS; none for anonymous or post-only."""
    contact = appeal.contact
    if contact.email:
        return Channel.EMAIL, str(contact.email)
    if contact.phone:
        return Channel.SMS, contact.phone
    return None


def topic_name(code: str) -> str:
    return _topic_names().get(code, code)


@cache
def _topic_names() -> Mapping[str, str]:
    return {topic.code: topic.name for topic in topics()}


def routed_payload(event: AppealRoutedV1) -> dict[str, Any]:
    """What a municipal system receives about a routed appeal: no citizen contact data."""
    return {
        "registration_number": event.appeal.registration_number,
        "registered_at": event.appeal.registered_at.isoformat(),
        "channel": event.appeal.channel.value,
        "title": event.appeal.title,
        "topic": event.topic,
        "urgency": event.urgency.value,
        "territory": event.territory.model_dump(mode="json"),
        "executor": _body_json(event.executor),
        "redirected": event.redirected,
        "deadlines": event.deadlines.model_dump(mode="json"),
        "assignments": [
            {
                "assignment_id": a.assignment_id,
                "role": a.role.value,
                "executor": _body_json(a.executor),
                "answer_by": a.answer_by.isoformat(),
            }
            for a in event.assignments
        ],
    }


def deadline_payload(event: AppealDeadlineV1) -> dict[str, Any]:
    return {
        "registration_number": event.appeal.registration_number,
        "kind": event.kind.value,
        "term": event.term,
        "due_at": event.due_at.isoformat(),
        "assignment_id": event.assignment_id,
        "executor": _body_json(event.executor),
    }


def _appeal_variables(appeal: AppealSnapshot) -> dict[str, Any]:
    return {
        "registration_number": appeal.registration_number,
        "registered_at": appeal.registered_at,
        "citizen_name": appeal.contact.name,
        "appeal_title": appeal.title,
    }


def _assignments(event: AppealRoutedV1) -> Sequence[Assignment]:
    """Route's assignments (primary first, copies); a routed event without them has one body."""
    if event.assignments:
        return event.assignments
    return (
        Assignment(
            assignment_id=event.executor.code,
            role=AssignmentRole.PRIMARY,
            executor=event.executor,
            answer_by=event.deadlines.answer_by,
            rule_id=event.rule_id,
        ),
    )


def _to_citizen(
    appeal: AppealSnapshot, appeal_id: str, kind: Kind, occasion: str, variables: Mapping[str, Any]
) -> Planned | None:
    channel = citizen_channel(appeal)
    if channel is None:  # anonymous appeals get no citizen notification
        return None
    return Planned(
        appeal_id,
        kind,
        RecipientRole.CITIZEN,
        channel[0],
        "citizen",
        channel[1],
        occasion,
        variables,
    )


def _to_body(
    appeal_id: str,
    kind: Kind,
    role: RecipientRole,
    body: Executor,
    occasion: str,
    variables: Mapping[str, Any],
) -> Planned:
    """A body without an e-mail is still planned (and recorded as skipped), so the gap shows."""
    address = str(body.contact_email) if body.contact_email else ""
    return Planned(appeal_id, kind, role, Channel.EMAIL, body.code, address, occasion, variables)


def _webhooks(
    appeal_id: str,
    event_type: str,
    occasion: str,
    payload: Mapping[str, Any],
    subscriptions: Sequence[Subscription],
) -> list[Planned]:
    return [
        Planned(
            appeal_id,
            Kind.WEBHOOK,
            RecipientRole.SUBSCRIBER,
            Channel.WEBHOOK,
            subscription.subscription_id,
            subscription.url,
            f"{event_type}.{occasion}" if occasion else event_type,
            {"event_type": event_type, "data": payload},
        )
        for subscription in subscriptions
        if event_type in subscription.event_types
    ]


def _body_json(body: Executor) -> dict[str, Any]:
    return body.model_dump(mode="json", exclude_none=True)
