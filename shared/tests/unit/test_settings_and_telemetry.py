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


@pytest.mark.parametrize("ratio", [0.0, 0.5, 1.0])
def test_a_sampled_appeal_is_traced_whole_and_an_unsampled_one_not_at_all(ratio):
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
    from veche_shared.telemetry import tracer_provider

    provider = tracer_provider("unit", None, sample_ratio=ratio)  # not the process's global
    exporter = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("test")
    for _ in range(200):  # an appeal: a root (ingest) and a child in a later stage
        with (
            tracer.start_as_current_span("register appeal") as root,
            tracer.start_as_current_span("classify process"),
        ):
            pass
        assert root.get_span_context().trace_id  # logs still carry an id either way

    per_trace: dict[int, int] = {}
    for span in exporter.get_finished_spans():
        per_trace[span.context.trace_id] = per_trace.get(span.context.trace_id, 0) + 1
    assert set(per_trace.values()) <= {2}  # never a fragment
    lowest, highest = {0.0: (0, 0), 0.5: (60, 140), 1.0: (200, 200)}[ratio]
    assert lowest <= len(per_trace) <= highest


@pytest.mark.parametrize(("flags", "recorded"), [("01", True), ("00", False)])
def test_a_later_stage_follows_the_decision_in_traceparent(flags, recorded):
    from opentelemetry.propagate import extract
    from veche_shared.telemetry import tracer_provider

    # this stage's own ratio would decide the opposite way; the header wins
    provider = tracer_provider("unit", None, sample_ratio=0.0 if recorded else 1.0)
    headers = {"traceparent": f"00-{'ab' * 16}-{'cd' * 8}-{flags}"}
    span = provider.get_tracer("test").start_span("process", context=extract(headers))
    assert span.is_recording() is recorded
