"""Training and evaluation of the triage model (``veche-classify train`` / ``evaluate``)."""

from __future__ import annotations

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

from .domain.model import FAMILY, TriageModel, fit
from .domain.text import normalise
from .domain.urgency import apply_rules

CORPUS = Path(__file__).resolve().parents[2] / "data" / "corpus"
TRAIN_FILE = CORPUS / "train.jsonl"
HOLDOUT_FILES = (CORPUS / "holdout.jsonl", CORPUS / "novel.jsonl")
SCHEMA_VERSION = 1


@dataclass(frozen=True, slots=True)
class Example:
    text: str
    topic: str
    urgency: str


def read_jsonl(path: Path) -> list[Example]:
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            row = json.loads(line)
            rows.append(Example(row["text"], row["topic"], row["urgency"]))
    return rows


def data_hash(examples: Iterable[Example]) -> str:
    digest = hashlib.sha256()
    for ex in examples:
        digest.update(f"{ex.topic}\t{ex.urgency}\t{ex.text}\n".encode())
    return digest.hexdigest()


def train(examples: Sequence[Example], progress: Progress | None = None) -> TriageModel:
    digest = data_hash(examples)
    version = f"{FAMILY}-{SCHEMA_VERSION}+{digest[:8]}"
    task = progress.add_task("training", total=1) if progress else None
    model = fit(
        [e.text for e in examples],
        [e.topic for e in examples],
        [e.urgency for e in examples],
        version=version,
    )
    if progress and task is not None:
        progress.update(task, advance=1)
    return model


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
