"""Storage compatibility: the store patterns every service relies on, against the real server
named by VECHE_MONGO_URL (FerretDB locally, MongoDB in production)."""

import asyncio
import uuid

import pytest
from pymongo.errors import DuplicateKeyError
from veche_shared.events import AppealReceivedV1
from veche_shared.mongo import GroupInsert, chunks, insert_new, record_events_once
from veche_shared.testing.events import received

pytestmark = pytest.mark.integration


@pytest.fixture
async def db(mongo, namespace, request):
    database = mongo[f"{namespace}_compat_{request.node.name[:20]}"]
    yield database
    await mongo.drop_database(database.name)


async def test_unordered_insert_reports_duplicates_and_inserts_the_rest(db):
    await db.docs.insert_many([{"_id": "a"}, {"_id": "b"}])
    existing = await insert_new(db.docs, [{"_id": "a"}, {"_id": "c"}, {"_id": "b"}, {"_id": "d"}])
    assert existing == {"a", "b"}
    assert sorted([d["_id"] async for d in db.docs.find({})]) == ["a", "b", "c", "d"]


async def test_group_insert_tells_each_caller_what_was_new_and_stores_the_first_of_an_id(db):
    await db.docs.insert_one({"_id": "old", "by": "earlier"})
    group = GroupInsert(db.docs)

    results = await asyncio.gather(
        *(group.insert([{"_id": f"n{i}", "by": i}]) for i in range(30)),
        group.insert([{"_id": "old", "by": "late"}, {"_id": "twin", "by": "first"}]),
        group.insert([{"_id": "twin", "by": "second"}]),
    )

    assert results[:30] == [[True]] * 30
    assert results[30] == [False, True]  # already stored; the first of two twins
    assert results[31] == [False]
    stored = {d["_id"]: d["by"] async for d in db.docs.find({})}
    assert stored["old"] == "earlier"
    assert stored["twin"] == "first"
    assert len(stored) == 32


async def test_record_events_once_returns_the_first_recorded_version(db):
    def recorded(event):
        return {"_id": "e1", "event": event.stored()}

    given = received()
    first = await record_events_once(db.outputs, [recorded(given)], [given])
    redelivered = given.model_copy(update={"event_id": uuid.uuid4()})
    again = await record_events_once(db.outputs, [recorded(redelivered)], [redelivered])
    assert first[0] is given  # a new output is not parsed back from its document
    assert again == [given]  # the stored version, parsed as its type
    assert isinstance(again[0], AppealReceivedV1)
    stored = await db.outputs.find_one({"_id": "e1"})
    assert stored["event"] == given.to_bytes().decode()  # the text published, one value


async def test_record_events_once_reads_an_event_an_earlier_version_stored_nested(db):
    earlier = received()
    await db.outputs.insert_one({"_id": "e1", "event": earlier.model_dump(mode="json")})
    redelivered = earlier.model_copy(update={"event_id": uuid.uuid4()})
    again = await record_events_once(db.outputs, [{"_id": "e1", "event": "-"}], [redelivered])
    assert again == [earlier]


async def test_exactly_one_of_many_concurrent_inserts_of_one_id_wins(db):
    """The claim primitive registration numbers rely on. (FerretDB 1.24's ``$inc`` through
    find_one_and_update is not atomic under concurrency — measured: duplicates — so Veche never
    relies on read-modify-write counters.)"""

    async def claim(n):
        try:
            await db.claims.insert_one({"_id": "71:2026:000001", "by": n})
        except DuplicateKeyError:
            return False
        return True

    results = await asyncio.gather(*(claim(n) for n in range(50)))
    assert results.count(True) == 1


async def test_unique_secondary_index_is_enforced(db):
    await db.appeals.create_index("registration_number", unique=True)
    await db.appeals.insert_one({"_id": 1, "registration_number": "71-2026-000001"})
    with pytest.raises(DuplicateKeyError):
        await db.appeals.insert_one({"_id": 2, "registration_number": "71-2026-000001"})


async def test_update_batches_stay_below_the_ferretdb_statement_limit(db):
    from pymongo import UpdateOne

    await db.items.insert_many([{"_id": i, "n": 0} for i in range(120)])
    for batch in chunks(list(range(120))):
        assert len(batch) < 50
        await db.items.bulk_write([UpdateOne({"_id": i}, {"$set": {"n": 1}}) for i in batch])
    assert await db.items.count_documents({"n": 1}) == 120


def _answered_from_an_index(explained: dict) -> bool:
    """MongoDB names its index stages (IDHACK, EXPRESS_IXSCAN, IXSCAN); FerretDB's SQLite
    backend reports SQLite's plan ("SEARCH ... USING INDEX" vs "SCAN")."""
    plan = str(explained.get("queryPlanner", explained))
    return any(mark in plan for mark in ("USING INDEX", "IXSCAN", "IDHACK"))


@pytest.mark.parametrize(
    "query",
    [
        {"_id": "k7"},
        {"_id": {"$in": ["k1", "k2", "k3"]}},
        {"_id": {"$in": ["k1", "k2"]}, "status": "pending"},  # notify's claim, classify's leases
    ],
)
async def test_hot_path_lookups_by_id_are_index_searches(db, query):
    """Every hot-path read and write selects by ``_id``; the server must answer that from an
    index, not by reading the collection (stock FerretDB 1.24 scanned: deploy/local/README.md)."""
    await db.docs.insert_many([{"_id": f"k{n}", "status": "pending"} for n in range(50)])
    explained = await db.command("explain", {"find": "docs", "filter": query})
    assert _answered_from_an_index(explained), explained.get("queryPlanner")


async def test_a_filter_on_an_unindexed_field_is_a_scan(db):
    """The control for the check above: it does tell a scan from an index search."""
    await db.docs.insert_many([{"_id": f"k{n}", "status": "pending"} for n in range(50)])
    explained = await db.command("explain", {"find": "docs", "filter": {"status": "pending"}})
    assert not _answered_from_an_index(explained)
