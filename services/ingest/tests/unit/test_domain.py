import json
import uuid
from datetime import UTC, datetime

import pytest
from pydantic import ValidationError
from veche_ingest.domain.intake import AppealSubmission, register, registration_number
from veche_ingest.domain.timeline import (
    STAGE_ORDER,
    Stage,
    current_status,
    status_changes,
    timeline_entry,
)
from veche_shared.testing.events import classified, received


def test_registration_number_is_region_year_and_zero_padded_sequence():
    assert registration_number("71", 2026, 42) == "71-2026-000042"


@pytest.mark.parametrize("sequence", [0, 1_000_000])
def test_registration_sequence_out_of_range_is_refused(sequence):
    with pytest.raises(ValueError, match="out of range"):
        registration_number("71", 2026, sequence)


def test_register_builds_the_received_event_from_the_submission():
    submission = AppealSubmission(
        text="  Нет горячей воды третий день  ", contact={"phone": "+7 900 000-00-00"}
    )
    at = datetime(2026, 1, 5, 9, tzinfo=UTC)
    event = register(
        submission.to_intake(),
        appeal_id=uuid.uuid4(),
        region_code="71",
        sequence=7,
        registered_at=at,
    )
    assert event.appeal.registration_number == "71-2026-000007"
    assert event.appeal.text == "Нет горячей воды третий день"
    assert event.occurred_at == at


@pytest.mark.parametrize(
    "body",
    [
        {"text": ""},
        {"text": "x" * 10_001},
        {"text": "ok", "contact": {"email": "nope"}},
        {"text": "ok", "surprise": 1},
    ],
)
def test_invalid_submissions_are_rejected(body):
    with pytest.raises(ValidationError):
        AppealSubmission.model_validate(body)


def test_status_is_the_furthest_stage_even_when_events_arrive_out_of_order():
    assert current_status(["received", "routed", "classified"]) is Stage.ROUTED
    assert current_status([]) is Stage.RECEIVED


def test_timeline_entries_carry_no_personal_data():
    for event in (received(), classified()):
        entry = json.dumps(timeline_entry(event), default=str)
        assert "Иван" not in entry
        assert "citizen@example.org" not in entry
        assert "яма" not in entry


def _entry(appeal_id: str, stage: str, minute: int, **summary: object) -> dict[str, object]:
    return {
        "_id": f"{appeal_id}-{stage}-{minute}",
        "appeal_id": appeal_id,
        "stage": stage,
        "at": datetime(2026, 11, 23, 9, minute, tzinfo=UTC),
        "summary": summary,
    }


def test_status_changes_are_one_per_appeal_with_the_furthest_stage_and_latest_fields():
    routed = {"executor": "Администрация", "answer_by": "2026-12-23", "territory_code": "70701"}
    entries = [
        _entry("a", "notified", 3),  # out of order: notified read before routed
        _entry("a", "classified", 1, topic="roads", urgency="low"),
        _entry("a", "routed", 2, **routed),
        _entry("b", "classified", 1, topic="waste", urgency="high"),
        _entry("b", "classified", 4, topic="housing", urgency="medium"),  # reclassified later
    ]

    changes = {c.appeal_id: c for c in status_changes(entries)}

    assert set(changes) == {"a", "b"}
    assert changes["a"].stage_rank == STAGE_ORDER[Stage.NOTIFIED]
    assert changes["a"].updated_at == datetime(2026, 11, 23, 9, 3, tzinfo=UTC)
    assert changes["a"].fields == {
        "topic": "roads",
        "urgency": "low",
        "territory": "70701",
        "executor": "Администрация",
        "answer_by": "2026-12-23",
    }
    assert changes["b"].stage_rank == STAGE_ORDER[Stage.CLASSIFIED]
    assert changes["b"].fields == {"topic": "housing", "urgency": "medium"}


def test_no_entries_no_status_changes():
    assert status_changes([]) == []
