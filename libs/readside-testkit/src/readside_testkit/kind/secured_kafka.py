"""deploy/dev's Kafka with a SASL_SSL listener (SCRAM-SHA-512) for its clients.

The broker keeps the image's entry point and is configured by KAFKA_* variables as in
deploy/dev. SCRAM credentials live in the cluster metadata: an init container formats the
storage with `kafka-storage format --add-scram`, reading the user and password from the
Secret, with the same broker properties the entry point derives from those variables (it
then finds the storage formatted and keeps it). Clients reach only SASL_SSL://kafka:9092;
the controller and the broker's own PLAINTEXT listener are bound to 127.0.0.1.
"""

from __future__ import annotations

import copy
from typing import Any

from readside_testkit.kind.secured_parts import (
    KAFKA_USER_SECRET,
    SERVER_SECRET,
    mount,
    secret_volume,
)

# What changes from deploy/dev's settings (the rest is kept).
KAFKA_ENV = {
    "KAFKA_LISTENERS": "SASL_SSL://:9092,INTERNAL://127.0.0.1:9094,CONTROLLER://127.0.0.1:9093",
    "KAFKA_ADVERTISED_LISTENERS": "SASL_SSL://kafka:9092,INTERNAL://127.0.0.1:9094",
    "KAFKA_LISTENER_SECURITY_PROTOCOL_MAP": (
        "CONTROLLER:PLAINTEXT,INTERNAL:PLAINTEXT,SASL_SSL:SASL_SSL"
    ),
    "KAFKA_INTER_BROKER_LISTENER_NAME": "INTERNAL",
    "KAFKA_CONTROLLER_QUORUM_VOTERS": "1@127.0.0.1:9093",
    "KAFKA_SASL_ENABLED_MECHANISMS": "SCRAM-SHA-512",
    # listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config (the image's `__`, `___` rule)
    "KAFKA_LISTENER_NAME_SASL__SSL_SCRAM___SHA___512_SASL_JAAS_CONFIG": (
        "org.apache.kafka.common.security.scram.ScramLoginModule required;"
    ),
    "KAFKA_SSL_KEYSTORE_TYPE": "PEM",
    "KAFKA_SSL_KEYSTORE_LOCATION": "/etc/kafka-tls/keystore.pem",
}
# Variables of the image that are not broker properties (hack/images/kafka/bin/docker-run.sh).
NOT_PROPERTIES = {
    "KAFKA_HEAP_OPTS",
    "KAFKA_OPTS",
    "KAFKA_JVM_PERFORMANCE_OPTS",
    "KAFKA_LOG4J_OPTS",
    "KAFKA_VERSION",
    "KAFKA_HOME",
    "KAFKA_GC_LOG_OPTS",
    "KAFKA_JMX_OPTS",
    "KAFKA_DEBUG",
}
FORMAT = """\
set -eu
user=$(cat /etc/kafka-user/username)
password=$(cat /etc/kafka-user/password)
exec /opt/kafka/bin/kafka-storage.sh format --ignore-formatted --cluster-id "$CLUSTER_ID" \\
  --config /etc/kafka-format/server.properties \\
  --add-scram "SCRAM-SHA-512=[name=$user,password=$password]"
"""


def property_name(variable: str) -> str:
    """The broker property a KAFKA_* variable sets, as the image reads it: lower case, `___`
    is `-`, `__` is `_`, `_` is `.` (KAFKA_LOG_DIRS: log.dirs)."""
    name = variable.removeprefix("KAFKA_").lower()
    return name.replace("___", "-").replace("__", "\0").replace("_", ".").replace("\0", "_")


def broker_properties(env: list[dict[str, Any]]) -> str:
    """server.properties from a container's literal KAFKA_* variables."""
    lines = [
        f"{property_name(item['name'])}={item['value']}"
        for item in env
        if item["name"].startswith("KAFKA_")
        and item["name"] not in NOT_PROPERTIES
        and "value" in item
    ]
    return "\n".join(sorted(lines)) + "\n"


def with_env(env: list[dict[str, Any]], changes: dict[str, str]) -> list[dict[str, Any]]:
    """`env` with each name of `changes` set (in place when present, else appended)."""
    out = [
        {"name": e["name"], "value": changes[e["name"]]} if e["name"] in changes else e for e in env
    ]
    present = {e["name"] for e in env}
    return out + [{"name": k, "value": v} for k, v in changes.items() if k not in present]


def secure_kafka(deployment: dict[str, Any]) -> list[dict[str, Any]]:
    """deploy/dev's Kafka Deployment on SASL_SSL, and the ConfigMap of the properties its
    storage is formatted with."""
    secured = copy.deepcopy(deployment)
    pod = secured["spec"]["template"]["spec"]
    broker = pod["containers"][0]
    broker["env"] = with_env(broker["env"], KAFKA_ENV)
    broker["volumeMounts"] += [mount("tls", "/etc/kafka-tls")]
    cluster_id = next(e for e in broker["env"] if e["name"] == "CLUSTER_ID")
    pod["initContainers"] = [
        {
            "name": "format-with-scram-user",
            "image": broker["image"],
            "imagePullPolicy": broker.get("imagePullPolicy", "IfNotPresent"),
            "command": ["bash", "-c", FORMAT],
            "env": [cluster_id, {"name": "KAFKA_HEAP_OPTS", "value": "-Xmx256m"}],
            "securityContext": broker.get("securityContext", {}),
            "volumeMounts": [
                *broker["volumeMounts"],
                mount("format", "/etc/kafka-format"),
                mount("user", "/etc/kafka-user"),
            ],
        }
    ]
    pod["volumes"] += [
        secret_volume("tls", SERVER_SECRET),
        secret_volume("user", KAFKA_USER_SECRET),
        {"name": "format", "configMap": {"name": "kafka-format"}},
    ]
    properties = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "kafka-format"},
        "data": {"server.properties": broker_properties(broker["env"])},
    }
    return [secured, properties]
