"""Store command metrics against the real server: what a service asks of its store, counted by
command and collection, with no document, filter or value in a label."""

import pytest
from prometheus_client import CollectorRegistry
from pymongo import AsyncMongoClient, UpdateOne
from pymongo.errors import DuplicateKeyError, OperationFailure
from veche_shared.store_metrics import StoreCommandMetrics

pytestmark = pytest.mark.integration


@pytest.fixture
async def measured(infra, namespace):
    registry = CollectorRegistry()
    client: AsyncMongoClient = AsyncMongoClient(
        infra.mongo_url, event_listeners=[StoreCommandMetrics(registry, "probe")]
    )
    database = client[f"{namespace}_store_metrics"]
    yield registry, database
    await client.drop_database(database.name)
    await client.close()


def sample(registry, name, **labels):
    return registry.get_sample_value(name, {"service": "probe", **labels}) or 0


async def test_commands_statements_and_round_trips_are_counted_per_collection(measured):
    registry, db = measured
    await db.letters.insert_many([{"_id": f"l{i}", "to": "ivan@example.org"} for i in range(7)])
    await db.letters.bulk_write([UpdateOne({"_id": f"l{i}"}, {"$set": {"s": 1}}) for i in range(3)])
    assert await db.letters.find_one({"_id": "l1"}) is not None
    with pytest.raises(DuplicateKeyError):
        await db.letters.insert_one({"_id": "l1"})

    ok = {"collection": "letters", "outcome": "ok"}
    assert sample(registry, "veche_store_commands_total", command="insert", **ok) == 2
    assert sample(registry, "veche_store_commands_total", command="update", **ok) == 1
    assert sample(registry, "veche_store_commands_total", command="find", **ok) == 1
    statements = "veche_store_statements_total"
    assert sample(registry, statements, command="insert", collection="letters") == 8
    assert sample(registry, statements, command="update", collection="letters") == 3
    timed = {"command": "insert", "collection": "letters"}
    assert sample(registry, "veche_store_command_seconds_count", **timed) == 2
    assert sample(registry, "veche_store_command_seconds_sum", **timed) > 0


async def test_a_failed_command_is_counted_as_an_error(measured):
    registry, db = measured
    with pytest.raises(OperationFailure):
        await db.command("vecheNoSuchCommand")
    failed = {"command": "vecheNoSuchCommand", "collection": "", "outcome": "error"}
    assert sample(registry, "veche_store_commands_total", **failed) == 1


async def test_no_value_reaches_a_label(measured):
    registry, db = measured
    await db.letters.insert_one({"_id": "secret-id", "to": "ivan@example.org"})
    await db.letters.find_one({"to": "ivan@example.org"})
    exposed = " ".join(
        f"{point.labels}" for metric in registry.collect() for point in metric.samples
    )
    assert "ivan@example.org" not in exposed
    assert "secret-id" not in exposed
