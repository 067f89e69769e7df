import pytest
from veche_classify.app import create_app
from veche_classify.settings import ClassifySettings
from veche_shared.events import AppealClassifiedV1
from veche_shared.testing.events import received
from veche_shared.testing.stage import run_stage
from veche_shared.topics import APPEALS_CLASSIFIED, APPEALS_RECEIVED

pytestmark = pytest.mark.integration


async def test_classifies_once_republishes_on_redelivery_and_dead_letters_poison(
    infra, topics, mongo
):
    settings = ClassifySettings(
        namespace=topics, kafka_bootstrap=infra.kafka_bootstrap, mongo_url=infra.mongo_url
    )
    gas = received(text="В подъезде дома на улице Мира сильно пахнет газом")
    roads = received(text="На дороге огромные ямы, асфальт разбит")
    run = await run_stage(
        create_app(settings),
        settings,
        source=APPEALS_RECEIVED,
        target=APPEALS_CLASSIFIED,
        records=[gas.to_bytes(), b'{"appeal_id": "not-a-uuid"}', roads.to_bytes(), gas.to_bytes()],
        expected_outputs=3,
        expected_dead=1,
    )
    by_appeal: dict = {}
    for event in run.outputs:
        assert isinstance(event, AppealClassifiedV1)
        by_appeal.setdefault(event.appeal_id, []).append(event)
    assert by_appeal[roads.appeal_id][0].classification.topic == "roads"
    assert by_appeal[gas.appeal_id][0].classification.urgency.value == "critical"
    # the redelivered appeal is republished with the same event id: downstream deduplicates
    assert len({e.event_id for e in by_appeal[gas.appeal_id]}) == 1
    assert len(run.dead_letters) == 1
    stored = await mongo[settings.database]["classifications"].count_documents({})
    assert stored == 2
