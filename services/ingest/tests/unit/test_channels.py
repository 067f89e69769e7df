"""Each channel's record maps onto one intake: the channel, the hints and the keys it implies."""

from datetime import UTC, datetime

import pytest
from pydantic import ValidationError
from veche_ingest.domain.channels import EddsIncident, HotlineCall, ImportRow, SocialPost
from veche_ingest.domain.intake import (
    AppealSubmission,
    idempotency_key,
    intake_fingerprint,
    intake_flags,
)
from veche_shared.events import Channel, Urgency

AT = datetime(2026, 1, 15, 8, 30, tzinfo=UTC)


def test_hotline_call_keeps_the_operator_and_uses_the_call_id_as_its_key():
    intake = HotlineCall(
        call_id="HL-1", operator_id="op-17", call_started_at=AT, transcript="Нет отопления в доме"
    ).to_intake()
    assert intake.channel is Channel.HOTLINE
    assert intake.source.operator_id == "op-17"
    assert idempotency_key(intake, None) == "ref:hotline:HL-1"


@pytest.mark.parametrize(
    ("severity", "expected"),
    [
        (Urgency.LOW, Urgency.HIGH),
        (Urgency.MEDIUM, Urgency.HIGH),
        (Urgency.HIGH, Urgency.HIGH),
        (Urgency.CRITICAL, Urgency.CRITICAL),
    ],
)
def test_edds_incidents_are_never_below_high_urgency(severity, expected):
    incident = EddsIncident(
        incident_id="E-1", severity=severity, reported_at=AT, description="Запах газа в подъезде"
    )
    assert incident.to_intake().urgency_hint is expected


def test_social_posts_from_pos_and_other_sources_get_their_channels():
    post = SocialPost(
        post_id="42",
        author_handle="@citizen",
        url="https://vk.com/wall-1_42",
        text="Яма на дороге",
        published_at=AT,
    )
    assert post.to_intake("pos").channel is Channel.POS
    assert post.to_intake("vk").channel is Channel.SOCIAL
    assert post.to_intake("vk").external_ref == "vk:42"


def test_import_rows_without_an_id_are_keyed_by_content():
    first = ImportRow.from_raw({"text": "Не вывозят мусор", "external_id": "", "email": ""})
    same = ImportRow.from_raw({"text": "Не вывозят мусор"})
    other = ImportRow.from_raw({"text": "Не вывозят мусор второй месяц"})
    assert first.to_intake().external_ref == same.to_intake().external_ref
    assert first.to_intake().external_ref != other.to_intake().external_ref


def test_import_row_with_an_invalid_email_is_rejected_with_the_field_named():
    with pytest.raises(ValidationError) as error:
        ImportRow.from_raw({"text": "Текст", "email": "not-an-email"}).to_intake()
    assert "email" in str(error.value)


def test_header_key_wins_over_the_external_reference_and_is_not_stored_in_clear():
    intake = AppealSubmission(text="Яма", external_ref="portal-7").to_intake()
    key = idempotency_key(intake, "client-key-123")
    assert key is not None
    assert key.startswith("header:")
    assert "client-key-123" not in key
    assert idempotency_key(intake, None) == "ref:portal:portal-7"
    assert idempotency_key(AppealSubmission(text="Яма").to_intake(), None) is None


def test_fingerprint_tells_a_different_request_from_a_repeat():
    one = AppealSubmission(text="Яма на улице Мира").to_intake()
    again = AppealSubmission(text="Яма на улице Мира").to_intake()
    changed = AppealSubmission(text="Яма на улице Ленина").to_intake()
    assert intake_fingerprint(one) == intake_fingerprint(again)
    assert intake_fingerprint(one) != intake_fingerprint(changed)


def test_intake_flags_mark_anonymous_and_essence_free_appeals_without_dropping_them():
    anonymous = AppealSubmission(text="На улице Мира огромная яма").to_intake()
    assert intake_flags(anonymous) == ("anonymous",)
    empty = AppealSubmission(text="!!! ??", contact={"email": "a@example.org"}).to_intake()
    assert intake_flags(empty) == ("no_essence",)
