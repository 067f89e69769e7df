"""A topic phase's appeals are stored as registration stores them, so the timeline's status
updates change real documents during the drain, as they do for every registered appeal (real
store)."""

import pytest
from veche_bench.appeals import received_event
from veche_bench.runner import register_appeals
from veche_ingest.domain.intake import AppealSubmission
from veche_ingest.domain.timeline import timeline_entry
from veche_ingest.registrar import Registrar
from veche_ingest.storage import IngestStore
from veche_shared.testing.events import classified_from

pytestmark = pytest.mark.integration


async def test_registered_appeals_are_the_documents_the_timeline_updates(mongo, namespace):
    database = f"{namespace}_veche_ingest"
    appeals = mongo[database]["appeals"]
    await register_appeals(appeals, "run1", first_index=10, count=3)
    await register_appeals(appeals, "run1", first_index=10, count=3)  # again: nothing doubled

    ids = [str(received_event(index, "run1").appeal_id) for index in (10, 11, 12)]
    stored = {d["_id"]: d async for d in appeals.find({})}
    assert sorted(stored) == sorted(ids)
    assert {d["stage_rank"] for d in stored.values()} == {0}

    classified = classified_from(received_event(11, "run1"))
    await IngestStore(mongo, database).add_timeline([timeline_entry(classified)])

    changed = await appeals.find_one({"_id": ids[1]})
    assert changed is not None
    assert changed["stage_rank"] > 0
    assert changed["topic"] == classified.classification.topic


async def test_registered_topic_appeals_leave_ingests_own_numbers_free(mongo, namespace):
    database = f"{namespace}_numbers"
    store = IngestStore(mongo, database)
    await store.create_indexes()
    await register_appeals(store.appeals, "run2", first_index=0, count=5)

    async def kept(event, headers) -> None:
        return None

    registrar = Registrar(
        store, kept, region_code="71", publish_timeout=5.0, on_published=lambda _: None
    )
    intake = AppealSubmission(text="На улице Мира в Алексине яма на дороге").to_intake()
    registered = await registrar.register(intake)
    assert registered.registration_number.endswith("-000001")  # the first, not skipped
