"""Registration numbers on the real store: concurrent requests share claim inserts (group
commit) and two replicas racing for one sequence still get unique, gap-free numbers."""

import asyncio

import pytest
from veche_ingest.settings import IngestSettings
from veche_ingest.storage import IngestStore

pytestmark = pytest.mark.integration


async def test_two_replicas_racing_get_unique_gap_free_numbers(topics, mongo):
    database = IngestSettings(namespace=topics).database
    replica_a, replica_b = IngestStore(mongo, database), IngestStore(mongo, database)

    numbers = await asyncio.gather(
        *(store.next_sequence("71-2026") for _ in range(30) for store in (replica_a, replica_b))
    )

    assert sorted(numbers) == list(range(1, 61))  # each number once, none skipped
    stored = mongo[database]["registrations"]
    assert await stored.count_documents({"key": "71-2026"}) == 60
    assert await replica_a.next_sequence("71-2026") == 61  # after the other's, not a reuse


async def test_concurrent_requests_share_claim_inserts(topics, mongo):
    store = IngestStore(mongo, IngestSettings(namespace=topics).database)
    inserts = 0
    claim = store.registrations.insert_many

    async def counting(*args, **kwargs):
        nonlocal inserts
        inserts += 1
        return await claim(*args, **kwargs)

    store.registrations.insert_many = counting  # type: ignore[method-assign]
    numbers = await asyncio.gather(*(store.next_sequence("71-2027") for _ in range(40)))

    assert sorted(numbers) == list(range(1, 41))
    assert inserts < 10  # 40 registrations, a handful of store commands (was one each)
