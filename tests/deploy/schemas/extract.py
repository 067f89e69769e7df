"""Refresh the vendored CRD schemas the deploy tests validate custom resources against.

The operators publish their CRDs as YAML; the tests need only the served version's
``openAPIV3Schema``. Descriptions are dropped (they are most of the bytes and validate nothing).

    git clone --depth 1 --branch 1.2.0 https://github.com/strimzi/strimzi-kafka-operator
    git clone --depth 1 --branch v2.20.2 https://github.com/kedacore/keda
    uv run --frozen python tests/deploy/schemas/extract.py \
        strimzi-kafka-operator/packaging/install/cluster-operator/040-Crd-kafka.yaml \
        strimzi-kafka-operator/packaging/install/cluster-operator/043-Crd-kafkatopic.yaml \
        strimzi-kafka-operator/packaging/install/cluster-operator/045-Crd-kafkanodepool.yaml \
        keda/config/crd/bases/keda.sh_scaledobjects.yaml
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).parent


def without_descriptions(node: Any) -> Any:
    if isinstance(node, dict):
        return {
            key: without_descriptions(value)
            for key, value in node.items()
            # a property *named* "description" stays; only the annotation key is dropped
            if not (key == "description" and isinstance(value, str))
        }
    if isinstance(node, list):
        return [without_descriptions(item) for item in node]
    return node


def extract(crd_file: Path) -> list[Path]:
    written = []
    for crd in yaml.safe_load_all(crd_file.read_text()):
        if not crd or crd.get("kind") != "CustomResourceDefinition":
            continue
        group, kind = crd["spec"]["group"], crd["spec"]["names"]["kind"]
        for version in crd["spec"]["versions"]:
            if not version.get("served"):
                continue
            schema = without_descriptions(version["schema"]["openAPIV3Schema"])
            out = HERE / f"{group}_{version['name']}_{kind}.json"
            out.write_text(json.dumps(schema, sort_keys=True, separators=(",", ":")) + "\n")
            written.append(out)
    return written


if __name__ == "__main__":
    for argument in sys.argv[1:]:
        for path in extract(Path(argument)):
            print(f"{path.name}: {path.stat().st_size} bytes")
