import pytest
from veche_notify.app import create_app
from veche_notify.settings import NotifySettings
from veche_shared.events import AppealNotifiedV1
from veche_shared.testing.stage import run_stage
from veche_shared.topics import APPEALS_NOTIFIED, APPEALS_ROUTED

from ..unit.test_plan_and_render import routed

pytestmark = pytest.mark.integration


async def test_records_each_notification_once_even_when_redelivered(infra, topics, mongo):
    settings = NotifySettings(
        namespace=topics, kafka_bootstrap=infra.kafka_bootstrap, mongo_url=infra.mongo_url
    )
    event = routed()
    run = await run_stage(
        create_app(settings),
        settings,
        source=APPEALS_ROUTED,
        target=APPEALS_NOTIFIED,
        records=[event.to_bytes(), event.to_bytes(), b"[]"],
        expected_outputs=2,
        expected_dead=1,
    )
    notified = run.outputs
    assert all(isinstance(n, AppealNotifiedV1) for n in notified)
    assert notified[0].event_id == notified[1].event_id
    assert {n.kind for n in notified[0].notifications} == {"registered", "redirected", "assigned"}
    documents = mongo[settings.database]["notifications"]
    assert await documents.count_documents({}) == 3
    letter = await documents.find_one({"kind": "registered"})
    assert "71-2026-000001" in letter["body"]
