import json
import uuid

import pytest
from pydantic import BaseModel, EmailStr, ValidationError
from veche_shared.events import AppealReceivedV1, Contact
from veche_shared.events.email import normalised_email
from veche_shared.kafka import describe_error
from veche_shared.testing.events import received
from veche_shared.topics import APPEALS_RECEIVED, PIPELINE, all_topics


def test_event_round_trips_through_bytes():
    event = received()
    assert AppealReceivedV1.from_bytes(event.to_bytes()) == event


def test_an_event_is_stored_as_the_json_text_it_is_published_as():
    event = received()
    assert event.stored() == event.to_bytes().decode()
    assert AppealReceivedV1.from_stored(event.stored()) == event


def test_an_event_stored_as_a_nested_document_by_an_earlier_version_still_reads():
    event = received()
    nested = event.model_dump(mode="json", exclude_none=True)
    assert AppealReceivedV1.from_stored(nested) == event
    assert AppealReceivedV1.from_stored(event.to_bytes()) == event


def test_consumer_ignores_unknown_fields_from_newer_producers():
    data = json.loads(received().to_bytes())
    data["added_in_a_later_minor_version"] = {"x": 1}
    data["appeal"]["also_new"] = True
    parsed = AppealReceivedV1.from_bytes(json.dumps(data).encode())
    assert parsed.appeal_id == uuid.UUID(data["appeal_id"])


def test_key_is_the_appeal_id_so_one_appeal_stays_on_one_partition():
    event = received()
    assert event.key() == str(event.appeal_id).encode()


@pytest.mark.parametrize(
    "body",
    [b"not json", b"[1, 2]", b'{"appeal_id": "nope"}', b"\xff\xfe"],
)
def test_bad_bodies_raise_value_errors(body):
    with pytest.raises(ValueError):  # noqa: PT011 - ValidationError and JSONDecodeError are ValueErrors
        AppealReceivedV1.from_bytes(body)


def test_error_description_names_the_field_but_not_the_personal_value():
    with pytest.raises(ValidationError) as caught:
        Contact(email="ivan.petrov-at-mail.ru", phone="+7 900 000-00-00")
    reason = describe_error(caught.value)
    assert "email" in reason
    assert "ivan.petrov" not in reason


def test_every_pipeline_topic_is_versioned_and_has_a_dead_letter_twin():
    names = {t.name for t in all_topics()}
    for topic in PIPELINE:
        assert topic.name.startswith("appeals.")
        assert topic.name.endswith(".v1")
        assert f"{topic.name}.dlq" in names
    assert APPEALS_RECEIVED.qualified("t1") == "t1.appeals.received.v1"


class _WithEmailStr(BaseModel):
    email: EmailStr


@pytest.mark.parametrize(
    "address", ["Ivan.Petrov@Example.ORG", "  ivan@example.org ", "жалоба@пример.рф"]
)
def test_email_address_is_normalised_exactly_like_pydantics_email_str(address):
    assert Contact(email=address).email == _WithEmailStr(email=address).email


@pytest.mark.parametrize("address", ["ivan.petrov-at-mail.ru", "ivan@", "@example.org", "a b@c.d"])
def test_email_address_rejects_what_email_str_rejects_every_time(address):
    for _ in range(2):  # a rejected address is not remembered as valid
        with pytest.raises(ValidationError):
            Contact(email=address)
        with pytest.raises(ValidationError):
            _WithEmailStr(email=address)


def test_an_address_seen_before_is_not_validated_again():
    normalised_email.cache_clear()
    for _ in range(3):
        Contact(email="citizen@example.org")
    info = normalised_email.cache_info()
    assert (info.misses, info.hits) == (1, 2)


def test_email_address_keeps_the_email_format_in_the_event_schema():
    schema = Contact.model_json_schema()["properties"]["email"]
    assert {"type": "string", "format": "email"} in schema["anyOf"]


def test_a_body_the_fast_parser_refuses_keeps_the_plain_reason():
    with pytest.raises(ValueError, match="must be a JSON object, got list"):
        AppealReceivedV1.from_bytes(b"[1, 2]")
    with pytest.raises(json.JSONDecodeError):
        AppealReceivedV1.from_bytes(b"not json")
