"""The answer closes the appeal: the citizen is told through their own channel, subscribers get
the fact, anonymous citizens get nothing."""

import uuid
from datetime import UTC, datetime

from veche_notify.domain.plan import Channel, Kind, Subscription, plan_answered
from veche_shared.events import (
    AnswerOutcome,
    AppealAnsweredV1,
    AppealSnapshot,
    Executor,
    ExecutorLevel,
    RecipientRole,
)

AT = datetime(2026, 12, 1, 7, 0, tzinfo=UTC)
BODY = Executor(
    code="aleksin-admin", organisation="Администрация г. Алексин", level=ExecutorLevel.MUNICIPAL
)


def answered(contact: dict[str, str]) -> AppealAnsweredV1:
    appeal = AppealSnapshot(
        registration_number="71-2026-000042",
        registered_at=AT,
        region_code="71",
        channel="portal",
        text="Яма на дороге",
        contact=contact,
    )
    return AppealAnsweredV1(
        appeal_id=uuid.uuid4(),
        appeal=appeal,
        executor=BODY,
        answered_at=AT,
        outcome=AnswerOutcome.RESOLVED,
    )


def test_citizen_with_an_email_gets_one_answered_letter_and_subscribers_the_fact():
    hook = Subscription("sub-1", "https://mfc.example.org/hook", frozenset({"appeal.answered"}))
    plans = plan_answered(answered({"email": "c@example.org"}), [hook])
    assert [(p.kind, p.role, p.channel) for p in plans] == [
        (Kind.ANSWERED, RecipientRole.CITIZEN, Channel.EMAIL),
        (Kind.WEBHOOK, RecipientRole.SUBSCRIBER, Channel.WEBHOOK),
    ]
    assert plans[0].variables["executor"] == BODY
    assert "c@example.org" not in plans[0].key  # the unique key carries no personal data


def test_anonymous_citizen_gets_nothing():
    assert plan_answered(answered({})) == []
