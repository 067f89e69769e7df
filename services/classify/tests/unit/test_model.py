"""The shipped model on sentences that are in no corpus file (written for these tests)."""

import pytest
from veche_classify import artefact
from veche_classify.settings import ClassifySettings
from veche_shared.events import Urgency
from veche_shared.testing.events import snapshot


@pytest.mark.parametrize(
    ("text", "topic"),
    [
        (
            "Автобус номер 12 вечером вообще перестал ходить, людям не уехать с работы",
            "public_transport",
        ),
        ("Бродячие собаки стаей бросаются на прохожих возле школы", "animals"),
        ("В поликлинике невозможно взять талон к кардиологу", "healthcare"),
        ("мусорные баки у дома переполнены, мусор не вывозят вторую неделю", "waste"),
        # typos
        ("ваще не убераю снег во дваре, машыну не откопать, дворнека нет", "improvement"),
        # HTML remnants
        (
            "<p>Здравствуйте!<br>В&nbsp;квартире батареи&nbsp;холодные, отопление не включили</p>",
            "housing_utilities",
        ),
    ],
)
def test_clearly_worded_novel_sentences_get_their_topic(triage, text, topic):
    result = triage.classify(snapshot(text=text))
    assert result.topic == topic
    assert len(result.alternatives) == 3
    assert topic not in {a.topic for a in result.alternatives}


def test_confidences_are_probabilities_and_version_is_recorded(triage):
    result = triage.classify(snapshot(text="На дороге огромные ямы"))
    total = result.confidence + sum(a.confidence for a in result.alternatives)
    assert 0 < result.confidence <= 1
    assert total <= 1.0001
    assert result.classifier == artefact.metadata(ClassifySettings().model_path)["version"]


def test_gas_smell_is_critical_whatever_the_model_says(triage):
    result = triage.classify(snapshot(text="В подъезде сильно пахнет газом"))
    assert result.urgency is Urgency.CRITICAL
    assert "threat_to_life" in result.urgency_rules


def test_vague_text_goes_to_review(triage):
    result = triage.classify(snapshot(text="Здравствуйте, у меня вопрос"))
    assert result.needs_review
    assert "no_essence" in result.flags


def test_artefact_metadata_carries_hash_and_held_out_metrics():
    meta = artefact.metadata(ClassifySettings().model_path)
    assert len(meta["training_data_sha256"]) == 64
    assert 0 < meta["metrics"]["holdout.jsonl"]["macro_f1"] <= 1


def test_the_loaded_svm_multiplies_without_copying_its_coefficients():
    """scipy copies a non-contiguous right operand on every product (~1 ms per appeal)."""
    model = artefact.load(artefact.DEFAULT_MODEL)
    assert model.topic.svm.coef.T.flags["C_CONTIGUOUS"]
