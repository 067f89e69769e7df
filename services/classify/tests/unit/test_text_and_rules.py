import dataclasses
from datetime import UTC, datetime

import pytest
from veche_classify.domain import locations, moderation
from veche_classify.domain.incidents import Candidate, content_lemmas, match, place_key, retained
from veche_classify.domain.taxonomy import load_taxonomy
from veche_classify.domain.text import clean, lemmas, normalise
from veche_classify.domain.urgency import apply_rules
from veche_classify.settings import ClassifySettings
from veche_shared.events import Channel, Urgency

EXPECTED_TOPICS = (
    "roads",
    "public_transport",
    "housing_utilities",
    "waste",
    "improvement",
    "construction",
    "healthcare",
    "education",
    "social_support",
    "culture_sport",
    "environment",
    "public_safety",
    "corruption",
    "communications",
    "animals",
    "emergencies",
    "economy_business",
    "agriculture",
    "governance",
    "other",
)


def test_taxonomy_has_exactly_the_agreed_slugs_in_order():
    assert load_taxonomy(ClassifySettings().taxonomy_path).codes == EXPECTED_TOPICS


def test_html_remnants_are_removed():
    assert clean("<p>Нет&nbsp;воды</p><br>") == "Нет воды"


def test_normalise_lowers_unifies_yo_and_fixes_latin_lookalikes():
    # "пoлиция" with a Latin o, "ёлка" with ё, markup and an entity
    assert normalise("<b>Пoлиция</b>&nbsp;и ЁЛКА") == "полиция и елка"


def test_lemmas_normalise_inflection():
    assert lemmas("на разбитых дорогах") == ["на", "разбитый", "дорога"]


@pytest.mark.parametrize(
    ("text", "registered", "expected_rule"),
    [
        ("В подъезде сильно пахнет газом", datetime(2026, 7, 1, tzinfo=UTC), "threat_to_life"),
        ("нет отопления третий день, дети мерзнут", None, "winter_outage"),
        ("В деревне нет света с утра", datetime(2026, 1, 15, tzinfo=UTC), "winter_outage"),
        ("Нет воды, на улице мороз -25", None, "winter_outage"),
    ],
)
def test_rules_raise_urgency_to_critical(text, registered, expected_rule):
    level, fired = apply_rules(Urgency.LOW, normalise(text), registered_at=registered)
    assert level is Urgency.CRITICAL
    assert expected_rule in fired


@pytest.mark.parametrize(
    "text",
    [
        "Во дворе не горит ни один фонарь",  # «не горит» is not a fire
        "В подъезде нет света на лестнице",  # a dark stairwell in winter is not an outage
        "Нет горячей воды третий день",  # unpleasant, not dangerous
    ],
)
def test_rules_do_not_fire_on_look_alikes(text):
    level, fired = apply_rules(
        Urgency.MEDIUM, normalise(text), registered_at=datetime(2026, 1, 10, tzinfo=UTC)
    )
    assert (level, fired) == (Urgency.MEDIUM, ())


def test_rules_never_lower_and_edds_is_at_least_high():
    assert apply_rules(Urgency.HIGH, normalise("Предлагаю покрасить забор"))[0] is Urgency.HIGH
    level, _ = apply_rules(Urgency.LOW, normalise("Яма"), channel=Channel.EDDS)
    assert level is Urgency.HIGH


def test_location_rules_find_street_house_and_settlement():
    found = locations.extract("В пос. Первомайский на ул. Ленина, д. 5 прорвало трубу")
    kinds = {(m.kind, m.name, m.house) for m in found}
    assert ("settlement", "Первомайский", None) in kinds
    assert ("street", "Ленина", "5") in kinds


def test_location_rules_name_before_kind_and_ner_only_as_fallback():
    found = locations.extract("На Красноармейском пр-те яма", ner=lambda text: ["Тула"])
    assert [m.kind for m in found] == ["street"]
    fallback = locations.extract("Яма у Петровского магазина", ner=lambda text: ["Петровского"])
    assert [(m.kind, m.text) for m in fallback] == [("place", "Петровского")]


def test_dictionary_place_names_need_no_ner():
    def ner_must_not_run(text: str) -> list[str]:
        raise AssertionError("NER ran")

    found = locations.extract("В Алексине яма на дороге", ner=ner_must_not_run)
    assert [(m.kind, m.name) for m in found] == [("settlement", "Алексине")]


@pytest.mark.parametrize(
    "text",
    ["Прошу принять меры, батареи холодные", "Обращаюсь в Администрацию города по поводу ям"],
)
def test_no_location_cue_no_ner(text):
    def ner_must_not_run(text: str) -> list[str]:
        raise AssertionError("NER ran")

    assert locations.extract(text, ner=ner_must_not_run) == []


@pytest.mark.parametrize(
    ("text", "flag"),
    [
        ("Вы там совсем охренели, бля, дорогу не чините", moderation.OBSCENE),
        ("Если не почините крышу, я вам все окна в администрации подожгу", moderation.THREAT),
        ("Здравствуйте", moderation.NO_ESSENCE),
        ("Сосед Иван Петров из кв. 5 шумит по ночам", moderation.THIRD_PARTY_PERSONAL_DATA),
        ("Звоните соседке по номеру 8 900 123-45-67", moderation.THIRD_PARTY_PERSONAL_DATA),
    ],
)
def test_moderation_flags(text, flag):
    assert flag in moderation.flags(normalise(text), text)


def test_reporting_a_threat_and_own_contact_are_not_flagged():
    text = "Сосед угрожает убить, звоните мне по номеру 8 900 123-45-67, на ул. Мира шум"
    assert moderation.flags(normalise(text), text, own_contacts=["+79001234567"]) == ()


def _candidate(appeal_id, text, *, topic="roads", key="тула|металлург", hour=10):
    return Candidate(
        appeal_id=appeal_id,
        incident_id=appeal_id,
        topic=topic,
        place_key=key,
        lemmas=content_lemmas(text),
        at=datetime(2026, 11, 20, hour, tzinfo=UTC),
    )


FIRST = "На ул. Металлургов огромная яма на дороге, машины бьют колёса"
DUPLICATE = "огромные ямы на дороге по улице Металлургов, колеса разбиваем каждый день"


def test_near_duplicate_same_topic_place_and_window_is_linked():
    first = _candidate("a1", FIRST)
    found = match(_candidate("a2", DUPLICATE), [first], threshold=0.3, window=_hours(72))
    assert found is first


@pytest.mark.parametrize(
    "near_miss",
    [
        _candidate("a2", DUPLICATE, topic="improvement"),  # another topic
        _candidate("a2", DUPLICATE, key="тула|болдин"),  # another street
        _candidate("a2", "Не работает светофор на перекрестке у рынка"),  # another problem
    ],
)
def test_near_misses_are_not_linked(near_miss):
    assert match(near_miss, [_candidate("a1", FIRST)], threshold=0.3, window=_hours(72)) is None


def test_outside_the_time_window_is_not_linked():
    late = dataclasses.replace(_candidate("a2", DUPLICATE), at=datetime(2026, 12, 1, tzinfo=UTC))
    assert match(late, [_candidate("a1", FIRST)], threshold=0.3, window=_hours(72)) is None


def test_a_place_keeps_the_newest_few_of_each_incident_within_a_limit():
    def member(name, incident, hour):
        return dataclasses.replace(_candidate(name, FIRST, hour=hour), incident_id=incident)

    storm = [member(f"s{h}", "storm", h) for h in range(10, 22)]  # one incident, twelve appeals
    lamp = [member(f"l{h}", "lamp", h) for h in (1, 2)]  # an older incident at the same place

    kept = retained(storm + lamp, per_incident=5, limit=7)
    assert [m.appeal_id for m in kept] == ["l1", "l2", "s17", "s18", "s19", "s20", "s21"]

    cut = retained(storm + lamp, per_incident=5, limit=6)
    assert [m.appeal_id for m in cut] == ["l2", "s17", "s18", "s19", "s20", "s21"]


def test_place_key_prefers_text_then_form_address():
    mentions = locations.extract("На ул. Металлургов, д. 5 яма")
    assert place_key(mentions, None) == place_key(locations.extract("улица Металлургов"), None)
    assert place_key([], "г. Тула, ул. Болдина") is not None
    assert place_key([], None) is None


def _hours(n):
    from datetime import timedelta

    return timedelta(hours=n)
