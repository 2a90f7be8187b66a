"""The chart's secured connections: credentials and CA bundles only from existing Secrets,
mounted read-only into every pod that connects, and carried by the operator into its Jobs and
the BlueGreen shadow exactly as the projection Deployment has them."""

from __future__ import annotations

from typing import Any

import pytest

from readside_operator.resources import projection_job, shadow_deployment
from readside_testkit.kind.tools import VALUES, documents, helm_template

from .test_kustomize import build

pytestmark = pytest.mark.kind

OPERATOR_ON = ["operator.enabled=true", "projection.resource.skipCapabilityCheck=true"]
PATH_VARIABLES = (
    "_FILE",
    "_CAFILE",
    "_CERTFILE",
    "_KEYFILE",
    "PGSSLROOTCERT",
    "PGSSLCERT",
    "PGSSLKEY",
)
REPLAY = {
    "apiVersion": "readside.io/v1alpha1",
    "kind": "ProjectionReplay",
    "metadata": {"name": "r1", "namespace": "readside", "uid": "u-1"},
}


def production(helm: str) -> dict[str, Any]:
    done = helm_template(helm, VALUES["production"], OPERATOR_ON)
    assert done.returncode == 0, done.stderr
    return {
        f"{d['kind']}/{d['metadata']['name']}": d
        for d in documents(done.stdout)
        if d["kind"] in ("Deployment", "Job", "ConfigMap")
    }


def container(doc: dict[str, Any]) -> dict[str, Any]:
    return dict(doc["spec"]["template"]["spec"]["containers"][0])


def security_env(c: dict[str, Any]) -> dict[str, str]:
    names = ("KAFKA_S", "PGSSL", "PGPASSWORD", "REDIS_SSL", "REDIS_USERNAME", "REDIS_PASSWORD")
    return {e["name"]: e.get("value", "") for e in c.get("env", []) if e["name"].startswith(names)}


@pytest.mark.parametrize(
    ("workload", "expected"),
    [
        (
            "Deployment/readside-projection",
            {
                "kafka-sasl",
                "kafka-tls",
                "postgres-tls",
                "postgres-password",
                "redis-tls",
                "redis-acl",
            },
        ),
        (
            "Deployment/readside-query",
            {"postgres-tls", "postgres-password", "redis-tls", "redis-acl"},
        ),
        ("Deployment/readside-operator", {"kafka-sasl", "kafka-tls"}),
        ("Job/readside-migrate", {"postgres-tls", "postgres-password"}),
    ],
)
def test_each_workload_mounts_the_secrets_it_needs_read_only_and_reads_files(
    helm: str, workload: str, expected: set[str]
) -> None:
    doc = production(helm)[workload]
    pod, c = doc["spec"]["template"]["spec"], container(doc)
    secrets = {v["name"] for v in pod["volumes"] if "secret" in v}
    assert secrets == expected
    mounts = {m["name"]: m for m in c["volumeMounts"]}
    assert all(mounts[name].get("readOnly") is True for name in secrets)
    env = security_env(c)
    paths = [v for k, v in env.items() if k.endswith(PATH_VARIABLES)]
    assert paths
    assert all(any(p.startswith(mounts[n]["mountPath"] + "/") for n in secrets) for p in paths)
    # A credential is never a plain value in the environment, a ConfigMap or an argument.
    assert not {"KAFKA_SASL_PASSWORD", "PGPASSWORD", "REDIS_PASSWORD"} & set(env)
    assert not any("PASSWORD" in arg.upper() for arg in c.get("args", []) + c.get("command", []))


def test_no_configmap_holds_a_connection_setting_that_is_secret(helm: str) -> None:
    for name, doc in production(helm).items():
        if name.startswith("ConfigMap/"):
            assert not [k for k in doc.get("data", {}) if "PASSWORD" in k or "SASL" in k]


def test_the_operator_s_jobs_and_shadow_carry_the_projection_s_secured_connections(
    helm: str,
) -> None:
    deployment = production(helm)["Deployment/readside-projection"]
    deployment["metadata"]["namespace"] = "readside"
    want_env = security_env(container(deployment))
    want_volumes = deployment["spec"]["template"]["spec"]["volumes"]
    want_mounts = container(deployment)["volumeMounts"]
    job = projection_job(REPLAY, deployment, "r1-reset", ["reset", "--earliest"])
    shadow = shadow_deployment(REPLAY, deployment, "r1-shadow", {"READ_MODEL_SCHEMA": "rm_2"}, 1)
    for child in (job, shadow):
        spec = child["spec"]["template"]["spec"]
        assert spec["volumes"] == want_volumes
        assert container(child)["volumeMounts"] == want_mounts
        assert security_env(container(child)) == want_env
    assert want_env["KAFKA_SECURITY_PROTOCOL"] == "SASL_SSL"


@pytest.mark.parametrize(
    ("sets", "says"),
    [
        (["kafka.security.protocol=TLS"], "protocol"),
        (["kafka.security.protocol=SASL_SSL", "kafka.security.sasl.mechanism=GSSAPI"], "mechanism"),
        (["database.tls.sslmode=strict"], "sslmode"),
        (["kafka.security.protocol=SASL_SSL"], "needs kafka.security.sasl.mechanism"),
        (["kafka.security.tls.existingSecret=kafka-ca"], "protocol does not use TLS"),
        (["database.tls.existingSecret=pg-ca"], "set database.tls.sslmode"),
        (
            [
                "kafka.security.protocol=SSL",
                "kafka.security.tls.existingSecret=c",
                "kafka.security.tls.certKey=tls.crt",
            ],
            "kafka.security.tls.keyKey",
        ),
    ],
)
def test_bad_security_values_are_refused_naming_them(helm: str, sets: list[str], says: str) -> None:
    done = helm_template(helm, VALUES["kind"], sets)
    assert done.returncode != 0, f"{sets} was accepted"
    assert says in done.stderr, done.stderr


def test_the_production_overlay_secures_connections_as_the_production_values_do(
    helm: str, kustomize: list[str]
) -> None:
    """components/secured-connections patches by hand what the chart renders: they agree."""
    chart = production(helm)
    overlay = {
        f"{d['kind']}/{d['metadata']['name']}": d
        for d in build(kustomize, "production")
        if d["kind"] in ("Deployment", "Job")
    }
    for workload in (
        "Deployment/readside-projection",
        "Deployment/readside-query",
        "Deployment/readside-operator",
        "Job/readside-migrate",
    ):
        ours, theirs = container(overlay[workload]), container(chart[workload])
        without_checks = {
            k: v for k, v in security_env(theirs).items() if "CHECK_HOSTNAME" not in k
        }
        assert security_env(ours) == without_checks, workload
        volumes = [
            sorted(
                (v["name"], v["secret"]["secretName"])
                for v in d["spec"]["template"]["spec"]["volumes"]
                if "secret" in v
            )
            for d in (overlay[workload], chart[workload])
        ]
        assert volumes[0] == volumes[1], workload
