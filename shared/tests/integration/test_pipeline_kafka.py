"""BatchConsumer on the real broker: poison to the DLQ with headers, the partition continues."""

import pytest
from faststream.kafka import KafkaBroker
from veche_shared.events import AppealClassifiedV1, Classification, Urgency
from veche_shared.kafka import DLQ_ERROR_CLASS, DLQ_ORIGINAL_OFFSET, DLQ_ORIGINAL_TOPIC
from veche_shared.pipeline import BatchConsumer, Publication
from veche_shared.settings import ServiceSettings
from veche_shared.testing.events import received
from veche_shared.testing.kafka_tools import TopicReader, produce
from veche_shared.topics import APPEALS_CLASSIFIED, APPEALS_RECEIVED

pytestmark = pytest.mark.integration


class Settings(ServiceSettings):
    service_name = "pipeline-it"


async def test_poison_record_goes_to_the_dlq_and_the_next_valid_one_is_processed(infra, topics):
    settings = Settings(namespace=topics, kafka_bootstrap=infra.kafka_bootstrap)
    broker = KafkaBroker(infra.kafka_bootstrap)

    async def handler(items):
        return [
            Publication(
                APPEALS_CLASSIFIED,
                AppealClassifiedV1(
                    appeal_id=i.event.appeal_id,
                    appeal=i.event.appeal,
                    classification=Classification(
                        topic="roads", confidence=1, urgency=Urgency.LOW, classifier="t"
                    ),
                ),
                i,
            )
            for i in items
        ]

    BatchConsumer(
        broker, settings, topic=APPEALS_RECEIVED, handler=handler, outputs=[APPEALS_CLASSIFIED]
    ).subscribe()
    source = settings.topic_name(APPEALS_RECEIVED)
    valid = received()
    async with broker:
        await broker.start()
        await produce(infra.kafka_bootstrap, source, [b"{not json", valid.to_bytes()], key=b"k")
        async with (
            TopicReader(infra.kafka_bootstrap, f"{source}.dlq") as dlq,
            TopicReader(infra.kafka_bootstrap, settings.topic_name(APPEALS_CLASSIFIED)) as out,
        ):
            dead = await dlq.wait_count(1)
            published = await out.wait_count(1)
    headers = {k: v.decode() for k, v in dead[0].headers}
    assert dead[0].value == b"{not json"
    assert headers[DLQ_ERROR_CLASS] == "json.decoder.JSONDecodeError"
    assert headers[DLQ_ORIGINAL_TOPIC] == source
    assert headers[DLQ_ORIGINAL_OFFSET] == "0"
    assert AppealClassifiedV1.from_bytes(published[0].value).appeal_id == valid.appeal_id
