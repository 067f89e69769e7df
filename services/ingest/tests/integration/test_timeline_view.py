"""The appeal view's timeline on the real store: the received entry comes from the appeal
document (new appeals) or the timeline collection (appeals stored before), never twice."""

import pytest
from veche_ingest.domain.timeline import timeline_entry
from veche_ingest.settings import IngestSettings
from veche_ingest.storage import IngestStore
from veche_shared.testing.events import received

pytestmark = pytest.mark.integration


async def stored(store: IngestStore, *, legacy: bool) -> str:
    event = received()
    assert await store.save_received(event, trace_id=None, trace_headers={}, idempotency_key=None)
    if legacy:  # as stored before: the entry in the timeline collection, none in the appeal
        await store.timeline.insert_one(timeline_entry(event))
        await store.appeals.update_one(
            {"_id": str(event.appeal_id)}, {"$unset": {"received_entry": 1}}
        )
    return str(event.appeal_id)


@pytest.mark.parametrize("legacy", [False, True])
async def test_the_received_entry_shows_once_whichever_way_it_was_stored(topics, mongo, legacy):
    store = IngestStore(mongo, IngestSettings(namespace=f"{topics}tl").database)
    appeal_id = await stored(store, legacy=legacy)
    assert await store.timeline.count_documents({"appeal_id": appeal_id}) == int(legacy)

    view = await store.appeal_view(appeal_id)

    assert view is not None
    assert [e["stage"] for e in view["timeline"]] == ["received"]
    assert view["status"] == "received"
    assert view["timeline"][0]["registration_number"] == view["registration_number"]


async def test_an_appeal_stored_with_its_entry_in_both_places_shows_it_once(topics, mongo):
    store = IngestStore(mongo, IngestSettings(namespace=f"{topics}tl2").database)
    appeal_id = await stored(store, legacy=False)
    document = await store.appeals.find_one({"_id": appeal_id})
    await store.timeline.insert_one(document["received_entry"])  # e.g. a half-finished migration

    view = await store.appeal_view(appeal_id)

    assert [e["stage"] for e in view["timeline"]] == ["received"]


async def test_a_view_read_before_the_status_write_still_shows_the_stage_fields(topics, mongo):
    """The timeline inserts its entries, then writes the status summary: a view read in
    between shows the routed stage, so it shows who answers too (from the entry)."""
    store = IngestStore(mongo, IngestSettings(namespace=f"{topics}tl3").database)
    appeal_id = await stored(store, legacy=False)
    document = await store.appeals.find_one({"_id": appeal_id})
    routed_entry = {
        "_id": "routed-event-1",
        "appeal_id": appeal_id,
        "stage": "routed",
        "at": document["registered_at"],
        "summary": {
            "executor": "Администрация города Тулы",
            "territory_code": "70701000",
            "answer_by": "2027-01-15T20:59:59+00:00",
        },
    }
    future_entry = routed_entry | {"_id": "from-a-newer-version", "stage": "archived"}
    await store.timeline.insert_many([routed_entry, future_entry])  # no summary write yet

    view = await store.appeal_view(appeal_id)

    assert view["status"] == "routed"
    assert view["executor"] == "Администрация города Тулы"
    assert view["territory"] == "70701000"
    assert view["answer_by"] == "2027-01-15T20:59:59+00:00"
