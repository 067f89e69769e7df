"""(b) The raw limit: one stage of a minimal aiokafka + PyMongo relay, no domain logic.

    python -m veche_bench.relay --stage classify --inserts 1 --namespace NS \
        --bootstrap 127.0.0.1:9092 --mongo mongodb://127.0.0.1:27017/

The same delivery as Veche (batch poll, unordered bulk insert keyed by ``_id``, batched produce
with ``acks=all`` and idempotence, wait for every ack, then commit) and the same store writes,
with nothing else: the ceiling this hardware, broker and store allow.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from pymongo import AsyncMongoClient, UpdateOne
from veche_shared.mongo import chunks, insert_new
from veche_shared.service import settle_heap

from .stages import (
    STAGES,
    SUMMARY_COLLECTION,
    Stage,
    database,
    documents,
    outgoing,
    own_updates,
    summary_update,
)


async def relay(args: argparse.Namespace, stage: Stage, stop: asyncio.Event) -> None:
    topics = [t.qualified(args.namespace) for t in stage.inputs]
    consumer = AIOKafkaConsumer(
        *topics,
        bootstrap_servers=args.bootstrap,
        group_id=f"relay-{stage.name}",
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_poll_records=500,
    )
    producer = AIOKafkaProducer(
        bootstrap_servers=args.bootstrap,
        acks="all",
        enable_idempotence=True,
        linger_ms=5,
        max_batch_size=1024 * 1024,
    )
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(args.mongo, tz_aware=True)
    db = client[database(args.namespace, "relay")]
    collection = db[stage.name]
    summaries = db[SUMMARY_COLLECTION]
    output = stage.output.qualified(args.namespace) if stage.output else None
    await consumer.start()
    await producer.start()
    try:
        while not stop.is_set():
            batches = await consumer.getmany(timeout_ms=50, max_records=500)
            records = [record for part in batches.values() for record in part]
            if not records:
                continue
            keys = [(r.key or b"").decode() for r in records]
            docs = [
                doc
                for key, r in zip(keys, records, strict=True)
                for doc in documents(stage, key, r.value or b"", args.inserts, r.topic)
            ]
            await insert_new(collection, docs)
            changes = [
                UpdateOne(*change)
                for key in keys
                for change in own_updates(stage, key, args.inserts, args.updates)
            ]
            for part in chunks(changes):
                await collection.bulk_write(list(part), ordered=False)
            if stage.updates_per_record:
                # one summary update per appeal in the batch, as ingest's timeline merges them
                latest = {k: r.topic for k, r in zip(keys, records, strict=True)}
                updates = [UpdateOne(*summary_update(k, topic)) for k, topic in latest.items()]
                for part in chunks(updates):
                    await summaries.bulk_write(list(part), ordered=False)
            if output:
                acks = [
                    await producer.send(output, outgoing(stage, k, r.value or b""), key=r.key)
                    for k, r in zip(keys, records, strict=True)
                ]
                await asyncio.gather(*acks)
            await consumer.commit()
    finally:
        await consumer.stop()
        await producer.stop()
        await client.close()


def parse(
    argv: list[str] | None, parser: argparse.ArgumentParser | None = None
) -> argparse.Namespace:
    parser = parser or argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--stage", choices=sorted(STAGES), required=True)
    parser.add_argument("--inserts", type=int, default=1, help="documents stored per appeal")
    parser.add_argument("--updates", type=int, default=0, help="of them updated per appeal")
    parser.add_argument("--namespace", required=True)
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--mongo", required=True)
    return parser.parse_args(argv)


async def serve(args: argparse.Namespace, run: Any) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    task = asyncio.create_task(run(args, STAGES[args.stage], stop))
    waiter = asyncio.create_task(stop.wait())
    await asyncio.wait({task, waiter}, return_when=asyncio.FIRST_COMPLETED)
    if task.done():
        task.result()  # a crash is reported, not swallowed
    else:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    waiter.cancel()


def main(argv: list[str] | None = None) -> int:
    settle_heap()  # the services' garbage-collector settings: the ceiling is not handicapped
    asyncio.run(serve(parse(argv), relay))
    return 0


if __name__ == "__main__":
    sys.exit(main())
