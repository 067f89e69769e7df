"""Fixtures of the offline deploy tests: kustomize (installed on first use) and the rendered
overlays. Nothing here needs a container engine or a cluster."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
OVERLAYS = ("dev", "prod")
INSTALL_TOOLS = K8S / "install-tools.sh"


@pytest.fixture(scope="session")
def kustomize() -> Path:
    """kustomize v5.7.1 in .local/bin, installed with `go install` the first time (a minute or
    two). No Go means a failure that says so, never a skip."""
    result = subprocess.run(
        [str(INSTALL_TOOLS)], capture_output=True, text=True, timeout=900, check=False
    )
    if result.returncode != 0:
        pytest.fail(
            f"deploy/k8s/install-tools.sh failed (exit {result.returncode}); kustomize is "
            f"installed with Go (`go install`), so Go must be on PATH.\n{result.stderr}",
            pytrace=False,
        )
    return Path(result.stdout.strip().splitlines()[-1])


def kustomize_build(kustomize: Path, directory: Path) -> list[dict[str, Any]]:
    result = subprocess.run(
        [str(kustomize), "build", str(directory)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, f"kustomize build {directory} failed:\n{result.stderr}"
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


@pytest.fixture(scope="session")
def build(kustomize: Path) -> Callable[[Path], list[dict[str, Any]]]:
    return lambda directory: kustomize_build(kustomize, directory)


@pytest.fixture(scope="session")
def rendered(kustomize: Path) -> dict[str, list[dict[str, Any]]]:
    """Every overlay, built once per session: {"dev": [objects], "prod": [objects]}."""
    return {name: kustomize_build(kustomize, K8S / "overlays" / name) for name in OVERLAYS}


# Asks the consumers themselves what they subscribe to and how long their broker drains: the
# app each process serves is built (no connection is made) in a child process, so its global
# logging/tracing set-up stays out of this test session.
_INTROSPECT = """
import importlib, json, sys
from veche_shared.settings import ServiceSettings
report = {}
for name in sys.argv[1:]:
    settings_module = importlib.import_module(f"veche_{name}.settings")
    settings_class = next(
        value for value in vars(settings_module).values()
        if isinstance(value, type) and issubclass(value, ServiceSettings)
        and value is not ServiceSettings
    )
    app = importlib.import_module(f"veche_{name}.app").create_app(settings_class())
    broker = app.broker
    report[name] = {
        "subscriptions": sorted(
            [subscriber.group_id, str(getattr(topic, "name", topic))]
            for subscriber in broker.subscribers for topic in subscriber.topics
        ),
        "graceful_timeout": broker.config.graceful_timeout,
    }
print(json.dumps(report))
"""


@pytest.fixture(scope="session")
def subscriptions() -> dict[str, dict[str, Any]]:
    """{service: {"subscriptions": {(group, topic)}, "graceful_timeout": seconds}} for the
    consumers that scale on lag."""
    result = subprocess.run(
        [sys.executable, "-c", _INTROSPECT, "classify", "route", "notify"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report: dict[str, dict[str, Any]] = json.loads(result.stdout.strip().splitlines()[-1])
    for entry in report.values():
        entry["subscriptions"] = {tuple(pair) for pair in entry["subscriptions"]}
    return report
