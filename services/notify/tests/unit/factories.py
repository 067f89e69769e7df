"""Events as route publishes them (contracts built directly, no broker)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from veche_shared.events import (
    AppealDeadlineV1,
    AppealRoutedV1,
    Assignment,
    AssignmentRole,
    Contact,
    DeadlineKind,
    Deadlines,
    Executor,
    ExecutorLevel,
    Territory,
    Urgency,
)
from veche_shared.testing.events import snapshot

APPEAL_ID = "6f4deb8c-4263-435a-ac74-86ab8d28432e"
# a fixed day: the letters' dates are asserted as text ("20.12.2026"); no clock is involved
REGISTERED_AT = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
ROADS = Executor(
    code="aleksin:roads",
    organisation="Администрация города Алексин",
    department="Управление по дорогам",
    level=ExecutorLevel.MUNICIPAL,
    contact_email="roads@aleksin.example.gov.ru",
)
MINTRANS = Executor(
    code="tula:mintrans",
    organisation="Министерство транспорта и дорожного хозяйства Тульской области",
    level=ExecutorLevel.REGIONAL,
    contact_email="mintrans@tula.example.gov.ru",
)
GOVERNOR = Executor(
    code="governor-office",
    organisation="Аппарат правительства Тульской области",
    level=ExecutorLevel.REGIONAL,
    contact_email="control@tula.example.gov.ru",
)


def appeal(email: str | None = "citizen@example.org", phone: str | None = None, sequence: int = 1):
    base = snapshot(email=email, sequence=sequence, registered_at=REGISTERED_AT)
    return base.model_copy(
        update={"contact": Contact(name="Иван Петров", email=email, phone=phone)}
    )


def routed(
    email: str | None = "citizen@example.org",
    phone: str | None = None,
    redirected: bool = True,
    copies: bool = False,
    appeal_id: str = APPEAL_ID,
    sequence: int = 1,
) -> AppealRoutedV1:
    snap = appeal(email, phone, sequence)
    at = snap.registered_at
    answer_by = at + timedelta(days=30)
    assignments = [
        Assignment(
            assignment_id=f"{appeal_id}:roads",
            role=AssignmentRole.PRIMARY,
            executor=ROADS,
            supervisor=GOVERNOR,
            answer_by=answer_by,
            rule_id="roads-municipal",
        )
    ]
    if copies:
        assignments.append(
            Assignment(
                assignment_id=f"{appeal_id}:mintrans",
                role=AssignmentRole.COPY,
                executor=MINTRANS,
                answer_by=answer_by,
                rule_id="roads-regional",
            )
        )
    return AppealRoutedV1(
        appeal_id=appeal_id,
        appeal=snap,
        topic="roads",
        urgency=Urgency.HIGH,
        territory=Territory(code="aleksin", name="Городской округ город Алексин", resolved=True),
        executor=ROADS,
        redirected=redirected,
        deadlines=Deadlines(
            register_by=at + timedelta(days=3),
            redirect_by=at + timedelta(days=7),
            answer_by=answer_by,
        ),
        rule_id="roads-municipal",
        assignments=tuple(assignments),
    )


def deadline(
    kind: DeadlineKind,
    supervisor: Executor | None = GOVERNOR,
    email: str | None = "citizen@example.org",
    appeal_id: str = APPEAL_ID,
    sequence: int = 1,
) -> AppealDeadlineV1:
    snap = appeal(email, None, sequence)
    return AppealDeadlineV1(
        appeal_id=appeal_id,
        appeal=snap,
        assignment_id=f"{appeal_id}:roads",
        kind=kind,
        term="answer",
        due_at=snap.registered_at + timedelta(days=30),
        executor=ROADS,
        supervisor=supervisor,
    )
