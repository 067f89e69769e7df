"""How long a letter stays ``sending`` before the relay's 250, and after it until ``sent`` lands.

Those are the two windows in which a crash decides between a lost letter and a duplicate
(docs/notify.md, "Exactly once"). The script runs notify's own ``Deliverer`` against the store
(``VECHE_MONGO_URL``) and ``veche-mail-sink`` started as its own process, and prints figures::

    uv run --frozen python services/notify/scripts/send_windows.py --letters 40 --rate 20 --runs 3

The 250 time is the sink's: it stamps each letter (``X-Sink-Received``) with the moment it
stored it, just before replying. The ``sent`` time is taken when the store write returns.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from pymongo import AsyncMongoClient
from veche_notify.delivery import Deliverer
from veche_notify.mail_sink import letters
from veche_notify.settings import NotifySettings
from veche_notify.storage import NotifyStore
from veche_shared.testing.app_runner import free_port


class TimedStore(NotifyStore):
    """Notes when each result's write has returned."""

    landed: dict[str, float]

    async def finish(
        self, results: Sequence[tuple[str, Mapping[str, Any]]], *, linger: bool = False
    ) -> None:
        await super().finish(results, linger=linger)
        for key, _ in results:
            self.landed[key] = time.time()


def summary(seconds: list[float]) -> str:
    return f"median {statistics.median(seconds) * 1000:5.0f} ms, max {max(seconds) * 1000:5.0f} ms"


async def one_run(count: int, rate: float, smtp_port: int, folder: Path) -> str:
    settings = NotifySettings(
        namespace=f"windows{uuid.uuid4().hex[:8]}", smtp_port=smtp_port, email_rate_per_s=rate
    )
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(settings.mongo_url, tz_aware=True)
    store = TimedStore(client, settings.database)
    store.landed = {}
    run = uuid.uuid4().hex[:8]
    documents = [
        {
            "_id": f"{run}-{i}:registered:citizen:citizen:email",
            "kind": "registered",
            "recipient": "citizen",
            "channel": "email",
            "address": "citizen@example.org",
            "subject": "Обращение зарегистрировано",
            "body": "Ваше обращение зарегистрировано.",
            "status": "pending",
            "attempts": 0,
        }
        for i in range(count)
    ]
    try:
        await store.record_notifications(documents)
        keys = [str(d["_id"]) for d in documents]
        await Deliverer(settings, store).settle(list((await store.load(keys)).values()), {})
        final = await store.load(keys)
    finally:
        await client.drop_database(settings.database)
        await client.close()
    replied = {
        x.notification: datetime.fromisoformat(x.received_at).timestamp()
        for x in letters(folder)
        if x.notification.startswith(run)
    }
    before = [replied[k] - d["claimed_at"].timestamp() for k, d in final.items()]
    after = [store.landed[k] - replied[k] for k in final]
    return f"claim → 250: {summary(before)};  250 → `sent` stored: {summary(after)}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--letters", type=int, default=40, help="letters in one chunk (≤ 40)")
    parser.add_argument("--rate", type=float, default=20.0, help="VECHE_EMAIL_RATE_PER_S")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    smtp_port = free_port()
    with tempfile.TemporaryDirectory() as folder:
        sink = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "veche_notify.mail_sink",
                "serve",
                "--smtp-port",
                str(smtp_port),
                "--http-port",
                str(free_port()),
                "--folder",
                folder,
            ],
            stdout=subprocess.DEVNULL,
        )
        try:
            time.sleep(3)  # the sink's start; a failed start shows as connection errors below
            print(f"{args.letters} letters at {args.rate:g}/s")
            for _ in range(args.runs):
                print(" ", asyncio.run(one_run(args.letters, args.rate, smtp_port, Path(folder))))
        finally:
            sink.terminate()
            sink.wait()


if __name__ == "__main__":
    main()
