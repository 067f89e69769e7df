"""The bench's in-memory store starts, keeps documents by ``_id`` and is gone afterwards
(a real server: mongo-java-server fetched from Maven Central and run by memstore.sh)."""

import os

import pytest
from pymongo import AsyncMongoClient
from pymongo.errors import BulkWriteError
from veche_bench.memstore import memory_store


async def test_the_memory_store_answers_rejects_duplicates_and_stops(tmp_path):
    async with memory_store(tmp_path / "memstore.log") as store:
        client: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(store.url)
        try:
            appeals = client["t"]["appeals"]
            await appeals.insert_many([{"_id": "a1"}, {"_id": "a2"}])
            with pytest.raises(BulkWriteError) as raised:
                await appeals.insert_many([{"_id": "a2"}, {"_id": "a3"}], ordered=False)
            codes = [error["code"] for error in raised.value.details["writeErrors"]]
            assert codes == [11000]  # Veche's idempotent inserts rely on this, not on counts
            assert sorted(await appeals.distinct("_id")) == ["a1", "a2", "a3"]
        finally:
            await client.close()
        pid = store.pid
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
