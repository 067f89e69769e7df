"""(c) The naive baseline: one stage written the way framework tutorials show it.

    python -m veche_bench.naive --stage classify --inserts 1 --namespace NS --bootstrap B --mongo M

One message per handler call, ``insert_one`` per document, ``update_one`` per status change and
a publish that waits for the broker's confirmation before the next message; FastStream with its
defaults otherwise. The same records and documents as the raw relay (``stages.py``), and no
domain logic either, so it is the *best* a tutorial-shaped pipeline can do here.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
from typing import Any

from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from pymongo import AsyncMongoClient
from pymongo.errors import DuplicateKeyError

from .relay import parse, serve
from .stages import (
    SUMMARY_COLLECTION,
    Stage,
    database,
    documents,
    outgoing,
    own_updates,
    summary_update,
)


async def naive(args: argparse.Namespace, stage: Stage, stop: asyncio.Event) -> None:
    broker = KafkaBroker(args.bootstrap, client_id=f"naive-{stage.name}")
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(args.mongo, tz_aware=True)
    db = client[database(args.namespace, "naive")]
    collection = db[stage.name]
    summaries = db[SUMMARY_COLLECTION]
    output = stage.output.qualified(args.namespace) if stage.output else None

    @broker.subscriber(
        *(t.qualified(args.namespace) for t in stage.inputs),
        group_id=f"naive-{stage.name}",
        auto_offset_reset="earliest",
    )
    async def handle(message: KafkaMessage) -> None:
        record: Any = message.raw_message  # one ConsumerRecord: not a batch subscriber
        key = (record.key or b"").decode()
        for document in documents(stage, key, record.value or b"", args.inserts, record.topic):
            with contextlib.suppress(DuplicateKeyError):  # a redelivery: already stored
                await collection.insert_one(document)
        for change in own_updates(stage, key, args.inserts, args.updates):
            await collection.update_one(*change)
        if stage.updates_per_record:
            await summaries.update_one(*summary_update(key, record.topic))
        if output:
            await broker.publish(outgoing(stage, key, record.value or b""), output, key=record.key)

    await broker.start()
    try:
        await stop.wait()
    finally:
        await broker.stop()
        await client.close()


def main(argv: list[str] | None = None) -> int:
    asyncio.run(serve(parse(argv), naive))
    return 0


if __name__ == "__main__":
    sys.exit(main())
