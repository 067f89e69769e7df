import pytest
from veche_route.app import create_app
from veche_route.settings import RouteSettings
from veche_shared.events import AppealRoutedV1
from veche_shared.testing.events import classified
from veche_shared.testing.stage import run_stage
from veche_shared.topics import APPEALS_CLASSIFIED, APPEALS_ROUTED

pytestmark = pytest.mark.integration


async def test_routes_once_with_deadlines_and_dead_letters_poison(infra, topics, mongo):
    settings = RouteSettings(
        namespace=topics, kafka_bootstrap=infra.kafka_bootstrap, mongo_url=infra.mongo_url
    )
    event = classified(topic="roads", text="В Новомосковске на улице Садовой яма")
    run = await run_stage(
        create_app(settings),
        settings,
        source=APPEALS_CLASSIFIED,
        target=APPEALS_ROUTED,
        records=[event.to_bytes(), b"\x00garbage", event.to_bytes()],
        expected_outputs=2,
        expected_dead=1,
    )
    routed = run.outputs
    assert all(isinstance(r, AppealRoutedV1) for r in routed)
    assert routed[0].event_id == routed[1].event_id
    assert routed[0].territory.code == "novomoskovsk"
    assert routed[0].deadlines.answer_by > event.appeal.registered_at
    docs = [d async for d in mongo[settings.database]["routings"].find({}, {"event": 0})]
    assert len(docs) == 1, docs
