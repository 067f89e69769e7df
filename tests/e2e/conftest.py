"""The four services as processes (the same runner `make up` uses) on a test namespace."""

from __future__ import annotations

import pytest
from veche_shared.devtools.stack import Stack

PORT_OFFSET = 100  # beside a developer's `make up` on 8000-8003 / 4318
DEV_KEY = "e2e-executor-system-key"


@pytest.fixture(scope="module")
def stack(infra, topics, tmp_path_factory):
    state = tmp_path_factory.mktemp("stack")
    running = Stack(
        state,
        {
            "VECHE_NAMESPACE": topics,
            "VECHE_KAFKA_BOOTSTRAP": infra.kafka_bootstrap,
            "VECHE_MONGO_URL": infra.mongo_url,
            "VECHE_BATCH_TIMEOUT_MS": "20",
            "VECHE_OPEN311_DEV_KEY": DEV_KEY,
        },
        port_offset=PORT_OFFSET,
    )
    try:
        running.up(timeout=120)
        yield running
    finally:
        running.down()
