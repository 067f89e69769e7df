"""Results of letters sent together share inserts (real FerretDB/MongoDB, real SMTP sink)."""

from typing import Any

import pytest
from pymongo import AsyncMongoClient, monitoring
from veche_notify.delivery import Deliverer
from veche_notify.storage import NotifyStore

from .helpers import servers
from .test_claims import recorded_notifications

pytestmark = pytest.mark.integration


class DeliveryInserts(monitoring.CommandListener):
    def __init__(self) -> None:
        self.inserts = 0

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        if event.command_name == "insert" and event.command.get("insert") == "deliveries":
            self.inserts += 1

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


async def settle_counting_inserts(
    infra: Any, namespace: str, tmp_path: Any, gather_ms: float
) -> tuple[int, int, dict[str, Any]]:
    listener = DeliveryInserts()
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
        infra.mongo_url, event_listeners=[listener], tz_aware=True
    )
    try:
        async with servers(tmp_path) as s:
            settings = s.settings(namespace, infra, result_gather_ms=gather_ms)
            store = NotifyStore(client, settings.database, result_linger_s=gather_ms / 1000)
            documents = await recorded_notifications(store, appeals=10)
            deliverer = Deliverer(settings, store)
            try:
                final = await deliverer.settle(documents, {})
            finally:
                await deliverer.close()
            letters = len(s.letters())
    finally:
        await client.close()
    return listener.inserts, letters, final


async def test_letters_sent_together_record_their_results_in_a_few_inserts(infra, topics, tmp_path):
    # a generous gathering, so a slow machine's spread-out sends still fall within it
    inserts, letters, final = await settle_counting_inserts(infra, topics, tmp_path, 200)
    sent = [d for d in final.values() if d["status"] == "sent"]

    assert letters == len(sent) == 20  # every letter sent once and recorded as sent
    # without gathering: the first result alone, then one insert per result or two that end
    # while the previous insert is in flight (5 for these 20 in a run here)
    assert inserts <= 3
