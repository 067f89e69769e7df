"""One check every consuming stage must pass on the real broker and store."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aiokafka import ConsumerRecord

from ..events import Event
from ..settings import ServiceSettings
from ..topics import Topic
from .app_runner import serving
from .kafka_tools import TopicReader, produce


@dataclass(frozen=True, slots=True)
class StageRun:
    outputs: list[Event]
    dead_letters: list[ConsumerRecord[Any, Any]]


async def run_stage(
    app: Any,
    settings: ServiceSettings,
    *,
    source: Topic,
    target: Topic,
    records: list[bytes],
    expected_outputs: int,
    expected_dead: int = 0,
) -> StageRun:
    """Serve the app, write raw records to its source topic, collect what it emits."""
    assert target.event is not None
    bootstrap = settings.kafka_bootstrap
    async with (
        serving(app),
        TopicReader(bootstrap, settings.topic_name(target)) as out,
        TopicReader(bootstrap, settings.topic_name(source.dlq)) as dlq,
    ):
        await produce(bootstrap, settings.topic_name(source), records)
        emitted = await out.wait_count(expected_outputs, timeout=60)
        dead = await dlq.wait_count(expected_dead, timeout=30) if expected_dead else []
        emitted = await out.settle(quiet=1.5)  # nothing more may arrive
    return StageRun([target.event.from_bytes(r.value) for r in emitted], list(dead))
