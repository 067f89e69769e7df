"""Creating and deleting a namespace's topics on the real broker (veche-topics, test fixtures,
the bench)."""

import pytest
from veche_shared.testing.infra import unique_namespace
from veche_shared.testing.kafka_tools import topic_names, until
from veche_shared.topics import all_topics
from veche_shared.topics_cli import drop_topics, ensure_topics


async def test_a_namespace_s_topics_are_created_once_and_deleted_with_it(infra):
    namespace = unique_namespace("tdrop")
    other = unique_namespace("tkeep")
    wanted = {t.qualified(namespace) for t in all_topics()}
    await ensure_topics(infra.kafka_bootstrap, other)

    assert set(await ensure_topics(infra.kafka_bootstrap, namespace)) == wanted
    await until(lambda: _all_listed(infra.kafka_bootstrap, wanted))
    assert await ensure_topics(infra.kafka_bootstrap, namespace) == []  # already there

    assert set(await drop_topics(infra.kafka_bootstrap, namespace)) == wanted
    await until(lambda: _gone(infra.kafka_bootstrap, wanted))
    assert {t.qualified(other) for t in all_topics()} <= await topic_names(infra.kafka_bootstrap)
    assert await drop_topics(infra.kafka_bootstrap, namespace) == []  # nothing left to delete
    await drop_topics(infra.kafka_bootstrap, other)


async def _all_listed(bootstrap: str, names: set[str]) -> bool:
    return names <= await topic_names(bootstrap)


async def _gone(bootstrap: str, names: set[str]) -> bool:
    return not names & await topic_names(bootstrap)


async def test_the_un_namespaced_topics_are_never_deleted(infra):
    with pytest.raises(ValueError, match="namespace"):
        await drop_topics(infra.kafka_bootstrap, "")
