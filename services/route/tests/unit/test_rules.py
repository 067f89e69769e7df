from datetime import UTC, datetime

import pytest
from pydantic import ValidationError
from veche_route.domain.rules import Catalog, RuleBook, RuleSpec
from veche_route.domain.ruleset import Change, Operation, RuleState
from veche_route.domain.territory import Municipality
from veche_shared.events import AssignmentRole, TopicScore, Urgency
from veche_shared.testing.events import classified

ALEKSIN = Municipality(
    code="aleksin",
    name="Алексин",
    administration="Администрация Алексина",
    departments={"roads": "Дорожный отдел"},
    email_pattern="{department}@aleksin.example.gov.ru",
    contact_email=None,
)
BODY = {"organisation": "Министерство транспорта", "body": "min-transport"}


def rule(rule_id, **fields):
    data = {"id": rule_id, "topic": "roads", "level": "regional", "executor": BODY} | fields
    return RuleSpec.model_validate(data)


def book(*specs):
    last = RuleSpec.model_validate(
        {"id": "last", "topic": "*", "level": "regional", "executor": {"organisation": "Аппарат"}}
    )
    return RuleBook.from_specs(specs, last, version=7)


TEMPLATE = {"from_municipality": "roads"}


def test_highest_priority_wins_and_a_territorial_rule_wins_a_tie():
    rules = book(
        rule("base", level="municipal", executor=TEMPLATE, priority=100),
        rule("override", territory="aleksin", priority=200, executor={"organisation": "A"}),
        rule("tie-any", priority=200, executor={"organisation": "B"}),
    )
    assert rules.decide("roads", ALEKSIN).rule_id == "override"
    assert rules.decide("roads", None).rule_id == "tie-any"  # the override is not a candidate


def test_municipal_template_needs_a_municipality_then_the_fallback_then_last_resort():
    rules = book(
        rule("base", level="municipal", executor=TEMPLATE),
        rule("fb-low", fallback=True, priority=5, executor={"organisation": "Low"}),
        rule("fb-high", fallback=True, priority=10),
    )
    found = rules.decide("roads", ALEKSIN)
    assert (found.rule_id, found.executor.code) == ("base", "aleksin:roads")
    assert found.executor.contact_email == "roads@aleksin.example.gov.ru"
    assert rules.decide("roads", None).rule_id == "fb-high"
    bare = book(rule("base", level="municipal", executor=TEMPLATE))
    last = bare.decide("roads", None)
    assert (last.rule_id, last.flags) == ("last", ("needs_manual_routing",))
    assert bare.decide("waste", ALEKSIN).rule_id == "last"  # no rule for the topic


def test_copies_go_to_every_other_competent_body_once():
    rules = book(
        rule("primary", priority=100),
        rule("copy-municipal", level="municipal", executor=TEMPLATE, copy=True, priority=90),
        rule("copy-same-body", copy=True, priority=80),  # the primary's body: no second copy
        rule(
            "copy-subtopic",
            copy=True,
            when_subtopic=["traffic_safety"],
            executor={"organisation": "ГАИ", "body": "gai"},
        ),
    )
    found = rules.decide("roads", ALEKSIN)
    assert [c.executor.code for c in found.copies] == ["aleksin:roads"]
    assert rules.decide("roads", None).copies == ()  # a municipal copy needs a municipality
    with_subtopic = rules.decide("roads", ALEKSIN, subtopics={"traffic_safety"})
    assert [c.executor.code for c in with_subtopic.copies] == ["gai", "aleksin:roads"]  # priority


def test_waste_in_aleksin_goes_to_the_operator_with_a_copy_to_the_town(router):
    routed = router.route(classified(topic="waste", text="В Алексине не вывозят мусор"))
    roles = [(a.role, a.executor.code) for a in routed.assignments]
    assert roles == [
        (AssignmentRole.PRIMARY, "tko-operator"),
        (AssignmentRole.COPY, "aleksin:improvement"),
    ]
    assert routed.executor.code == "tko-operator"
    assert routed.redirected
    assert routed.redirect_notice_by == routed.deadlines.redirect_by
    assert all(a.supervisor.code == "governor-office" for a in routed.assignments)
    assert routed.rules_version == router.rules.version


def test_a_confident_second_topic_is_a_second_competence(router):
    event = classified(topic="roads", text="В Алексине яма, рядом больница без врача")
    second = TopicScore(topic="healthcare", confidence=0.4)
    classification = event.classification.model_copy(update={"alternatives": (second,)})
    routed = router.route(event.model_copy(update={"classification": classification}))
    assert [a.executor.code for a in routed.assignments] == ["aleksin:roads", "min-health"]


def test_each_body_has_its_own_answer_term(router):
    event = classified(
        topic="housing_utilities", urgency=Urgency.CRITICAL, text="В Новомосковске нет отопления"
    )
    routed = router.route(event)
    registered = event.appeal.registered_at
    primary, copy = routed.assignments
    assert (primary.executor.code, copy.executor.code) == ("novomoskovsk:housing", "gzhi")
    assert (primary.answer_by - registered).total_seconds() == 6 * 3600
    assert routed.deadlines.answer_by == primary.answer_by
    assert "6 часов" in routed.deadlines.answer_basis


def test_receiving_body_as_executor_is_not_a_redirect(router):
    routed = router.route(classified(topic="other", text="Вопрос"))
    assert routed.executor.code == "governor-office"
    assert not routed.redirected
    assert routed.redirect_notice_by is None
    assert routed.assignments[0].supervisor is None
    assert "territory_unresolved" in routed.flags


CATALOG = Catalog(topics={"roads"}, territories={"aleksin"}, department_keys={"roads"})


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"topic": "pothole"}, "unknown topic"),
        ({"territory": "moscow"}, "unknown municipality"),
        ({"level": "municipal", "executor": {"from_municipality": "zoo"}}, "department key"),
        ({"executor": TEMPLATE}, "level 'municipal'"),
    ],
)
def test_catalog_names_what_a_rule_refers_to_wrongly(fields, reason):
    problems = CATALOG.problems(rule("r1", **fields))
    assert any(reason in p for p in problems), problems


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"copy": True, "fallback": True}, "copy or a fallback"),
        ({"fallback": True, "level": "municipal", "executor": TEMPLATE}, "name a body"),
        ({"executor": {"organisation": "A", "from_municipality": "roads"}}, "exactly one"),
        ({"priority": 5000}, "less than or equal"),
        ({"id": "Bad Id"}, "pattern"),
    ],
)
def test_invalid_rules_are_rejected_with_a_reason(fields, message):
    with pytest.raises(ValidationError, match=message):
        rule("r1", **fields)


def test_rule_state_folds_the_change_log_in_order():
    at = datetime(2026, 11, 20, tzinfo=UTC)
    base = rule("base").data()
    changes = [
        Change(1, "base", 1, Operation.SEED, None, base, "seed", at),
        Change(2, "other", 1, Operation.CREATE, None, rule("other").data(), "ops", at),
        Change(3, "base", 2, Operation.UPDATE, base, base | {"priority": 300}, "ops", at),
        Change(4, "other", 2, Operation.DELETE, rule("other").data(), None, "ops", at),
    ]
    state = RuleState(last_resort=rule("last"))
    assert state.apply(reversed(changes))
    assert not state.apply(changes[:2])  # already folded
    assert state.version == 4
    assert [(rev, spec.id, spec.priority) for rev, spec in state.live()] == [(2, "base", 300)]
    assert state.book.version == 4
    assert [r.id for r in state.book.rules] == ["base"]
