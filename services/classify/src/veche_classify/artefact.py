"""The model artefact on disk: ``<name>.joblib`` (estimators) + ``<name>.json`` (metadata).

The artefact lives in the repository (services/classify/data/model/) and travels in the image:
nothing is downloaded at start-up. joblib files are pickles: load only artefacts this project
built (the path is configuration, not user input).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import joblib
import numpy as np

from .domain.model import SigmoidLinear, TopicEnsemble, TriageModel

DEFAULT_MODEL = Path(__file__).resolve().parents[2] / "data" / "model" / "triage.joblib"


def save(model: TriageModel, path: Path, metadata: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    parts = {"featuriser": model.featuriser, "topic": model.topic, "urgency": model.urgency}
    joblib.dump(parts, path, compress=("xz", 6))
    meta = {**metadata, "version": model.version}
    path.with_suffix(".json").write_text(
        json.dumps(meta, ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
    )


def load(path: Path) -> TriageModel:
    parts = joblib.load(path)
    topic = parts["topic"]
    if isinstance(topic, SigmoidLinear):  # artefacts before the ensemble: the SVM alone
        topic = TopicEnsemble(topic, None, 0.0)
    # Pickles keep C order, in which scipy copies the transposed coefficients on every product
    # (1 of a one-appeal score's 2.5 ms); in Fortran order ``coef.T`` is contiguous as it is.
    topic.svm.coef = np.asfortranarray(topic.svm.coef)
    return TriageModel(
        featuriser=parts["featuriser"],
        topic=topic,
        urgency=parts["urgency"],
        version=metadata(path)["version"],
    )


def metadata(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.with_suffix(".json").read_text(encoding="utf-8"))
    return data
