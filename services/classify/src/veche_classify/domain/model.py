"""The trained triage model: one shared featuriser, a topic classifier and an urgency classifier.

Features (scikit-learn): TF-IDF over lemma unigrams and bigrams (pymorphy3, cached per word form)
joined with TF-IDF over character 2–5-grams inside word boundaries of the normalised text, so
a misspelt word still shares most of its n-grams with the correct one, plus the mean navec
vector. Topic: a linear SVM (``class_weight="balanced"``) whose scores are turned into
probabilities by sigmoid calibration fitted on *template-grouped* folds (appeals generated from
one fact template never sit on both sides), so the confidence reflects unseen wordings, not
memorised ones. Urgency: a multinomial logistic regression. The calibration error on the
held-out set is part of every training report. The model family and C were chosen by
template-grouped cross-validation on the training side only (``veche-classify train --cv``).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp
from scipy.special import expit, softmax
from sklearn.calibration import CalibratedClassifierCV
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GroupKFold
from sklearn.pipeline import FeatureUnion, Pipeline
from sklearn.preprocessing import FunctionTransformer
from sklearn.svm import LinearSVC

from .embeddings import WeightedEmbedding, vector
from .lexicon import LexiconFeatures
from .text import lemma, normalise, words

FAMILY = "tfidf-navec-svm"
EMBEDDING_WEIGHT = 1.0  # the mean embedding's share next to the two unit-norm TF-IDF blocks


def mean_embeddings(normalised_texts: Sequence[str]) -> Any:
    """Unit-length mean word vector per text: meaning for words the corpus never showed."""
    out = np.zeros((len(normalised_texts), 300), dtype=np.float32)
    for row, text in enumerate(normalised_texts):
        vectors = [v for v in map(vector, words(text)) if v is not None]
        if vectors:
            mean = np.mean(vectors, axis=0)
            out[row] = EMBEDDING_WEIGHT * mean / (np.linalg.norm(mean) or 1.0)
    return out


def normalise_all(texts: Sequence[str]) -> list[str]:
    return [normalise(text) for text in texts]


def lemma_ngrams(normalised: str) -> list[str]:
    """Analyzer for the word vectoriser: lemmas and adjacent-lemma pairs."""
    found = [lemma(word) for word in words(normalised)]
    return found + [f"{a} {b}" for a, b in itertools.pairwise(found)]


@dataclass(frozen=True, slots=True)
class FeatureOptions:
    """Which dense blocks join the two TF-IDF blocks, and their weight next to them."""

    embedding: str = "mean"  # "mean" (plain), "idf" (IDF-weighted, content words), "idf+max"
    embedding_weight: float = EMBEDDING_WEIGHT
    lexicon_weight: float = 0.0  # 0: no lexicon block
    soft_lexicon: bool = True  # navec similarity to the lexicon entries as well as exact hits


def build_featuriser(
    options: FeatureOptions | None = None,
    max_word_features: int = 30_000,
    max_char_features: int = 40_000,
) -> Pipeline:
    options = options or FeatureOptions()
    blocks: list[tuple[str, Any]] = [
        (
            "lemmas",
            TfidfVectorizer(
                analyzer=lemma_ngrams,
                min_df=2,
                sublinear_tf=True,
                max_features=max_word_features,
                dtype=np.float32,
            ),
        ),
        (
            "chars",
            TfidfVectorizer(
                analyzer="char_wb",
                ngram_range=(2, 5),
                min_df=3,
                sublinear_tf=True,
                max_features=max_char_features,
                dtype=np.float32,
            ),
        ),
    ]
    if options.embedding == "mean":
        blocks.append(("meaning", FunctionTransformer(mean_embeddings)))
    else:
        pooled = WeightedEmbedding(
            options.embedding_weight, max_pool=options.embedding == "idf+max"
        )
        blocks.append(("meaning", pooled))
    if options.lexicon_weight:
        lexicon = LexiconFeatures(weight=options.lexicon_weight, soft=options.soft_lexicon)
        blocks.append(("lexicon", lexicon))
    return Pipeline(
        [("normalise", FunctionTransformer(normalise_all)), ("features", FeatureUnion(blocks))]
    )


def build_classifier(c: float) -> LogisticRegression:
    return LogisticRegression(C=c, max_iter=2000, class_weight="balanced")


def build_topic_classifier(c: float, folds: Any) -> CalibratedClassifierCV:
    """Linear SVM + sigmoid calibration on the given (template-grouped) folds, one final SVM."""
    svm = LinearSVC(C=c, class_weight="balanced")
    return CalibratedClassifierCV(svm, method="sigmoid", cv=folds, ensemble=False)


def grouped_folds(topics: Sequence[str], groups: Sequence[str], n_splits: int = 3) -> list[Any]:
    """Folds where all texts of one group (fact template) stay on one side."""
    index = np.zeros(len(topics))
    return list(GroupKFold(n_splits=n_splits).split(index, list(topics), list(groups)))


@dataclass(slots=True)
class SigmoidLinear:
    """A linear topic classifier with per-class sigmoid calibration, evaluated with numpy alone.

    Same probabilities as the fitted ``CalibratedClassifierCV`` (one-vs-rest sigmoids,
    normalised), without its per-class input validation, which cost ~5 ms per single appeal.
    """

    classes_: Any
    coef: Any  # (n_classes, n_features) float32
    intercept: Any
    a: Any  # sigmoid slope and offset per class
    b: Any

    @classmethod
    def from_calibrated(cls, calibrated: CalibratedClassifierCV) -> SigmoidLinear:
        (only,) = calibrated.calibrated_classifiers_  # ensemble=False: one final SVM
        svm = only.estimator
        if list(svm.classes_) != list(calibrated.classes_):
            raise ValueError("calibrated classes differ from the SVM's")
        return cls(
            classes_=np.asarray(calibrated.classes_),
            coef=svm.coef_.astype(np.float32),
            intercept=svm.intercept_.astype(np.float32),
            a=np.array([c.a_ for c in only.calibrators], dtype=np.float64),
            b=np.array([c.b_ for c in only.calibrators], dtype=np.float64),
        )

    def predict_proba(self, features: Any) -> Any:
        scores = np.asarray(features @ self.coef.T) + self.intercept
        p = expit(-(scores * self.a + self.b))
        total = p.sum(axis=1, keepdims=True)
        uniform = np.full_like(p, 1.0 / len(self.classes_))
        return np.divide(p, total, out=uniform, where=total != 0)

    def predict(self, features: Any) -> Any:
        return self.classes_[np.argmax(self.predict_proba(features), axis=1)]


def softmax_proba(clf: LogisticRegression, features: Any) -> Any:
    """``predict_proba`` of a multinomial logistic regression without sklearn's validation."""
    scores = np.asarray(features @ clf.coef_.T) + clf.intercept_
    return softmax(scores, axis=1)


@dataclass(frozen=True, slots=True)
class Scored:
    """Probabilities of one text: topics (best first) and urgency levels (best first)."""

    topics: tuple[tuple[str, float], ...]
    urgency: tuple[tuple[str, float], ...]


@dataclass(slots=True)
class TriageModel:
    featuriser: Pipeline
    topic: SigmoidLinear
    urgency: LogisticRegression
    version: str

    def score(self, texts: Sequence[str]) -> list[Scored]:
        if not texts:
            return []
        features = self.features(texts)
        topic_p = self.topic.predict_proba(features)
        urgency_p = softmax_proba(self.urgency, features)
        return [
            Scored(
                topics=_ranked(self.topic.classes_, topic_row),
                urgency=_ranked(self.urgency.classes_, urgency_row),
            )
            for topic_row, urgency_row in zip(topic_p, urgency_p, strict=True)
        ]

    def features(self, texts: Sequence[str]) -> Any:
        """The featuriser's output, calling each block directly (no joblib/set_output layers)."""
        normalised = normalise_all(texts)
        union: FeatureUnion = self.featuriser.named_steps["features"]
        blocks = [
            block.func(normalised)
            if isinstance(block, FunctionTransformer)
            else block.transform(normalised)
            for _, block in union.transformer_list
        ]
        return sp.hstack(blocks, format="csr")

    def shrink(self) -> None:
        """float32 coefficients: half the artefact, no measurable change in probabilities."""
        self.urgency.coef_ = self.urgency.coef_.astype(np.float32)
        self.urgency.intercept_ = self.urgency.intercept_.astype(np.float32)


def _ranked(classes: Any, row: Any) -> tuple[tuple[str, float], ...]:
    order = np.argsort(row)[::-1]
    return tuple((str(classes[i]), float(row[i])) for i in order)


def fit(
    texts: Sequence[str],
    topics: Sequence[str],
    urgencies: Sequence[str],
    version: str,
    groups: Sequence[str] | None = None,
    topic_c: float = 0.1,
    urgency_c: float = 4.0,
    options: FeatureOptions | None = None,
) -> TriageModel:
    """``groups``: the fact template of each text (None: every text its own group)."""
    featuriser = build_featuriser(options)
    features = featuriser.fit_transform(list(texts))
    own_groups = [str(i) for i in range(len(texts))]
    folds = grouped_folds(topics, groups if groups is not None else own_groups)
    topic = SigmoidLinear.from_calibrated(
        build_topic_classifier(topic_c, folds).fit(features, list(topics))
    )
    urgency = build_classifier(urgency_c).fit(features, list(urgencies))
    model = TriageModel(featuriser=featuriser, topic=topic, urgency=urgency, version=version)
    model.shrink()
    return model
