"""``veche-topics``: create every topic in :mod:`veche_shared.topics` (idempotent)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from .topics import Topic, all_topics


def new_topic(topic: Topic, namespace: str, replication: int) -> NewTopic:
    return NewTopic(
        name=topic.qualified(namespace),
        num_partitions=topic.partitions,
        replication_factor=replication,
        topic_configs={
            "retention.ms": str(topic.retention_ms),
            "cleanup.policy": topic.cleanup_policy,
            "min.insync.replicas": str(min(2, replication)),
        },
    )


async def ensure_topics(bootstrap: str, namespace: str = "", replication: int = 1) -> list[str]:
    """Create missing topics; return the names that were created."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, client_id="veche-topics")
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        wanted = [new_topic(t, namespace, replication) for t in all_topics()]
        missing = [t for t in wanted if t.name not in existing]
        if missing:
            # another process may create them first: the goal is reached all the same
            with contextlib.suppress(TopicAlreadyExistsError):
                await admin.create_topics(missing)
        return [t.name for t in missing]
    finally:
        await admin.close()


async def drop_topics(bootstrap: str, namespace: str) -> list[str]:
    """Delete the project's topics of a namespace (a test module's, a bench run's) that exist;
    return their names. Left behind, every test run added ~50 namespaces of 12 topics to the
    developer's broker, which keeps metadata and files for each partition. The un-namespaced
    topics are production's: never deleted here."""
    if not namespace:
        raise ValueError("only a namespace's topics are deleted, never the un-namespaced ones")
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, client_id="veche-topics")
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        doomed = [
            t.qualified(namespace) for t in all_topics() if t.qualified(namespace) in existing
        ]
        if doomed:
            await admin.delete_topics(doomed)
        return doomed
    finally:
        await admin.close()


def main(argv: list[str] | None = None) -> int:
    from .settings import ServiceSettings

    parser = argparse.ArgumentParser(description=__doc__)
    defaults = ServiceSettings()
    parser.add_argument("--bootstrap", default=defaults.kafka_bootstrap)
    parser.add_argument("--namespace", default=defaults.namespace)
    parser.add_argument("--replication", type=int, default=1)
    args = parser.parse_args(argv)
    created = asyncio.run(ensure_topics(args.bootstrap, args.namespace, args.replication))
    print(f"topics: {len(created)} created, {len(all_topics()) - len(created)} already present")
    return 0


if __name__ == "__main__":
    sys.exit(main())
