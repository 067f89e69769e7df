"""The Kubernetes manifests, proven offline: every overlay builds, every object validates
against its schema, and the platform rules hold for every workload."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
from veche_shared.devtools.stack import SERVICES
from veche_shared.topics import PIPELINE, all_topics

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
OVERLAYS = ("dev", "prod")
SCHEMAS = Path(__file__).parent / "schemas"
# the oldest Kubernetes the manifests promise to work on, and the newest the package knows
KUBERNETES_VERSIONS = ("1.31.0", kubernetes_validate.latest_version())
CUSTOM_GROUPS = ("kafka.strimzi.io/", "keda.sh/")
CONSUMERS = {"classify", "route", "notify"}  # scale on lag (KEDA); ingest scales on CPU


def objects(rendered: dict[str, list[dict[str, Any]]]) -> Iterator[tuple[str, dict[str, Any]]]:
    for overlay, docs in rendered.items():
        for doc in docs:
            yield overlay, doc


def of_kind(docs: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [doc for doc in docs if doc["kind"] == kind]


def by_name(docs: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {doc["metadata"]["name"]: doc for doc in of_kind(docs, kind)}


def ident(doc: dict[str, Any]) -> str:
    return f"{doc['kind']}/{doc['metadata']['name']}"


# --- builds ----------------------------------------------------------------------------------


@pytest.mark.parametrize("directory", ["base", *(f"overlays/{name}" for name in OVERLAYS)])
def test_kustomize_build_succeeds(build: Any, directory: str) -> None:
    docs = build(K8S / directory)
    assert {doc["kind"] for doc in docs} >= {"Deployment", "Service", "ConfigMap"}


def test_every_overlay_has_all_parts(rendered: dict[str, list[dict[str, Any]]]) -> None:
    for overlay, docs in rendered.items():
        kinds = {doc["kind"] for doc in docs}
        expected = {
            "Namespace", "Deployment", "Service", "ServiceAccount", "PodDisruptionBudget",
            "ConfigMap", "NetworkPolicy", "HorizontalPodAutoscaler", "ScaledObject",
            "Kafka", "KafkaNodePool", "KafkaTopic",
        }  # fmt: skip
        assert kinds >= expected, f"{overlay} lacks {expected - kinds}"
        deployments = set(by_name(docs, "Deployment"))
        assert deployments >= {f"veche-{name}" for name in SERVICES} | {"otel-collector"}


# --- schemas ---------------------------------------------------------------------------------


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_core_objects_validate_against_kubernetes_openapi(
    rendered: dict[str, list[dict[str, Any]]], version: str
) -> None:
    checked = 0
    for overlay, doc in objects(rendered):
        if doc["apiVersion"].startswith(CUSTOM_GROUPS):
            continue
        try:
            kubernetes_validate.validate(doc, version, strict=True)
        except kubernetes_validate.ValidationError as error:
            pytest.fail(f"{overlay} {ident(doc)} (Kubernetes {version}): {error.message}")
        checked += 1
    assert checked >= 2 * 35


def crd_schema(doc: dict[str, Any]) -> dict[str, Any]:
    group, version = doc["apiVersion"].split("/")
    path = SCHEMAS / f"{group}_{version}_{doc['kind']}.json"
    assert path.exists(), f"no vendored schema for {doc['apiVersion']} {doc['kind']}"
    schema: dict[str, Any] = json.loads(path.read_text())
    return schema


def unknown_fields(value: Any, schema: dict[str, Any], where: str = "") -> Iterator[str]:
    """Fields the CRD does not define. The API server would prune them silently, so a typo
    (`maxReplicas` for `maxReplicaCount`) would deploy and do nothing."""
    if schema.get("x-kubernetes-preserve-unknown-fields"):
        return
    if isinstance(value, dict):
        properties = schema.get("properties")
        extra = schema.get("additionalProperties")
        for key, item in value.items():
            if properties is not None and key in properties:
                yield from unknown_fields(item, properties[key], f"{where}.{key}")
            elif isinstance(extra, dict):
                yield from unknown_fields(item, extra, f"{where}.{key}")
            elif properties is not None and where != "" and key not in properties:
                yield f"{where}.{key}"
            elif where == "" and key not in {"apiVersion", "kind", "metadata", "spec"}:
                yield key
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        for index, item in enumerate(value):
            yield from unknown_fields(item, schema["items"], f"{where}[{index}]")


def test_custom_resources_validate_against_their_crds(
    rendered: dict[str, list[dict[str, Any]]],
) -> None:
    checked = 0
    for overlay, doc in objects(rendered):
        if not doc["apiVersion"].startswith(CUSTOM_GROUPS):
            continue
        schema = crd_schema(doc)
        errors = sorted(jsonschema.Draft7Validator(schema).iter_errors(doc), key=str)
        assert not errors, f"{overlay} {ident(doc)}: {[e.message for e in errors]}"
        spec_schema = schema["properties"]["spec"]
        extra = list(unknown_fields(doc["spec"], spec_schema, "spec"))
        assert not extra, f"{overlay} {ident(doc)} has fields its CRD does not know: {extra}"
        checked += 1
    assert checked == 2 * (1 + 1 + len(all_topics()) + len(CONSUMERS))


def test_strimzi_uses_v1_kraft_and_node_pools(rendered: dict[str, list[dict[str, Any]]]) -> None:
    for overlay, docs in rendered.items():
        (kafka,) = of_kind(docs, "Kafka")
        pools = of_kind(docs, "KafkaNodePool")
        assert kafka["apiVersion"] == "kafka.strimzi.io/v1"
        assert "zookeeper" not in kafka["spec"], overlay
        roles = {role for pool in pools for role in pool["spec"]["roles"]}
        assert roles == {"controller", "broker"}, overlay
        for pool in pools:
            assert pool["metadata"]["labels"]["strimzi.io/cluster"] == kafka["metadata"]["name"]
        assert kafka["spec"]["entityOperator"]["topicOperator"] is not None


# --- topics: never drift from shared/ --------------------------------------------------------


def load_generator() -> Any:
    import importlib.util

    spec = importlib.util.spec_from_file_location("generate_topics", K8S / "generate_topics.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_generated_kafka_topics_are_up_to_date() -> None:
    generator = load_generator()
    committed = (K8S / "components" / "strimzi" / "topics.yaml").read_text(encoding="utf-8")
    assert committed == generator.render(), (
        "components/strimzi/topics.yaml differs from shared/src/veche_shared/topics.py: run "
        "`uv run --frozen python deploy/k8s/generate_topics.py`"
    )


def test_every_topic_has_a_kafka_topic_in_every_overlay(
    rendered: dict[str, list[dict[str, Any]]],
) -> None:
    for overlay, docs in rendered.items():
        topics = {doc["spec"]["topicName"]: doc for doc in of_kind(docs, "KafkaTopic")}
        assert set(topics) == {topic.name for topic in all_topics()}, overlay
        kafka = of_kind(docs, "Kafka")[0]
        for topic in all_topics():
            spec = topics[topic.name]["spec"]
            config = spec["config"]
            assert config["retention.ms"] == topic.retention_ms, (overlay, topic.name)
            assert config["cleanup.policy"] == topic.cleanup_policy, (overlay, topic.name)
            assert (
                topics[topic.name]["metadata"]["labels"]["strimzi.io/cluster"]
                == (kafka["metadata"]["name"])
            )
            # durable where the cluster can be: with acks=all one broker may fail
            brokers = sum(
                pool["spec"]["replicas"]
                for pool in of_kind(docs, "KafkaNodePool")
                if "broker" in pool["spec"]["roles"]
            )
            assert spec["replicas"] == min(3, brokers), (overlay, topic.name)
            assert config["min.insync.replicas"] == min(2, brokers), (overlay, topic.name)
            if topic in PIPELINE:
                assert spec["partitions"] >= 1


def test_prod_topics_replicate_three_times_with_two_in_sync(
    rendered: dict[str, list[dict[str, Any]]],
) -> None:
    for doc in of_kind(rendered["prod"], "KafkaTopic"):
        assert doc["spec"]["replicas"] == 3
        assert doc["spec"]["config"]["min.insync.replicas"] == 2
    (kafka,) = of_kind(rendered["prod"], "Kafka")
    assert kafka["spec"]["kafka"]["config"]["min.insync.replicas"] == 2


# --- autoscaling -----------------------------------------------------------------------------


def test_every_consumer_scales_on_its_lag_and_never_past_its_partitions(
    rendered: dict[str, list[dict[str, Any]]], subscriptions: dict[str, dict[str, Any]]
) -> None:
    for overlay, docs in rendered.items():
        scaled = by_name(docs, "ScaledObject")
        assert set(scaled) == {f"veche-{name}" for name in CONSUMERS}, overlay
        partitions = {
            t["spec"]["topicName"]: t["spec"]["partitions"] for t in of_kind(docs, "KafkaTopic")
        }
        deployments = by_name(docs, "Deployment")
        for name in CONSUMERS:
            scaled_object = scaled[f"veche-{name}"]["spec"]
            assert scaled_object["scaleTargetRef"]["name"] in deployments
            triggers = scaled_object["triggers"]
            assert all(trigger["type"] == "kafka" for trigger in triggers)
            # the triggers watch exactly the group and topics the service subscribes to
            watched = {(t["metadata"]["consumerGroup"], t["metadata"]["topic"]) for t in triggers}
            assert watched == subscriptions[name]["subscriptions"], (overlay, name)
            for trigger in triggers:
                bootstrap = trigger["metadata"]["bootstrapServers"]
                assert bootstrap.startswith(f"{of_kind(docs, 'Kafka')[0]['metadata']['name']}-")
                topic = trigger["metadata"]["topic"]
                assert scaled_object["maxReplicaCount"] <= partitions[topic], (overlay, name)
            assert 1 <= scaled_object["minReplicaCount"] <= scaled_object["maxReplicaCount"]


def test_ingest_scales_on_cpu(rendered: dict[str, list[dict[str, Any]]]) -> None:
    for overlay, docs in rendered.items():
        hpa = by_name(docs, "HorizontalPodAutoscaler")["veche-ingest"]["spec"]
        assert hpa["scaleTargetRef"] == {
            "apiVersion": "apps/v1", "kind": "Deployment", "name": "veche-ingest"
        }  # fmt: skip
        (metric,) = hpa["metrics"]
        assert metric["resource"]["name"] == "cpu", overlay
        assert 1 <= hpa["minReplicas"] <= hpa["maxReplicas"]


# --- workload policy -------------------------------------------------------------------------


def pod_specs(docs: list[dict[str, Any]]) -> Iterator[tuple[str, dict[str, Any]]]:
    for doc in of_kind(docs, "Deployment"):
        yield doc["metadata"]["name"], doc["spec"]["template"]["spec"]


def test_every_container_is_hardened_probed_and_limited(
    rendered: dict[str, list[dict[str, Any]]],
) -> None:
    for overlay, docs in rendered.items():
        for name, pod in pod_specs(docs):
            where = f"{overlay} {name}"
            assert pod["automountServiceAccountToken"] is False, where
            assert pod["securityContext"]["runAsNonRoot"] is True, where
            assert pod["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault", where
            assert pod.get("topologySpreadConstraints"), where
            for container in pod["containers"]:
                security = container["securityContext"]
                assert security["readOnlyRootFilesystem"] is True, where
                assert security["allowPrivilegeEscalation"] is False, where
                assert security["capabilities"]["drop"] == ["ALL"], where
                assert container["livenessProbe"], where
                assert container["readinessProbe"], where
                resources = container["resources"]
                assert {"cpu", "memory"} <= set(resources["requests"]), where
                assert {"cpu", "memory"} <= set(resources["limits"]), where
                image = container["image"]
                assert ":" in image.rsplit("/", 1)[-1], f"{where}: untagged image {image}"
                assert not image.endswith(":latest"), f"{where}: {image}"


def test_services_probe_healthz_and_readyz_and_outlast_the_drain(
    rendered: dict[str, list[dict[str, Any]]], subscriptions: dict[str, dict[str, Any]]
) -> None:
    drain = max(entry["graceful_timeout"] for entry in subscriptions.values())
    for overlay, docs in rendered.items():
        pods = dict(pod_specs(docs))
        for name, port in SERVICES.items():
            pod = pods[f"veche-{name}"]
            (container,) = pod["containers"]
            assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
            assert container["startupProbe"]["httpGet"]["path"] == "/healthz"
            assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
            assert container["ports"][0]["containerPort"] == port
            pre_stop = container.get("lifecycle", {}).get("preStop", {}).get("sleep", {})
            budget = pod["terminationGracePeriodSeconds"] - pre_stop.get("seconds", 0)
            assert budget > drain, f"{overlay} {name}: {budget} s left for a {drain} s drain"
            # the command is the local runner's (veche-stack), so tests prove what ships
            assert container["command"] == ["python", "-m", f"veche_{name}"]


def test_no_secret_is_inlined(rendered: dict[str, list[dict[str, Any]]]) -> None:
    for overlay, docs in rendered.items():
        assert not of_kind(docs, "Secret"), f"{overlay} renders a Secret: create it out of band"
        for name, pod in pod_specs(docs):
            for container in pod["containers"]:
                env = {item["name"]: item for item in container.get("env", [])}
                if name.startswith("veche-"):
                    assert "secretKeyRef" in env["VECHE_MONGO_URL"]["valueFrom"], name
                for item in env.values():
                    value = str(item.get("value", ""))
                    assert "password" not in value.lower(), (name, item)
                    assert "://" not in value or "@" not in value, (name, item)
        for config_map in of_kind(docs, "ConfigMap"):
            for key, value in config_map.get("data", {}).items():
                assert "MONGO_URL" not in key, (overlay, key)
                assert "SECRET" not in key, (overlay, key)
                assert "://" not in value or "@" not in value.split("://", 1)[1], (overlay, key)


def test_every_workload_has_a_disruption_budget_and_its_own_account(
    rendered: dict[str, list[dict[str, Any]]],
) -> None:
    for overlay, docs in rendered.items():
        budgets = of_kind(docs, "PodDisruptionBudget")
        accounts = by_name(docs, "ServiceAccount")
        for name, pod in pod_specs(docs):
            assert pod["serviceAccountName"] == name, (overlay, name)
            assert name in accounts, (overlay, name)
            assert accounts[name]["automountServiceAccountToken"] is False
            labels = by_name(docs, "Deployment")[name]["spec"]["template"]["metadata"]["labels"]
            assert any(
                all(labels.get(k) == v for k, v in b["spec"]["selector"]["matchLabels"].items())
                for b in budgets
            ), f"{overlay}: no PodDisruptionBudget selects {name}"


# --- network policies ------------------------------------------------------------------------


def test_network_policies_deny_by_default_and_allow_the_pipeline(
    rendered: dict[str, list[dict[str, Any]]],
) -> None:
    for overlay, docs in rendered.items():
        policies = by_name(docs, "NetworkPolicy")
        deny = policies["default-deny"]["spec"]
        assert deny["podSelector"] == {}
        assert set(deny["policyTypes"]) == {"Ingress", "Egress"}
        assert "ingress" not in deny
        assert "egress" not in deny
        egress = policies["veche-services-egress"]["spec"]["egress"]
        ports = {port["port"] for rule in egress for port in rule["ports"]}
        assert ports == {9092, 4318, 27017}, overlay
        ingest = policies["veche-ingest-http"]["spec"]
        assert ingest["podSelector"]["matchLabels"] == {"app.kubernetes.io/name": "veche-ingest"}
        scrape_ports = {
            port["port"]
            for rule in policies["veche-prometheus-scrape"]["spec"]["ingress"]
            for port in rule["ports"]
        }
        assert scrape_ports == set(SERVICES.values())
        # no policy opens everything
        for name, policy in policies.items():
            for rule in policy["spec"].get("ingress", []):
                assert rule.get("from"), f"{overlay} {name}: ingress from anywhere"


# --- telemetry -------------------------------------------------------------------------------


def test_otel_collector_pipeline_redacts_before_export(
    rendered: dict[str, list[dict[str, Any]]],
) -> None:
    import yaml

    for overlay, docs in rendered.items():
        (config_map,) = [
            doc for doc in of_kind(docs, "ConfigMap")
            if doc["metadata"]["name"].startswith("otel-collector")
        ]  # fmt: skip
        config = yaml.safe_load(config_map["data"]["config.yaml"])
        traces = config["service"]["pipelines"]["traces"]
        assert traces["receivers"] == ["otlp"]
        processors = traces["processors"]
        for section in ("receivers", "processors", "exporters"):
            assert set(traces[section]) <= set(config[section]), (overlay, section)
        assert "redaction" in processors
        assert any(p.startswith("attributes/") for p in processors)
        # personal data is removed before anything is batched for export
        assert processors.index("redaction") < processors.index("batch")
        deletes = config["processors"]["attributes/drop-pii"]["actions"]
        assert all(action["action"] == "delete" for action in deletes)
        common = by_name(docs, "ConfigMap")
        endpoint = next(
            cm["data"]["VECHE_OTLP_ENDPOINT"]
            for name, cm in common.items()
            if name.startswith("veche-common")
        )
        assert endpoint == "http://otel-collector:4318"


def test_readme_points_at_the_deploy_guide() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "docs/deploy.md" in readme
    assert "kubectl apply -k deploy/k8s/overlays/prod" in (ROOT / "docs" / "deploy.md").read_text()
