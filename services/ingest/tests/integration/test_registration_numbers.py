"""Registration numbers on the real store: concurrent requests share claim inserts (group
commit), two replicas racing for one sequence still get unique, gap-free numbers, and a number
that a stored appeal already holds is skipped."""

import asyncio
from collections.abc import Mapping

import pytest
from veche_ingest.domain.intake import AppealSubmission
from veche_ingest.registrar import NUMBER_ATTEMPTS, NumberingError, Registrar
from veche_ingest.settings import IngestSettings
from veche_ingest.storage import IngestStore
from veche_shared.events import AppealReceivedV1, utc_now

pytestmark = pytest.mark.integration


async def test_two_replicas_racing_get_unique_gap_free_numbers(topics, mongo):
    database = IngestSettings(namespace=topics).database
    replica_a, replica_b = IngestStore(mongo, database), IngestStore(mongo, database)

    numbers = await asyncio.gather(
        *(store.next_sequence("71-2026") for _ in range(30) for store in (replica_a, replica_b))
    )

    assert sorted(numbers) == list(range(1, 61))  # each number once, none skipped
    stored = mongo[database]["registrations"]
    assert await stored.count_documents({"key": "71-2026"}) == 60
    assert await replica_a.next_sequence("71-2026") == 61  # after the other's, not a reuse


async def test_concurrent_requests_share_claim_inserts(topics, mongo):
    store = IngestStore(mongo, IngestSettings(namespace=topics).database)
    inserts = 0
    claim = store.registrations.insert_many

    async def counting(*args, **kwargs):
        nonlocal inserts
        inserts += 1
        return await claim(*args, **kwargs)

    store.registrations.insert_many = counting  # type: ignore[method-assign]
    numbers = await asyncio.gather(*(store.next_sequence("71-2027") for _ in range(40)))

    assert sorted(numbers) == list(range(1, 41))
    assert inserts < 10  # 40 registrations, a handful of store commands (was one each)


class Kept:
    """A publish that keeps the events it is given (Kafka is not what these tests are about)."""

    def __init__(self) -> None:
        self.events: list[AppealReceivedV1] = []

    async def __call__(self, event: AppealReceivedV1, headers: Mapping[str, str]) -> None:
        self.events.append(event)


async def _registrar_over_held_numbers(mongo, database: str, held: int) -> tuple[Registrar, Kept]:
    """A store whose appeals hold the first ``held`` numbers of this year with no claims for
    them (a restored or imported appeals collection)."""
    store = IngestStore(mongo, database)
    await store.create_indexes()
    year = utc_now().year
    await store.appeals.insert_many(
        [
            {"_id": f"restored-{n}", "registration_number": f"71-{year}-{n:06d}"}
            for n in range(1, held + 1)
        ]
    )
    published = Kept()
    registrar = Registrar(
        store, published, region_code="71", publish_timeout=5.0, on_published=lambda _: None
    )
    return registrar, published


async def test_a_number_a_stored_appeal_holds_is_skipped_not_fatal(topics, mongo):
    database = f"{topics}_held_two"
    registrar, published = await _registrar_over_held_numbers(mongo, database, held=2)
    intake = AppealSubmission(text="Во дворе дома 3 не вывозят мусор вторую неделю").to_intake()

    registered = await registrar.register(intake)

    assert registered.registration_number.endswith("-000003")
    assert not registered.replayed
    assert [str(e.appeal_id) for e in published.events] == [registered.appeal_id]


async def test_registration_fails_plainly_when_every_number_tried_is_held(topics, mongo):
    database = f"{topics}_held_all"
    registrar, published = await _registrar_over_held_numbers(mongo, database, NUMBER_ATTEMPTS)
    intake = AppealSubmission(text="Во дворе дома 3 не вывозят мусор вторую неделю").to_intake()

    with pytest.raises(NumberingError, match="held by stored appeals"):
        await registrar.register(intake)
    assert published.events == []
