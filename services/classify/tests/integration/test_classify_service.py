import pytest
from veche_classify import artefact
from veche_classify.app import create_app
from veche_classify.settings import ClassifySettings
from veche_shared.events import AppealClassifiedV1
from veche_shared.testing.events import received
from veche_shared.testing.stage import run_stage
from veche_shared.topics import APPEALS_CLASSIFIED, APPEALS_RECEIVED

pytestmark = pytest.mark.integration


async def test_trained_model_classifies_links_duplicates_and_dead_letters_poison(
    infra, topics, mongo
):
    settings = ClassifySettings(
        namespace=topics, kafka_bootstrap=infra.kafka_bootstrap, mongo_url=infra.mongo_url
    )
    gas = received(text="В подъезде дома на улице Мира сильно пахнет газом")
    pothole = received(text="На ул. Металлургов огромная яма на дороге, машины бьют колёса")
    duplicate = received(
        text="огромные ямы на дороге по улице Металлургов, колеса разбиваем каждый день"
    )
    vague = received(text="Здравствуйте")
    records = [gas, b'{"appeal_id": "not-a-uuid"}', pothole, duplicate, vague, gas]
    run = await run_stage(
        create_app(settings),
        settings,
        source=APPEALS_RECEIVED,
        target=APPEALS_CLASSIFIED,
        records=[r if isinstance(r, bytes) else r.to_bytes() for r in records],
        expected_outputs=5,
        expected_dead=1,
    )
    by_appeal: dict = {}
    for event in run.outputs:
        assert isinstance(event, AppealClassifiedV1)
        by_appeal.setdefault(event.appeal_id, []).append(event)
    version = artefact.metadata(settings.model_path)["version"]
    first = by_appeal[pothole.appeal_id][0].classification
    second = by_appeal[duplicate.appeal_id][0].classification
    assert first.classifier == version
    assert (first.topic, second.topic) == ("roads", "roads")
    assert first.incident_id is not None
    assert second.incident_id == first.incident_id
    assert by_appeal[gas.appeal_id][0].classification.urgency.value == "critical"
    assert "no_essence" in by_appeal[vague.appeal_id][0].classification.flags
    # the redelivered appeal is republished with the same event id: downstream deduplicates
    assert len({e.event_id for e in by_appeal[gas.appeal_id]}) == 1
    assert len(run.dead_letters) == 1
    db = mongo[settings.database]
    assert await db["classifications"].count_documents({}) == 4
    assert await db["review"].count_documents({"_id": str(vague.appeal_id)}) == 1
    # membership for audit: the place key sits beside the incident id on the classification
    stored = {
        d["appeal_id"]: d
        async for d in db["classifications"].find({"place_key": {"$exists": True}})
    }
    assert (
        stored[str(pothole.appeal_id)]["place_key"] == stored[str(duplicate.appeal_id)]["place_key"]
    )
    assert str(vague.appeal_id) not in stored  # no place, no incident
