"""Where the tests find Kafka and the document store.

Order: ``VECHE_KAFKA_BOOTSTRAP`` / ``VECHE_MONGO_URL`` from the environment (CI, a developer's own
servers, testcontainers elsewhere); otherwise the project's local infrastructure, started on demand
by ``deploy/local/infra.sh`` (real Kafka and FerretDB, never a mock).
"""

from __future__ import annotations

import os
import subprocess
import uuid
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[4]
INFRA_SCRIPT = REPO_ROOT / "deploy" / "local" / "infra.sh"


@dataclass(frozen=True, slots=True)
class Infra:
    kafka_bootstrap: str
    mongo_url: str


def local_infra() -> Infra:
    bootstrap = os.environ.get("VECHE_KAFKA_BOOTSTRAP")
    mongo_url = os.environ.get("VECHE_MONGO_URL")
    if bootstrap and mongo_url:
        return Infra(bootstrap, mongo_url)
    subprocess.run([str(INFRA_SCRIPT), "up"], check=True)
    output = subprocess.run(
        [str(INFRA_SCRIPT), "env"], check=True, capture_output=True, text=True
    ).stdout
    values = dict(
        line.split("=", 1)
        for line in output.splitlines()
        if "=" in line and not line.startswith("#")
    )
    return Infra(
        bootstrap or values["VECHE_KAFKA_BOOTSTRAP"], mongo_url or values["VECHE_MONGO_URL"]
    )


def unique_namespace(prefix: str = "t") -> str:
    """Topic and database prefix that isolates one test run from every other."""
    return f"{prefix}{uuid.uuid4().hex[:10]}"
