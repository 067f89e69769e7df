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
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp
from scipy.optimize import minimize_scalar
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

FAMILY = "tfidf-navec-lexicon-ensemble"
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
class ModelOptions:
    """Which dense blocks join the two TF-IDF blocks (and their weight next to them), and the
    share of the dense-only topic model in the topic ensemble (0: the SVM alone)."""

    embedding: str = "idf"  # "mean" (plain), "idf" (IDF-weighted, content words), "idf+max"
    embedding_weight: float = EMBEDDING_WEIGHT
    lexicon_weight: float = 1.0  # 0: no lexicon block
    soft_lexicon: bool = False  # navec similarity to the lexicon entries as well as exact hits
    dense_share: float = 0.4
    dense_c: float = 0.3
    topic_c: float = 0.3


def build_featuriser(
    options: ModelOptions | None = None,
    max_word_features: int = 30_000,
    max_char_features: int = 40_000,
) -> Pipeline:
    options = options or ModelOptions()
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

    def padded(self, width: int) -> SigmoidLinear:
        """The same classifier on wider inputs whose extra trailing columns it ignores."""
        extra = np.zeros((self.coef.shape[0], width - self.coef.shape[1]), dtype=self.coef.dtype)
        coef = np.hstack([self.coef, extra])
        return SigmoidLinear(self.classes_, coef, self.intercept, self.a, self.b)

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


@dataclass(slots=True)
class TopicEnsemble:
    """The calibrated SVM on all features, averaged with a logistic regression on the dense
    blocks alone (IDF-weighted navec mean + lexicon hits), then sharpened by one temperature.

    The dense model has a few hundred inputs and cannot memorise template phrasing; it knows
    the hand-written lexicon and word meanings, so it disagrees with the SVM exactly where a
    text's wording is new. ``temperature`` is fitted on out-of-fold (template-grouped)
    predictions of the training data: averaging two models flattens probabilities, and the
    review threshold needs calibrated ones.
    """

    svm: SigmoidLinear
    dense: LogisticRegression | None  # None: the SVM alone
    dense_share: float
    temperature: float = 1.0

    @property
    def classes_(self) -> Any:
        return self.svm.classes_

    def predict_proba(self, features: Any, dense: Any) -> Any:
        p = self.svm.predict_proba(features)
        if self.dense is not None:
            p = (1 - self.dense_share) * p + self.dense_share * softmax_proba(self.dense, dense)
        return sharpen(p, self.temperature)


def sharpen(p: Any, temperature: float) -> Any:
    if temperature == 1.0:
        return p
    powered = np.power(np.clip(p, 1e-12, 1.0), 1.0 / temperature)
    return powered / powered.sum(axis=1, keepdims=True)


def fit_temperature(p: Any, truth: Sequence[str], classes: Any) -> float:
    """The temperature minimising the log-loss of out-of-fold probabilities."""
    index = {c: i for i, c in enumerate(classes)}
    rows = np.arange(len(truth))
    columns = np.array([index[t] for t in truth])

    def loss(log_t: float) -> float:
        sharp = sharpen(p, float(np.exp(log_t)))
        return float(-np.log(np.clip(sharp[rows, columns], 1e-12, 1.0)).mean())

    found = minimize_scalar(loss, bounds=(-3.0, 3.0), method="bounded")
    return float(np.exp(found.x))


@dataclass(frozen=True, slots=True)
class Scored:
    """Probabilities of one text: topics (best first) and urgency levels (best first)."""

    topics: tuple[tuple[str, float], ...]
    urgency: tuple[tuple[str, float], ...]


@dataclass(slots=True)
class TriageModel:
    featuriser: Pipeline
    topic: TopicEnsemble
    urgency: LogisticRegression
    version: str

    def score(self, texts: Sequence[str]) -> list[Scored]:
        if not texts:
            return []
        features, dense = self.features(texts)
        topic_p = self.topic.predict_proba(features, dense)
        urgency_p = softmax_proba(self.urgency, features)
        return [
            Scored(
                topics=_ranked(self.topic.classes_, topic_row),
                urgency=_ranked(self.urgency.classes_, urgency_row),
            )
            for topic_row, urgency_row in zip(topic_p, urgency_p, strict=True)
        ]

    def features(self, texts: Sequence[str]) -> tuple[Any, Any]:
        """All features (sparse) and the dense blocks alone, calling each block directly
        (no joblib/set_output layers)."""
        normalised = normalise_all(texts)
        union: FeatureUnion = self.featuriser.named_steps["features"]
        blocks = [
            block.func(normalised)
            if isinstance(block, FunctionTransformer)
            else block.transform(normalised)
            for _, block in union.transformer_list
        ]
        return sp.hstack(blocks, format="csr"), dense_part(blocks)

    def shrink(self) -> None:
        """float32 coefficients: half the artefact, no measurable change in probabilities."""
        for clf in (self.urgency, self.topic.dense):
            if clf is not None:
                clf.coef_ = clf.coef_.astype(np.float32)
                clf.intercept_ = clf.intercept_.astype(np.float32)


def dense_part(blocks: Sequence[Any]) -> Any:
    """The dense blocks (embedding, lexicon) side by side: the dense topic model's input."""
    return np.hstack([b for b in blocks if not sp.issparse(b)])


def lexicon_width(featuriser: Pipeline) -> int:
    """How many trailing columns of the featuriser's output the lexicon block makes up."""
    union: FeatureUnion = featuriser.named_steps["features"]
    block = dict(union.transformer_list).get("lexicon")
    return 0 if block is None else int(block.width)


def sparse_width(featuriser: Pipeline) -> int:
    """How many leading columns of the featuriser's output the TF-IDF blocks make up."""
    union: FeatureUnion = featuriser.named_steps["features"]
    return sum(
        len(block.vocabulary_)
        for _, block in union.transformer_list
        if isinstance(block, TfidfVectorizer)
    )


def _ranked(classes: Any, row: Any) -> tuple[tuple[str, float], ...]:
    order = np.argsort(row)[::-1]
    return tuple((str(classes[i]), float(row[i])) for i in order)


def fit(
    texts: Sequence[str],
    topics: Sequence[str],
    urgencies: Sequence[str],
    version: str,
    groups: Sequence[str] | None = None,
    urgency_c: float = 4.0,
    options: ModelOptions | None = None,
) -> TriageModel:
    """``groups``: the fact template of each text (None: every text its own group)."""
    options = options or ModelOptions()
    featuriser = build_featuriser(options)
    features = featuriser.fit_transform(list(texts))
    dense = features[:, sparse_width(featuriser) :].toarray()
    own_groups = [str(i) for i in range(len(texts))]
    topic = fit_topic(
        features,
        dense,
        topics,
        groups if groups is not None else own_groups,
        options,
        lexicon_columns=lexicon_width(featuriser),
    )
    urgency = build_classifier(urgency_c).fit(features, list(urgencies))
    model = TriageModel(featuriser=featuriser, topic=topic, urgency=urgency, version=version)
    model.shrink()
    return model


def fit_topic(
    features: Any,
    dense: Any,
    topics: Sequence[str],
    groups: Sequence[str],
    options: ModelOptions,
    lexicon_columns: int = 0,
    calibrate: bool = True,
) -> TopicEnsemble:
    """The topic ensemble; with ``calibrate``, its temperature from template-grouped
    out-of-fold predictions (each fold's ensemble fitted without it).

    The SVM does not see the trailing ``lexicon_columns`` (zero coefficients there): on
    template-grouped CV an SVM that also used the lexicon agreed more with the dense model
    and the pair scored lower (0.840) than an SVM without it (0.861, see docs/classify.md).
    """
    labels = np.asarray(topics)
    folds = grouped_folds(list(labels), groups)
    svm_width = features.shape[1] - lexicon_columns
    calibrated = build_topic_classifier(options.topic_c, folds).fit(features[:, :svm_width], labels)
    svm = SigmoidLinear.from_calibrated(calibrated).padded(features.shape[1])
    if not options.dense_share:
        return TopicEnsemble(svm, None, 0.0)
    dense_model = build_classifier(options.dense_c).fit(dense, labels)
    ensemble = TopicEnsemble(svm, dense_model, options.dense_share)
    if calibrate:
        out_of_fold = out_of_fold_proba(
            features, dense, labels, groups, folds, options, lexicon_columns
        )
        ensemble.temperature = fit_temperature(out_of_fold, list(labels), svm.classes_)
    return ensemble


def out_of_fold_proba(
    features: Any,
    dense: Any,
    labels: Any,
    groups: Sequence[str],
    folds: Sequence[Any],
    options: ModelOptions,
    lexicon_columns: int = 0,
    on_fold: Callable[[], None] | None = None,
) -> Any:
    """Each text's topic probabilities (columns: the sorted topics) from an uncalibrated
    ensemble fitted without its fold — for the temperature, and for cross-validation."""
    labels = np.asarray(labels)
    proba = np.zeros((len(labels), len(np.unique(labels))))
    for train_idx, test_idx in folds:
        part = fit_topic(
            features[train_idx],
            dense[train_idx],
            list(labels[train_idx]),
            [groups[i] for i in train_idx],
            options,
            lexicon_columns,
            calibrate=False,  # the temperature does not change the argmax
        )
        proba[test_idx] = part.predict_proba(features[test_idx], dense[test_idx])
        if on_fold is not None:
            on_fold()
    return proba
