import pytest
from aiokafka.errors import KafkaConnectionError, UnknownTopicOrPartitionError
from pymongo.errors import AutoReconnect, DuplicateKeyError
from veche_shared.pipeline import is_retryable
from veche_shared.settings import ServiceSettings
from veche_shared.telemetry import safe_attributes
from veche_shared.topics import APPEALS_ROUTED


def test_settings_come_from_veche_prefixed_environment(monkeypatch):
    monkeypatch.setenv("VECHE_KAFKA_BOOTSTRAP", "kafka:9092")
    monkeypatch.setenv("VECHE_NAMESPACE", "t42")
    settings = ServiceSettings()
    assert settings.kafka_bootstrap == "kafka:9092"
    assert settings.topic_name(APPEALS_ROUTED) == "t42.appeals.routed.v1"
    assert settings.database == "t42_veche_veche"


@pytest.mark.parametrize("key", ["citizen.name", "contact.phone", "user_email", "appeal.text"])
def test_span_attributes_refuse_personal_data(key):
    with pytest.raises(ValueError, match="personal data"):
        safe_attributes({key: "x"})


def test_span_attributes_allow_ids_and_topics():
    attributes = {"veche.appeal_id": "a", "messaging.destination.name": "appeals.received.v1"}
    assert safe_attributes(attributes) == attributes


@pytest.mark.parametrize(
    ("error", "retryable"),
    [
        (AutoReconnect("primary stepped down"), True),
        (KafkaConnectionError(), True),
        (TimeoutError(), True),
        (DuplicateKeyError("dup"), False),
        (ValueError("bad data"), False),
        (KeyError("bug"), False),
        (UnknownTopicOrPartitionError(), True),
    ],
)
def test_only_infrastructure_errors_are_retried(error, retryable):
    assert is_retryable(error) is retryable
