"""An executor's answer closes the appeal (pure: no I/O)."""

from __future__ import annotations

import hashlib
import uuid
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field
from veche_shared.events import (
    AnswerOutcome,
    AppealAnsweredV1,
    AppealReceivedV1,
    EmailAddress,
    Executor,
    ExecutorLevel,
)


class AnswerSubmission(BaseModel):
    """``POST /appeals/{id}/answer`` from the answering body's system (59-ФЗ ст. 10: the answer
    itself goes to the citizen by the body's own channel; Veche records that it did)."""

    model_config = ConfigDict(
        extra="forbid",
        str_strip_whitespace=True,
        json_schema_extra={
            "examples": [
                {
                    "executor_code": "aleksin-admin",
                    "organisation": "Администрация муниципального образования город Алексин",
                    "level": "municipal",
                    "contact_email": "priemnaya@aleksin.example.org",
                    "answered_at": "2026-12-01T10:00:00+03:00",
                    "outcome": "resolved",
                    "answer_ref": "01-12/3456",
                }
            ]
        },
    )

    executor_code: str = Field(min_length=1, max_length=100)
    organisation: str = Field(min_length=1, max_length=300)
    department: str | None = Field(default=None, max_length=300)
    level: ExecutorLevel = ExecutorLevel.MUNICIPAL
    contact_email: EmailAddress | None = None
    answered_at: AwareDatetime
    outcome: AnswerOutcome
    answer_ref: str | None = Field(default=None, max_length=100)

    def fingerprint(self) -> str:
        return hashlib.sha256(self.model_dump_json().encode()).hexdigest()


def answer_event(received: AppealReceivedV1, submission: AnswerSubmission) -> AppealAnsweredV1:
    return AppealAnsweredV1(
        event_id=_answer_event_id(received, submission),
        appeal_id=received.appeal_id,
        appeal=received.appeal,
        executor=Executor(
            code=submission.executor_code,
            organisation=submission.organisation,
            department=submission.department,
            level=submission.level,
            contact_email=submission.contact_email,
        ),
        answered_at=submission.answered_at,
        outcome=submission.outcome,
        answer_ref=submission.answer_ref,
    )


def _answer_event_id(received: AppealReceivedV1, submission: AnswerSubmission) -> uuid.UUID:
    # deterministic: a retried answer is the same event, so downstream deduplicates it
    return uuid.uuid5(received.appeal_id, f"answer:{submission.fingerprint()}")


def stored_answer(event: AppealAnsweredV1, fingerprint: str) -> dict[str, Any]:
    return {
        "_id": str(event.appeal_id),
        "fingerprint": fingerprint,
        "event": event.stored(),
    }
