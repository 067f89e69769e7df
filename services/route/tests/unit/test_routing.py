from datetime import UTC, date, datetime

import pytest
from veche_route.domain.calendar import is_working_day, term_end
from veche_route.domain.routing import Router
from veche_route.settings import RouteSettings
from veche_shared.testing.events import classified


@pytest.fixture(scope="module")
def router():
    settings = RouteSettings()
    return Router.from_files(settings.region_file, settings.rules_file, settings.receiving_body)


def test_production_calendar_knows_transfers():
    assert is_working_day(date(2025, 11, 1))  # working Saturday by the 2025 transfer
    assert not is_working_day(date(2025, 11, 3))  # the day off it was moved to
    assert not is_working_day(date(2026, 1, 5))  # New Year holidays


def test_term_ending_in_the_new_year_break_moves_to_the_first_working_day():
    registered = datetime(2025, 12, 8, 12, tzinfo=UTC)  # +30 days = 7 January 2026
    answer_by = term_end(registered, 30)
    assert answer_by.date() == date(2026, 1, 12)


def test_term_ending_on_a_working_day_stays():
    registered = datetime(2026, 3, 2, 9, tzinfo=UTC)
    assert term_end(registered, 7).date() == date(
        2026, 3, 10
    )  # 9 March is a holiday (8 March moved)


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("В Алексине на ул. Мира яма", "aleksin"),
        ("Новомосковск, двор дома 5", "novomoskovsk"),
        ("Пишу из Тульской области, деревня не указана", None),
    ],
)
def test_municipality_from_text(router, text, code):
    found = router.territory.resolve(text)
    assert (found.code if found else None) == code


def test_local_road_goes_to_the_municipal_roads_department(router):
    routed = router.route(classified(topic="roads", text="В Алексине разбита дорога"))
    assert routed.territory.code == "aleksin"
    assert routed.executor.level.value == "municipal"
    assert routed.redirected is True
    assert routed.deadlines.answer_by > routed.deadlines.redirect_by > routed.deadlines.register_by


def test_unknown_territory_falls_back_to_the_regional_level_with_a_flag(router):
    routed = router.route(classified(topic="roads", text="Разбита дорога у моего дома"))
    assert routed.territory.resolved is False
    assert routed.executor.level.value == "regional"


def test_every_topic_in_the_rules_routes_with_and_without_territory(router):
    topics = {rule.topic for rule in router.rules.rules}
    assert len(topics) == 20
    for topic in topics:
        for text in ("В Алексине проблема", "Проблема"):
            assert router.route(classified(topic=topic, text=text)).executor.organisation
