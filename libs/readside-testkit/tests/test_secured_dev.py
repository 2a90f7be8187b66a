"""The secured dev dependencies of the kind suite: broker properties read as the Kafka image
reads its variables, and manifests that keep every credential in a Secret."""

from __future__ import annotations

import json
import re
import subprocess
from typing import Any

import pytest
import yaml

from readside_testkit.kind.secured_dev import (
    Credentials,
    secret_manifests,
    secure_manifests,
    subject_alt_names,
)
from readside_testkit.kind.secured_kafka import KAFKA_ENV, broker_properties, property_name
from readside_testkit.kind.tools import REPO

pytestmark = pytest.mark.unit

DOCKER_RUN = REPO / "hack" / "images" / "kafka" / "bin" / "docker-run.sh"
CERTIFICATES = {"ca.crt": "CA", "tls.crt": "CRT", "tls.key": "KEY", "keystore.pem": "KEYCRT"}


def image_property_name(variable: str) -> str:
    """What the image's entry point makes of a variable: its own pipeline, run by bash."""
    pipeline = re.search(r'name="\$\(printf .*\)"', DOCKER_RUN.read_text())
    assert pipeline, "the variable-to-property rule of docker-run.sh moved"
    script = f'var={variable}; name="${{var#KAFKA_}}"; {pipeline.group(0)}; printf %s "$name"'
    return subprocess.run(["bash", "-c", script], capture_output=True, text=True, check=True).stdout


@pytest.mark.parametrize("variable", [*KAFKA_ENV, "KAFKA_LOG_DIRS", "KAFKA_NODE_ID"])
def test_property_names_follow_the_kafka_image(variable: str) -> None:
    assert property_name(variable) == image_property_name(variable)


def test_the_jaas_variable_configures_the_sasl_ssl_listener() -> None:
    name = "KAFKA_LISTENER_NAME_SASL__SSL_SCRAM___SHA___512_SASL_JAAS_CONFIG"
    assert property_name(name) == "listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config"


def test_broker_properties_skip_what_is_not_a_broker_setting() -> None:
    env = [
        {"name": "KAFKA_NODE_ID", "value": "1"},
        {"name": "KAFKA_HEAP_OPTS", "value": "-Xmx1g"},
        {"name": "CLUSTER_ID", "value": "x"},
        {"name": "KAFKA_FROM_SECRET", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}},
    ]
    assert broker_properties(env) == "node.id=1\n"


def dev_manifests() -> list[dict[str, Any]]:
    """deploy/dev's documents (what kustomize adds, labels, does not matter here)."""
    docs: list[dict[str, Any]] = []
    for name in ("postgres", "redis", "kafka"):
        docs += [
            d for d in yaml.safe_load_all((REPO / "deploy" / "dev" / f"{name}.yaml").read_text())
        ]
    return docs


def deployment(docs: list[dict[str, Any]], name: str) -> dict[str, Any]:
    return next(d for d in docs if d["kind"] == "Deployment" and d["metadata"]["name"] == name)


def test_kafka_offers_clients_only_sasl_ssl() -> None:
    docs = secure_manifests(dev_manifests())
    env = {
        e["name"]: e.get("value")
        for e in deployment(docs, "kafka")["spec"]["template"]["spec"]["containers"][0]["env"]
    }
    exposed = [
        listener
        for listener in env["KAFKA_LISTENERS"].split(",")
        if not listener.split("://")[1].startswith("127.0.0.1:")
    ]
    assert exposed == ["SASL_SSL://:9092"]
    formatted = next(d for d in docs if d["metadata"]["name"] == "kafka-format")
    assert "listeners=SASL_SSL://:9092," in formatted["data"]["server.properties"]


def test_every_password_is_only_in_secrets() -> None:
    credentials = Credentials()
    docs = [*secret_manifests(CERTIFICATES, credentials), *secure_manifests(dev_manifests())]
    for doc in docs:
        text = json.dumps(doc)
        holds = [p for p in credentials.passwords() if p in text]
        assert not holds or doc["kind"] == "Secret", doc["metadata"]["name"]
    assert len({*credentials.passwords()}) == 3


def test_the_certificate_names_every_service_in_the_namespace() -> None:
    names = subject_alt_names("ns1").split(",")
    for service in ("kafka", "postgres", "redis"):
        assert f"DNS:{service}" in names
        assert f"DNS:{service}.ns1.svc.cluster.local" in names
