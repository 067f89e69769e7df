"""A system under test that fails to start leaves nothing behind (real broker and store)."""

import pytest
from veche_bench.runner import System
from veche_bench.settings import BenchSettings
from veche_shared.testing.kafka_tools import topic_names, until
from veche_shared.topics import APPEALS_RECEIVED


class FailsToStart(System):
    kind = "failing"

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.stopped = False

    async def start(self) -> None:
        raise RuntimeError("notify exited; see its log")

    def stop(self) -> None:
        self.stopped = True


async def test_a_system_that_fails_to_start_is_stopped_and_its_topics_deleted(infra, tmp_path):
    system = FailsToStart(BenchSettings(state=tmp_path), infra, lambda *_: None)
    intake = APPEALS_RECEIVED.qualified(system.namespace)

    with pytest.raises(RuntimeError, match="notify exited"):
        async with system:
            pytest.fail("the body must not run")

    assert system.stopped
    await until(lambda: _gone(infra.kafka_bootstrap, intake))


async def _gone(bootstrap: str, topic: str) -> bool:
    return topic not in await topic_names(bootstrap)
