"""Route on the real broker and store: copies, rule changes across replicas, the SLA watcher."""

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from datetime import timedelta

import httpx
import pytest
from veche_route.app import create_app
from veche_route.settings import RouteSettings
from veche_route.storage import RouteStore
from veche_route.watcher import DeadlineWatcher
from veche_shared.events import (
    AnswerOutcome,
    AppealAnsweredV1,
    AppealDeadlineV1,
    AppealRoutedV1,
    AssignmentRole,
    DeadlineKind,
    Executor,
    ExecutorLevel,
    Urgency,
    utc_now,
)
from veche_shared.testing import app_runner
from veche_shared.testing.events import classified
from veche_shared.testing.kafka_tools import TopicReader, produce, until
from veche_shared.topics import (
    APPEALS_ANSWERED,
    APPEALS_CLASSIFIED,
    APPEALS_DEADLINE,
    APPEALS_ROUTED,
)

pytestmark = pytest.mark.integration
ACTOR = {"X-Veche-Actor": "operator-7"}


def settings_for(infra, namespace: str, **overrides: object) -> RouteSettings:
    return RouteSettings(
        namespace=namespace,
        kafka_bootstrap=infra.kafka_bootstrap,
        mongo_url=infra.mongo_url,
        **overrides,
    )


@asynccontextmanager
async def serving(app) -> AsyncIterator[str]:
    """Serve the app and wait until its consumers run. uvicorn reports startup before
    FastStream has started the broker; a shutdown inside that window leaves the consumers
    running (they would take partitions from the next test's replicas)."""
    async with app_runner.serving(app) as base:
        await until(lambda: all(broker.running for broker in app.brokers), timeout=60)
        yield base


def routed_of(records, *appeals) -> list[AppealRoutedV1]:
    """The routed events of these appeals (the module's topics hold other tests' events too)."""
    ids = {a.appeal_id for a in appeals}
    events = [AppealRoutedV1.from_bytes(r.value) for r in records]
    return [e for e in events if e.appeal_id in ids]


async def wait_routed(reader: TopicReader, *appeals) -> list[AppealRoutedV1]:
    records = await reader.wait_for(lambda rs: len(routed_of(rs, *appeals)) >= len(appeals), 60)
    return routed_of(records, *appeals)


async def test_waste_appeal_is_routed_to_the_operator_with_a_copy_and_a_redirect_notice(
    infra, topics, mongo
):
    settings = settings_for(infra, topics)
    event = classified(topic="waste", text="В Алексине третью неделю не вывозят мусор")
    async with (
        serving(create_app(settings)) as base,
        TopicReader(infra.kafka_bootstrap, settings.topic_name(APPEALS_ROUTED)) as out,
        httpx.AsyncClient(base_url=base) as client,
    ):
        await produce(
            infra.kafka_bootstrap, settings.topic_name(APPEALS_CLASSIFIED), [event.to_bytes()]
        )
        (routed,) = await wait_routed(out, event)
        listed = (await client.get(f"/appeals/{event.appeal_id}/assignments")).json()

    assert routed.territory.code == "aleksin"
    assert routed.redirected is True
    assert routed.redirect_notice_by == routed.deadlines.redirect_by
    assert [(a.role, a.executor.code) for a in routed.assignments] == [
        (AssignmentRole.PRIMARY, "tko-operator"),
        (AssignmentRole.COPY, "aleksin:improvement"),
    ]
    assert all(a.answer_by > event.appeal.registered_at for a in routed.assignments)
    assert routed.rules_version is not None
    assert routed.rules_version > 0
    assert [a["executor"]["code"] for a in listed["assignments"]] == [
        "aleksin:improvement",
        "tko-operator",
    ]
    stored = await mongo[settings.database]["assignments"].count_documents(
        {"appeal_id": str(event.appeal_id)}
    )
    assert stored == 2


async def test_a_rule_change_through_one_replica_applies_to_the_next_appeal_in_another(
    infra, topics, mongo
):
    # no periodic re-read during the test: B learns of the change from its marker alone
    settings = settings_for(infra, topics, rules_reread_s=3600)
    bootstrap, source = infra.kafka_bootstrap, settings.topic_name(APPEALS_CLASSIFIED)
    before = classified(topic="roads", text="В Алексине разбита дорога")
    after = classified(topic="roads", text="В Алексине снова разбита дорога")
    async with AsyncExitStack() as stack:
        replica_b = await stack.enter_async_context(serving(create_app(settings)))
        out = await stack.enter_async_context(
            TopicReader(bootstrap, settings.topic_name(APPEALS_ROUTED))
        )
        b = await stack.enter_async_context(httpx.AsyncClient(base_url=replica_b))
        await produce(bootstrap, source, [before.to_bytes()])
        (first,) = await wait_routed(out, before)
        assert first.executor.code == "aleksin:roads"

        async with (
            serving(create_app(settings)) as replica_a,
            httpx.AsyncClient(base_url=replica_a) as a,
        ):
            rule = (await a.get("/rules/roads-municipal")).json()
            changed = rule | {
                "level": "regional",
                "executor": {
                    "body": "road-agency",
                    "organisation": "ГКУ ТО «Тулаупрдор»",
                    "contact_email": "roads@region71.example.gov.ru",
                },
                "priority": 400,
            }
            update = await a.put(
                "/rules/roads-municipal",
                json=changed,
                headers=ACTOR | {"If-Match": f'"{rule["version"]}"'},
            )
            assert update.status_code == 200, update.text
            new_version = update.json()["rules_version"]
        # replica A is gone: B alone consumes the next appeal, with the rules it folds itself
        await produce(bootstrap, source, [after.to_bytes()])
        (second,) = await wait_routed(out, after)
        assert second.executor.code == "road-agency"
        assert second.rule_id == "roads-municipal"
        assert second.rules_version == new_version > first.rules_version
        seen_by_b = (await b.get("/rules/roads-municipal")).json()
        assert seen_by_b["version"] == rule["version"] + 1

        audit = (await b.get("/rules/audit", params={"rule_id": "roads-municipal"})).json()
        latest = audit["changes"][0]
        assert latest["actor"] == "operator-7"
        assert latest["operation"] == "update"
        assert latest["before"]["executor"] == {"from_municipality": "roads"}
        assert latest["after"]["executor"]["body"] == "road-agency"


async def test_admin_api_validates_and_refuses_stale_or_anonymous_changes(infra, topics):
    settings = settings_for(infra, topics)
    async with (
        serving(create_app(settings)) as base,
        httpx.AsyncClient(base_url=base) as client,
    ):
        new_rule = {
            "id": "animals-shelter-novomoskovsk",
            "topic": "animals",
            "territory": "novomoskovsk",
            "level": "municipal",
            "executor": {"from_municipality": "animals"},
            "priority": 250,
        }
        assert (await client.post("/rules", json=new_rule)).status_code == 422  # no actor
        invalid = new_rule | {"topic": "zoo", "territory": "moscow"}
        refused = await client.post("/rules", json=invalid, headers=ACTOR)
        assert refused.status_code == 422
        assert any("unknown topic" in reason for reason in refused.json()["detail"])
        assert any("unknown municipality" in reason for reason in refused.json()["detail"])
        both = new_rule | {"copy": True, "fallback": True}
        assert (await client.post("/rules", json=both, headers=ACTOR)).status_code == 422

        created = await client.post("/rules", json=new_rule, headers=ACTOR)
        assert created.status_code == 201, created.text
        assert created.headers["ETag"] == '"1"'
        assert (await client.post("/rules", json=new_rule, headers=ACTOR)).status_code == 409

        path = f"/rules/{new_rule['id']}"
        edit = new_rule | {"priority": 260}
        assert (await client.put(path, json=edit, headers=ACTOR)).status_code == 428
        racing = await asyncio.gather(
            client.put(path, json=edit, headers=ACTOR | {"If-Match": '"1"'}),
            client.put(path, json=edit | {"priority": 270, "version": 1}, headers=ACTOR),
        )
        assert sorted(r.status_code for r in racing) == [200, 409]
        stale = await client.delete(path, headers=ACTOR | {"If-Match": '"1"'})
        assert stale.status_code == 409
        assert stale.headers["ETag"] == '"2"'
        deleted = await client.delete(path, headers=ACTOR | {"If-Match": '"2"'})
        assert deleted.status_code == 200
        assert (await client.get(path)).status_code == 404
        history = (await client.get("/rules/audit", params={"rule_id": new_rule["id"]})).json()
        assert [c["operation"] for c in history["changes"]] == ["delete", "update", "create"]


async def test_watcher_emits_each_notice_once_across_two_replicas_and_extends_once(
    infra, topics, mongo
):
    settings = settings_for(
        infra, topics, watch_interval_s=0.2, due_soon_hours=1.0, notice_republish_s=30
    )
    now = utc_now()
    # emergencies, critical: a 2-hour term. Registered 3 h ago: overdue; 1.5 h ago: due soon.
    overdue = classified(
        topic="emergencies",
        urgency=Urgency.CRITICAL,
        text="В Алексине прорвало дамбу, затоплена улица",
        registered_at=now - timedelta(hours=3),
    )
    due_soon = classified(
        topic="emergencies",
        urgency=Urgency.CRITICAL,
        text="В Алексине пожар в частном доме",
        registered_at=now - timedelta(minutes=90),
    )
    bootstrap = infra.kafka_bootstrap
    async with (
        TopicReader(bootstrap, settings.topic_name(APPEALS_ROUTED)) as routed_out,
        TopicReader(bootstrap, settings.topic_name(APPEALS_DEADLINE)) as deadline_out,
        serving(create_app(settings)) as first,
        serving(create_app(settings)),
        httpx.AsyncClient(base_url=first) as client,
    ):
        await produce(
            bootstrap,
            settings.topic_name(APPEALS_CLASSIFIED),
            [overdue.to_bytes(), due_soon.to_bytes()],
        )
        routed = await wait_routed(routed_out, overdue, due_soon)
        assert all(len(r.assignments) == 2 for r in routed)  # МЧС + the town's ЕДДС copy
        await deadline_out.wait_count(4, timeout=30)
        await asyncio.sleep(2)  # ten more ticks of each watcher
        records = list(await deadline_out.settle(quiet=1.5))  # a copy: the reader goes on

        soon_assignment = next(
            a.assignment_id
            for r in routed
            if r.appeal_id == due_soon.appeal_id
            for a in r.assignments
            if a.role is AssignmentRole.PRIMARY
        )
        extension = {"days": 30, "reason": "нужна экспертиза"}
        url = f"/assignments/{soon_assignment}/extension"
        extended = await client.post(url, json=extension, headers=ACTOR)
        assert extended.status_code == 200, extended.text
        assert (await client.post(url, json=extension, headers=ACTOR)).status_code == 409
        unknown = await client.post("/assignments/nope/extension", json=extension, headers=ACTOR)
        assert unknown.status_code == 404
        await deadline_out.wait_count(len(records) + 1, timeout=30)
        after_extension = await deadline_out.settle(quiet=1.5)

    events = [AppealDeadlineV1.from_bytes(r.value) for r in records]
    counts = Counter((str(e.appeal_id), e.assignment_id, e.kind) for e in events)
    assert len(events) == 4, counts
    assert set(counts.values()) == {1}
    kinds = {(e.appeal_id, e.kind) for e in events}
    assert kinds == {
        (overdue.appeal_id, DeadlineKind.OVERDUE),
        (due_soon.appeal_id, DeadlineKind.DUE_SOON),
    }
    escalated = [e for e in events if e.kind is DeadlineKind.OVERDUE]
    assert all(e.supervisor is not None for e in escalated)
    assert all(e.supervisor.code == "governor-office" for e in escalated)

    late = [AppealDeadlineV1.from_bytes(r.value) for r in after_extension[len(records) :]]
    assert [(e.assignment_id, e.kind) for e in late] == [(soon_assignment, DeadlineKind.EXTENDED)]
    assert late[0].due_at > events[0].due_at
    notices = mongo[settings.database]["deadline_notices"]
    assert await notices.count_documents({}) == 5
    assert await notices.count_documents({"published": False}) == 0


async def test_an_answered_appeal_is_no_longer_watched_even_if_the_answer_comes_first(
    infra, topics, mongo
):
    # An hour-long watch interval: only the start-up tick runs, before anything is routed.
    quiet = settings_for(infra, topics, watch_interval_s=3600, due_soon_hours=1.0)
    watching = settings_for(infra, topics, watch_interval_s=0.2, due_soon_hours=1.0)
    past = utc_now() - timedelta(hours=3)
    answered_late = classified(
        topic="emergencies", urgency=Urgency.CRITICAL, text="В Алексине пожар", registered_at=past
    )
    answered_early = classified(
        topic="emergencies", urgency=Urgency.CRITICAL, text="В Алексине паводок", registered_at=past
    )
    unanswered = classified(
        topic="emergencies", urgency=Urgency.CRITICAL, text="В Алексине обрыв", registered_at=past
    )

    def answer(event):
        return AppealAnsweredV1(
            appeal_id=event.appeal_id,
            appeal=event.appeal,
            executor=answered_routed_executor,
            answered_at=utc_now(),
            outcome=AnswerOutcome.RESOLVED,
        ).to_bytes()

    bootstrap = infra.kafka_bootstrap
    assignments = mongo[quiet.database]["assignments"]
    async with (
        TopicReader(bootstrap, quiet.topic_name(APPEALS_ROUTED)) as routed_out,
        TopicReader(bootstrap, quiet.topic_name(APPEALS_DEADLINE)) as deadline_out,
    ):
        async with serving(create_app(quiet)):
            classified_topic = quiet.topic_name(APPEALS_CLASSIFIED)
            await produce(bootstrap, classified_topic, [answered_late.to_bytes()])
            (routed,) = await wait_routed(routed_out, answered_late)
            answered_routed_executor = routed.executor
            answers = [answer(answered_late), answer(answered_early)]  # early: before routing
            await produce(bootstrap, quiet.topic_name(APPEALS_ANSWERED), answers)

            async def closed() -> bool:
                query = {"_id": str(answered_late.appeal_id)}
                return await mongo[quiet.database]["answers"].count_documents(query) == 1

            await until(closed, timeout=60)
            await until(
                lambda: mongo[quiet.database]["answers"].count_documents(
                    {"_id": str(answered_early.appeal_id)}
                ),
                timeout=30,
            )
            await produce(
                bootstrap, classified_topic, [answered_early.to_bytes(), unanswered.to_bytes()]
            )
            await wait_routed(routed_out, answered_early, unanswered)
        async with serving(create_app(watching)):
            await deadline_out.wait_for(
                lambda rs: any(
                    AppealDeadlineV1.from_bytes(r.value).appeal_id == unanswered.appeal_id
                    for r in rs
                ),
                timeout=30,
            )
            records = await deadline_out.settle(quiet=1.5)

    ours = {answered_late.appeal_id, answered_early.appeal_id, unanswered.appeal_id}
    answered_ids = [str(answered_late.appeal_id), str(answered_early.appeal_id)]
    # the answer did not touch the assignments (no scan by appeal id); their looks are gone
    assert await assignments.count_documents({"appeal_id": {"$in": answered_ids}}) == 4
    watch = mongo[quiet.database]["deadline_watch"]
    assert await watch.count_documents({"appeal_id": {"$in": answered_ids}}) == 0
    events = [AppealDeadlineV1.from_bytes(r.value) for r in records]
    events = [e for e in events if e.appeal_id in ours]
    assert {e.appeal_id for e in events} == {unanswered.appeal_id}
    assert [e.kind for e in events] == [DeadlineKind.OVERDUE, DeadlineKind.OVERDUE]


async def test_a_notice_recorded_but_not_published_is_published_once_later(infra, topics, mongo):
    """The process died between recording a notice and publishing it: a replica sends it."""
    settings = settings_for(infra, topics, watch_interval_s=0.2, notice_republish_s=0.5)
    source = classified(topic="roads", text="В Алексине яма")
    executor = Executor(
        code="aleksin:roads", organisation="Администрация Алексина", level=ExecutorLevel.MUNICIPAL
    )
    lost = AppealDeadlineV1(
        appeal_id=source.appeal_id,
        appeal=source.appeal,
        assignment_id=f"{source.appeal_id}:aleksin:roads",
        kind=DeadlineKind.OVERDUE,
        term="answer",
        due_at=utc_now() - timedelta(hours=1),
        executor=executor,
        occurred_at=utc_now() - timedelta(minutes=5),
    )
    notices = mongo[settings.database]["deadline_notices"]
    await notices.insert_one(
        {
            "_id": f"{lost.assignment_id}|answer|overdue|{lost.due_at.isoformat()}",
            "assignment_id": lost.assignment_id,
            "kind": "overdue",
            "published": False,
            "at": lost.occurred_at,
            "event": lost.model_dump(mode="json", exclude_none=True),
        }
    )
    async with (
        TopicReader(infra.kafka_bootstrap, settings.topic_name(APPEALS_DEADLINE)) as out,
        serving(create_app(settings)),
        serving(create_app(settings)),
    ):

        def mine(records):
            return [
                r for r in records if AppealDeadlineV1.from_bytes(r.value).event_id == lost.event_id
            ]

        await out.wait_for(lambda records: bool(mine(records)), timeout=30)
        await asyncio.sleep(1.5)  # several more ticks of both replicas
        resent = mine(await out.settle(quiet=1.5))
    assert len(resent) == 1
    assert (await notices.find_one({"_id": {"$regex": f"^{lost.assignment_id}"}}))["published"]


async def test_more_due_terms_than_a_tick_takes_all_get_their_notice(infra, topics, mongo):
    """The watcher reads only due looks, earliest first, and moves each on: twelve due-soon
    terms with three per tick all get their notice (a query of due terms kept returning the
    same first ones), and each term's next look waits at its end."""
    settings = settings_for(infra, topics, watch_interval_s=0.2, due_soon_hours=1.0, watch_batch=3)
    now = utc_now()
    appeals = [
        classified(  # critical: a 2-hour term, registered 90 min ago: due soon
            topic="emergencies",
            urgency=Urgency.CRITICAL,
            text=f"В Алексине пожар в доме {n}",
            registered_at=now - timedelta(minutes=90),
        )
        for n in range(6)
    ]
    ids = {a.appeal_id for a in appeals}
    bootstrap = infra.kafka_bootstrap
    async with (
        TopicReader(bootstrap, settings.topic_name(APPEALS_ROUTED)) as routed_out,
        TopicReader(bootstrap, settings.topic_name(APPEALS_DEADLINE)) as deadline_out,
        serving(create_app(settings)),
    ):
        await produce(
            bootstrap, settings.topic_name(APPEALS_CLASSIFIED), [a.to_bytes() for a in appeals]
        )
        routed = await wait_routed(routed_out, *appeals)
        terms = {a.assignment_id for r in routed for a in r.assignments}

        def ours(records):
            events = [AppealDeadlineV1.from_bytes(r.value) for r in records]
            return [e for e in events if e.appeal_id in ids]

        await deadline_out.wait_for(lambda rs: len(ours(rs)) >= len(terms), timeout=60)
        events = ours(await deadline_out.settle(quiet=1.5))
    assert len(terms) == 12  # each appeal: МЧС and the town's ЕДДС
    assert sorted(e.assignment_id for e in events) == sorted(terms)  # each once
    assert {e.kind for e in events} == {DeadlineKind.DUE_SOON}
    looks = [doc async for doc in mongo[settings.database]["deadline_watch"].find()]
    mine = [look for look in looks if look["assignment_id"] in terms]
    assert len(mine) == 12  # one next look per term: at its end, for the overdue notice
    assert all(look["_id"].startswith(look["due_at"].strftime("%Y-%m-%dT%H:%M")) for look in mine)


async def test_an_extended_term_is_watched_anew_once_across_two_watchers(infra, topics, mongo):
    """Two watchers (replicas) on one store tick together at chosen moments: each notice once,
    the old term's look sends nothing and the extended term gets due-soon and overdue; before a
    look's time no tick reads it."""
    settings = settings_for(infra, topics, watch_interval_s=3600)  # only the start-up tick
    # registered now, not on the factories' fixed date: its looks must still lie ahead
    appeal = classified(
        topic="roads", text="В Алексине провал асфальта на мосту", registered_at=utc_now()
    )
    bootstrap, deadline_topic = infra.kafka_bootstrap, settings.topic_name(APPEALS_DEADLINE)
    async with (
        TopicReader(bootstrap, settings.topic_name(APPEALS_ROUTED)) as routed_out,
        serving(create_app(settings)),
    ):
        await produce(bootstrap, settings.topic_name(APPEALS_CLASSIFIED), [appeal.to_bytes()])
        (routed,) = await wait_routed(routed_out, appeal)
    assignment = routed.assignments[0]
    assignment_id, start, due = (
        assignment.assignment_id,
        appeal.appeal.registered_at,
        assignment.answer_by,
    )

    async def publish(event: AppealDeadlineV1) -> None:
        await produce(bootstrap, deadline_topic, [event.to_bytes()], key=event.key())

    store = RouteStore(mongo, settings.database)
    horizon = timedelta(hours=72)
    # the re-send grace compares a notice's real recording time with the tick's chosen moment:
    # longer than the jump ahead, so only the watch queue is at work here
    grace = timedelta(days=400)
    a, b = (DeadlineWatcher(store, publish, horizon, 3600, grace) for _ in range(2))

    async def looks_of(when) -> list:
        return [x for x in await store.due_looks(when, 1000) if x["assignment_id"] == assignment_id]

    async def both_tick(when) -> None:
        await asyncio.gather(a.tick(when), b.tick(when))

    halfway = start + (due - start) / 2
    assert await looks_of(utc_now()) == []
    assert await looks_of(halfway - timedelta(seconds=1)) == []  # not due: not read
    assert len(await looks_of(halfway)) == 1

    async with TopicReader(bootstrap, deadline_topic) as out:
        new_due = await a.extend(assignment_id, 10, "нужна экспертиза", "operator-7")
        await both_tick(due - timedelta(hours=1))  # the old term would be due soon: stale
        await both_tick(new_due - timedelta(hours=1))  # the new term is due soon
        await both_tick(new_due + timedelta(seconds=1))  # and then overdue
        await both_tick(new_due + timedelta(days=1))  # nothing left to look at
        records = await out.settle(quiet=1.5)

    events = [AppealDeadlineV1.from_bytes(r.value) for r in records]
    mine = [(e.kind, e.due_at) for e in events if e.assignment_id == assignment_id]
    assert sorted(mine) == sorted(
        [
            (DeadlineKind.EXTENDED, new_due),
            (DeadlineKind.DUE_SOON, new_due),
            (DeadlineKind.OVERDUE, new_due),
        ]
    )
    assert (
        await mongo[settings.database]["deadline_watch"].count_documents(
            {"assignment_id": assignment_id}
        )
        == 0
    )


async def test_assignments_stored_before_the_queue_are_backfilled_once(infra, topics, mongo):
    settings = settings_for(infra, topics, watch_interval_s=3600)
    appeal = classified(topic="roads", text="В Алексине яма у школы")
    bootstrap = infra.kafka_bootstrap
    async with (
        TopicReader(bootstrap, settings.topic_name(APPEALS_ROUTED)) as routed_out,
        serving(create_app(settings)),
    ):
        await produce(bootstrap, settings.topic_name(APPEALS_CLASSIFIED), [appeal.to_bytes()])
        (routed,) = await wait_routed(routed_out, appeal)
    ids = [a.assignment_id for a in routed.assignments]
    db = mongo[settings.database]
    await db["deadline_watch"].delete_many({"assignment_id": {"$in": ids}})  # as stored before
    await db["migrations"].delete_many({})

    async def publish(event: AppealDeadlineV1) -> None:
        raise AssertionError("a backfill sends nothing")

    watcher = DeadlineWatcher(
        RouteStore(mongo, settings.database), publish, timedelta(hours=72), 1, timedelta(hours=1)
    )
    assert await watcher.backfill() >= len(ids)
    looks = [doc async for doc in db["deadline_watch"].find({"assignment_id": {"$in": ids}})]
    assert sorted(look["assignment_id"] for look in looks) == sorted(ids)
    await db["deadline_watch"].delete_many({"assignment_id": {"$in": ids}})
    assert await watcher.backfill() == 0  # once per database
    assert await db["deadline_watch"].count_documents({"assignment_id": {"$in": ids}}) == 0
