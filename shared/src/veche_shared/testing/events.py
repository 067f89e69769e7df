"""Event factories for tests: valid appeals with realistic Russian text."""

from __future__ import annotations

import uuid
from datetime import datetime

from ..events import (
    AppealClassifiedV1,
    AppealReceivedV1,
    AppealSnapshot,
    Channel,
    Classification,
    Contact,
    Location,
    Urgency,
    utc_now,
)

SAMPLE_TEXT = "В Алексине на улице Мира огромная яма на дороге, машины бьют колёса. Примите меры."


def snapshot(
    *,
    text: str = SAMPLE_TEXT,
    sequence: int = 1,
    email: str | None = "citizen@example.org",
    address: str | None = None,
    channel: Channel = Channel.PORTAL,
    registered_at: datetime | None = None,
) -> AppealSnapshot:
    # Registered now, not on a fixed day: an appeal registered on a fixed day falls due on a
    # fixed day, and from then on every deadline watch in a shared test database reported it
    # (the route suite began to fail 30 days after its tests were written).
    registered = registered_at or utc_now()
    return AppealSnapshot(
        registration_number=f"71-{registered.year}-{sequence:06d}",
        registered_at=registered,
        region_code="71",
        channel=channel,
        text=text,
        location=Location(address=address),
        contact=Contact(name="Иван Петров", email=email),
    )


def received(**kwargs: object) -> AppealReceivedV1:
    return AppealReceivedV1(appeal_id=uuid.uuid4(), appeal=snapshot(**kwargs))  # type: ignore[arg-type]


def classified_from(
    source: AppealReceivedV1, topic: str = "roads", urgency: Urgency = Urgency.MEDIUM
) -> AppealClassifiedV1:
    return AppealClassifiedV1(
        appeal_id=source.appeal_id,
        appeal=source.appeal,
        classification=Classification(
            topic=topic, confidence=0.9, urgency=urgency, classifier="test"
        ),
    )


def classified(
    topic: str = "roads", urgency: Urgency = Urgency.MEDIUM, **kwargs: object
) -> AppealClassifiedV1:
    return classified_from(received(**kwargs), topic, urgency)
