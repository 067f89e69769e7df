"""The numpy scoring path equals scikit-learn's; NER runs once per batch, only where cued."""

import numpy as np
from sklearn.linear_model import LogisticRegression
from veche_classify.domain.model import (
    SigmoidLinear,
    build_topic_classifier,
    grouped_folds,
    softmax_proba,
)
from veche_classify.domain.triage import Triage
from veche_shared.testing.events import snapshot


def _toy_data():
    rng = np.random.default_rng(7)
    centres = rng.normal(size=(4, 12)) * 3
    labels = np.repeat(["a", "b", "c", "d"], 30)
    features = centres[np.repeat(np.arange(4), 30)] + rng.normal(size=(120, 12))
    groups = [str(i // 5) for i in range(120)]
    return features, labels, groups


def test_sigmoid_linear_gives_the_calibrated_classifiers_probabilities():
    features, labels, groups = _toy_data()
    calibrated = build_topic_classifier(0.1, grouped_folds(list(labels), groups)).fit(
        features, labels
    )
    fast = SigmoidLinear.from_calibrated(calibrated)
    np.testing.assert_allclose(
        fast.predict_proba(features), calibrated.predict_proba(features), atol=1e-5
    )
    assert list(fast.predict(features)) == list(calibrated.predict(features))


def test_softmax_proba_equals_logistic_regression():
    features, labels, _ = _toy_data()
    clf = LogisticRegression(max_iter=500).fit(features, labels)
    np.testing.assert_allclose(softmax_proba(clf, features), clf.predict_proba(features), atol=1e-9)


class CountingNer:
    def __init__(self) -> None:
        self.batches: list[list[str]] = []

    def __call__(self, text: str) -> list[str]:
        raise AssertionError("single-text NER called; the batch path must be used")

    def batch(self, texts):
        self.batches.append(list(texts))
        return [["Петровского"] for _ in texts]


def test_ner_runs_once_per_batch_only_for_unresolved_place_cues(triage):
    ner = CountingNer()
    gated = Triage(triage.model, review_threshold=0.5, ner=ner)
    texts = [
        "На ул. Ленина, д. 5 прорвало трубу",  # address rules
        "В Алексине яма на дороге",  # dictionary place name
        "Батареи холодные, прошу принять меры",  # no place cue at all
        "Яма у Петровского магазина, машины бьют колёса",  # cue the rules cannot resolve
        "Собаки бегают у Никитского рынка",  # another one
    ]
    decisions = gated.decide([snapshot(text=t) for t in texts])
    assert ner.batches == [[texts[3], texts[4]]]
    kinds = [[m.kind for m in d.mentions] for d in decisions]
    assert kinds == [["street"], ["settlement"], [], ["place"], ["place"]]


def test_padded_svm_ignores_the_extra_columns_and_temperature_keeps_the_ranking():
    from veche_classify.domain.model import TopicEnsemble, fit_temperature, sharpen

    features, labels, groups = _toy_data()
    calibrated = build_topic_classifier(0.1, grouped_folds(list(labels), groups)).fit(
        features, labels
    )
    fast = SigmoidLinear.from_calibrated(calibrated)
    wider = np.hstack([features, np.full((len(features), 3), 9.0)])
    np.testing.assert_allclose(
        fast.padded(15).predict_proba(wider), fast.predict_proba(features), atol=1e-6
    )
    dense = LogisticRegression(max_iter=500).fit(features, labels)
    ensemble = TopicEnsemble(fast, dense, 0.4)
    p = ensemble.predict_proba(features, features)
    temperature = fit_temperature(p, list(labels), fast.classes_)
    sharp = sharpen(p, temperature)
    assert temperature > 0
    np.testing.assert_allclose(sharp.sum(axis=1), 1.0, atol=1e-9)
    assert (sharp.argmax(axis=1) == p.argmax(axis=1)).all()
