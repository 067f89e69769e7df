import pytest
from veche_classify.domain.baseline import KeywordClassifier
from veche_classify.domain.taxonomy import load_taxonomy
from veche_classify.domain.text import clean, lemmas
from veche_classify.settings import ClassifySettings
from veche_shared.events import Channel, Urgency
from veche_shared.testing.events import snapshot

EXPECTED_TOPICS = [
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
]


@pytest.fixture(scope="module")
def classifier():
    return KeywordClassifier(load_taxonomy(ClassifySettings().taxonomy_path))


def test_taxonomy_has_exactly_the_agreed_slugs_in_order():
    assert load_taxonomy(ClassifySettings().taxonomy_path).codes == tuple(EXPECTED_TOPICS)


def test_html_remnants_are_removed():
    assert clean("<p>Нет&nbsp;воды</p><br>") == "Нет воды"


def test_lemmas_normalise_inflection():
    assert lemmas("на разбитых дорогах") == ["на", "разбитый", "дорога"]


@pytest.mark.parametrize(
    ("text", "topic"),
    [
        ("На дороге огромные ямы, асфальт разбит", "roads"),
        ("Автобус по маршруту 18 не ходит по расписанию", "public_transport"),
        ("Бродячие собаки бегают стаей у школы", "animals"),
    ],
)
def test_clear_cases_get_their_topic(classifier, text, topic):
    assert classifier.classify(snapshot(text=text)).topic == topic


def test_gas_smell_is_critical(classifier):
    result = classifier.classify(snapshot(text="В подъезде сильно пахнет газом"))
    assert result.urgency is Urgency.CRITICAL


def test_duty_dispatch_incidents_are_at_least_high(classifier):
    result = classifier.classify(snapshot(text="Поступило сообщение о яме", channel=Channel.EDDS))
    assert result.urgency in {Urgency.HIGH, Urgency.CRITICAL}


def test_text_without_any_keyword_is_other_with_low_confidence(classifier):
    result = classifier.classify(snapshot(text="Здравствуйте"))
    assert result.topic == "other"
    assert result.confidence < 0.5
