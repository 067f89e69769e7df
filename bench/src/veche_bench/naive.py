"""(c) The naive baseline: one stage written the way framework tutorials show it.

    python -m veche_bench.naive --stage classify --inserts 1 --namespace NS --bootstrap B --mongo M

One message per handler call, ``insert_one`` per document, ``update_one`` per status change and
a publish that waits for the broker's confirmation before the next message; FastStream with its
defaults otherwise. The same documents as the raw relay (``stages.py``).

With ``--domain`` (the baseline the table calls (c)) each message also gets Veche's own domain
work (``domain.py``: classified by the trained model, routed by the rule book, its letters
rendered and sent over SMTP) and the stage publishes the real next event: the same pipeline,
written the tutorial way. Without it (c′), records are forwarded unchanged: the best case of
that style, with nothing to do but the I/O.
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

from .domain import Step, classify_step, notify_step, route_step
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


def domain_step(stage: Stage, args: argparse.Namespace) -> tuple[Step | None, Any]:
    """The stage's domain work per message, and what to close at the end (or ``None``)."""
    if not args.domain or stage.name == "timeline":
        return None, None
    if stage.name == "notify":
        return notify_step(args.smtp_port)
    return (classify_step() if stage.name == "classify" else route_step()), None


async def naive(args: argparse.Namespace, stage: Stage, stop: asyncio.Event) -> None:
    step, close = domain_step(stage, args)
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
        key, value = (record.key or b"").decode(), record.value or b""
        body = await step(value) if step else outgoing(stage, key, value)
        for document in documents(stage, key, value, args.inserts, record.topic):
            with contextlib.suppress(DuplicateKeyError):  # a redelivery: already stored
                await collection.insert_one(document)
        for change in own_updates(stage, key, args.inserts, args.updates):
            await collection.update_one(*change)
        if stage.updates_per_record:
            await summaries.update_one(*summary_update(key, record.topic))
        if output:
            await broker.publish(body, output, key=record.key)

    await broker.start()
    try:
        await stop.wait()
    finally:
        await broker.stop()
        await client.close()
        if close is not None:
            await close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--domain", action="store_true", help="Veche's domain work per message")
    parser.add_argument("--smtp-port", type=int, default=1025, help="where notify sends letters")
    asyncio.run(serve(parse(argv, parser), naive))
    return 0


if __name__ == "__main__":
    sys.exit(main())
