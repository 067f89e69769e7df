"""Training and evaluation of the triage model (``veche-classify train`` / ``evaluate``)."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import sklearn
from rich.progress import Progress
from sklearn.metrics import accuracy_score, f1_score, precision_recall_fscore_support
from veche_shared.events import Urgency

from .domain.model import (
    FAMILY,
    ModelOptions,
    TriageModel,
    build_classifier,
    build_featuriser,
    fit,
    grouped_folds,
    lexicon_width,
    out_of_fold_proba,
    sparse_width,
)
from .domain.text import normalise
from .domain.urgency import apply_rules

CORPUS = Path(__file__).resolve().parents[2] / "data" / "corpus"
TRAIN_FILE = CORPUS / "train.jsonl"
# appeals written by hand for training, one author per file (PROVENANCE.md)
HANDWRITTEN_TRAIN_FILES = tuple(sorted(CORPUS.glob("train_handwritten_*.jsonl")))
TRAIN_FILES = (TRAIN_FILE, *HANDWRITTEN_TRAIN_FILES)
# each hand-written training text counts this many times next to the generated ones (chosen by
# grouped CV on the hand-written training rows: ``veche-classify train --cv``)
HANDWRITTEN_WEIGHT = 3
HOLDOUT_FILES = (
    CORPUS / "holdout.jsonl",
    CORPUS / "novel.jsonl",
    CORPUS / "realistic.jsonl",
    CORPUS / "handwritten.jsonl",
)
SCHEMA_VERSION = 2
URGENCY_C = 4.0  # the urgency model's C (as in ``fit``)


@dataclass(frozen=True, slots=True)
class Example:
    text: str
    topic: str
    urgency: str
    group: str = ""  # the fact template it was generated from, or the row id ("": its own)
    handwritten: bool = False  # from a hand-written training file


def read_jsonl(path: Path) -> list[Example]:
    handwritten = path.name.startswith("train_handwritten_")
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            row = json.loads(line)
            group = row.get("template") or (f"row:{row['id']}" if handwritten else "")
            rows.append(Example(row["text"], row["topic"], row["urgency"], group, handwritten))
    return rows


def read_training(
    paths: Sequence[Path], handwritten_weight: int = HANDWRITTEN_WEIGHT
) -> list[Example]:
    """The training rows; each hand-written one repeated ``handwritten_weight`` times (the
    copies share its group, so no fold ever splits them)."""
    examples: list[Example] = []
    for path in paths:
        rows = read_jsonl(path)
        examples += [r for r in rows for _ in range(handwritten_weight if r.handwritten else 1)]
    return examples


def data_hash(examples: Iterable[Example]) -> str:
    digest = hashlib.sha256()
    for ex in examples:
        digest.update(f"{ex.topic}\t{ex.urgency}\t{ex.text}\n".encode())
    return digest.hexdigest()


def train(
    examples: Sequence[Example],
    progress: Progress | None = None,
    options: ModelOptions | None = None,
) -> TriageModel:
    digest = data_hash(examples)
    version = f"{FAMILY}-{SCHEMA_VERSION}+{digest[:8]}"
    task = progress.add_task("training", total=1) if progress else None
    model = fit(
        [e.text for e in examples],
        [e.topic for e in examples],
        [e.urgency for e in examples],
        version=version,
        groups=groups_of(examples),
        options=options,
    )
    if progress and task is not None:
        progress.update(task, advance=1)
    return model


def groups_of(examples: Sequence[Example]) -> list[str]:
    return [e.group or f"text:{i}" for i, e in enumerate(examples)]


def grouped_cv(
    examples: Sequence[Example],
    c_values: Sequence[float],
    progress: Progress | None = None,
    options: ModelOptions | None = None,
    urgency: bool = False,
) -> dict[str, float]:
    """Macro-F1 of the topic model (``options`` with the SVM's C from ``c_values``) on
    template-grouped folds of the TRAINING data (key ``C=<c>``), and with ``urgency`` the
    urgency model's accuracy (key ``urgency``).

    Texts generated from one fact template never sit on both sides of a fold, so the score is
    about unseen wordings, like the held-out set, without ever looking at the held-out set.
    """
    options = options or ModelOptions()
    featuriser = build_featuriser(options)
    features = featuriser.fit_transform([e.text for e in examples])
    dense = features[:, sparse_width(featuriser) :].toarray()
    topics = np.array([e.topic for e in examples])
    groups = groups_of(examples)
    outer = grouped_folds([e.topic for e in examples], groups)
    steps = (len(c_values) + urgency) * len(outer)
    task = progress.add_task("grouped CV", total=steps) if progress else None
    scores = {}

    def advance() -> None:
        if progress and task is not None:
            progress.update(task, advance=1)

    for c in c_values:
        proba = out_of_fold_proba(
            features,
            dense,
            topics,
            groups,
            outer,
            dataclasses.replace(options, topic_c=c),
            lexicon_width(featuriser),
            on_fold=advance,
        )
        predicted = np.unique(topics)[np.argmax(proba, axis=1)]
        scores[f"C={c}"] = round(float(f1_score(topics, predicted.astype(str), average="macro")), 4)
        handwritten = _first_copies(examples)
        if handwritten:
            truth, guess = topics[handwritten], predicted[handwritten].astype(str)
            scores[f"C={c} hand-written accuracy"] = round(float(accuracy_score(truth, guess)), 4)
            scores[f"C={c} hand-written"] = round(float(f1_score(truth, guess, average="macro")), 4)
    if urgency:
        levels = np.array([e.urgency for e in examples])
        predicted = np.empty(len(examples), dtype=object)
        for train_idx, test_idx in outer:
            clf = build_classifier(URGENCY_C).fit(features[train_idx], levels[train_idx])
            predicted[test_idx] = clf.predict(features[test_idx])
            advance()
        scores["urgency"] = round(float(accuracy_score(levels, predicted.astype(str))), 4)
    return scores


def _first_copies(examples: Sequence[Example]) -> list[int]:
    """Indexes of the hand-written rows, each counted once however often it is repeated."""
    seen: set[str] = set()
    first = []
    for index, example in enumerate(examples):
        if example.handwritten and example.group not in seen:
            seen.add(example.group)
            first.append(index)
    return first


def evaluate(model: TriageModel, examples: Sequence[Example]) -> dict[str, Any]:
    scored = model.score([e.text for e in examples])
    truth = [e.topic for e in examples]
    predicted = [s.topics[0][0] for s in scored]
    confidence = np.array([s.topics[0][1] for s in scored])
    correct = np.array([p == t for p, t in zip(predicted, truth, strict=True)])
    urgency_model = [s.urgency[0][0] for s in scored]
    urgency_final = [
        apply_rules(Urgency(u), normalise(e.text))[0].value
        for u, e in zip(urgency_model, examples, strict=True)
    ]
    urgency_truth = [e.urgency for e in examples]
    labels = sorted(set(truth) | set(predicted))
    precision, recall, f1, support = precision_recall_fscore_support(
        truth, predicted, labels=labels, zero_division=0
    )
    confusions = Counter((t, p) for t, p in zip(truth, predicted, strict=True) if t != p)
    return {
        "n": len(examples),
        "accuracy": round(float(accuracy_score(truth, predicted)), 4),
        "macro_f1": round(float(f1_score(truth, predicted, average="macro")), 4),
        "ece": round(expected_calibration_error(confidence, correct), 4),
        "urgency_accuracy_model": round(float(accuracy_score(urgency_truth, urgency_model)), 4),
        "urgency_accuracy": round(float(accuracy_score(urgency_truth, urgency_final)), 4),
        "per_topic": {
            label: {
                "precision": round(float(p), 3),
                "recall": round(float(r), 3),
                "f1": round(float(f), 3),
                "support": int(s),
            }
            for label, p, r, f, s in zip(labels, precision, recall, f1, support, strict=True)
        },
        "top_confusions": [
            {"truth": t, "predicted": p, "count": c} for (t, p), c in confusions.most_common(10)
        ],
    }


def expected_calibration_error(confidence: Any, correct: Any, bins: int = 10) -> float:
    """Mean |confidence − accuracy| over equal-width confidence bins, weighted by bin size."""
    if len(confidence) == 0:
        return 0.0
    index = np.minimum((confidence * bins).astype(int), bins - 1)
    total = 0.0
    for b in range(bins):
        in_bin = index == b
        if in_bin.any():
            total += abs(confidence[in_bin].mean() - correct[in_bin].mean()) * in_bin.sum()
    return float(total / len(confidence))


def metadata(
    model: TriageModel, examples: Sequence[Example], feedback: int, metrics: dict[str, Any]
) -> dict[str, Any]:
    return {
        "family": FAMILY,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "training_examples": len(examples),
        "feedback_examples": feedback,
        "training_data_sha256": data_hash(examples),
        "sklearn": sklearn.__version__,
        "metrics": metrics,
    }
