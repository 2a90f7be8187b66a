"""The Helm chart: lint, render, schema, security contexts, and the API server's verdict."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from readside_testkit.kind.tools import (
    CHART,
    REPO,
    VALUES,
    apply_crds,
    documents,
    helm_template,
    run,
    security_problems,
)

pytestmark = pytest.mark.kind

OPERATOR_ON = ["operator.enabled=true", "projection.resource.skipCapabilityCheck=true"]
EVERYTHING_ON = [
    *OPERATOR_ON,
    "networkPolicy.enabled=true",
    "metrics.serviceMonitor.enabled=true",
    "metrics.prometheusRule.enabled=true",
    "metrics.grafanaDashboard.enabled=true",
]


def render(helm: str, values: list[Path], sets: list[str] | None = None) -> str:
    done = helm_template(helm, values, sets)
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.mark.parametrize("name", sorted(VALUES))
def test_chart_lints_strictly_with_each_values_file(helm: str, name: str) -> None:
    args = [helm, "lint", "--strict", str(CHART)]
    for path in VALUES[name]:
        args += ["-f", str(path)]
    run(args)


@pytest.mark.parametrize("name", sorted(VALUES))
def test_every_container_is_locked_down(helm: str, name: str) -> None:
    docs = documents(render(helm, VALUES[name], EVERYTHING_ON))
    kinds = {doc["kind"] for doc in docs}
    assert {"Deployment", "Job", "Pod"} <= kinds  # workloads, the migration hook, helm test
    assert security_problems(docs) == []


def test_only_live_update_mode_leaves_the_root_filesystem_writable(helm: str) -> None:
    docs = documents(render(helm, [*VALUES["kind"], CHART / "values-live-update.yaml"]))
    assert security_problems(docs, allow_writable_root=True) == []
    writable = [
        (doc["metadata"]["name"], c["name"])
        for doc in docs
        if doc["kind"] == "Deployment"
        for c in doc["spec"]["template"]["spec"]["containers"]
        if not c["securityContext"]["readOnlyRootFilesystem"]
    ]
    assert sorted(writable) == [("readside-projection", "projection"), ("readside-query", "query")]


def test_workloads_probe_their_health_endpoints(helm: str) -> None:
    docs = documents(render(helm, VALUES["production"]))
    deployments = {d["metadata"]["name"]: d for d in docs if d["kind"] == "Deployment"}
    for name, port in (("readside-query", 8081), ("readside-projection", 9091)):
        container = deployments[name]["spec"]["template"]["spec"]["containers"][0]
        ports = {p["name"]: p["containerPort"] for p in container["ports"]}
        assert container["livenessProbe"]["httpGet"]["path"] == "/livez"
        assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
        assert ports[container["readinessProbe"]["httpGet"]["port"]] == port
        assert "checksum/config" in deployments[name]["spec"]["template"]["metadata"]["annotations"]


def test_a_config_change_changes_the_pods_checksum(helm: str) -> None:
    def checksum(level: str) -> str:
        docs = documents(render(helm, VALUES["kind"], [f"logLevel={level}"]))
        query = next(
            d
            for d in docs
            if d["metadata"]["name"] == "readside-query" and d["kind"] == "Deployment"
        )
        return str(query["spec"]["template"]["metadata"]["annotations"]["checksum/config"])

    assert checksum("INFO") != checksum("DEBUG")


def test_environment_names_follow_the_readme(helm: str) -> None:
    docs = documents(render(helm, VALUES["kind"]))
    config = {d["metadata"]["name"]: d["data"] for d in docs if d["kind"] == "ConfigMap"}
    assert {"PORT", "CACHE_TTL_SECONDS", "LOG_LEVEL"} <= set(config["readside-query"])
    assert {
        "KAFKA_BROKERS",
        "KAFKA_TOPIC",
        "CONSUMER_GROUP",
        "OPS_PORT",
        "BATCH_MAX_RECORDS",
        "BATCH_TIMEOUT_MS",
        "KAFKA_SESSION_TIMEOUT_MS",
        "RETRY_MAX_SECONDS",
    } <= set(config["readside-projection"])
    secret = next(
        d for d in docs if d["kind"] == "Secret" and d["metadata"]["name"] == "readside-connections"
    )
    assert set(secret["stringData"]) == {"DATABASE_URL", "REDIS_URL"}


def test_migrations_run_as_a_pre_install_hook_with_their_own_secret(helm: str) -> None:
    docs = documents(render(helm, VALUES["kind"]))
    hooks = {
        (d["kind"], d["metadata"]["name"]): d["metadata"].get("annotations", {})
        for d in docs
        if "helm.sh/hook" in d["metadata"].get("annotations", {})
    }
    assert hooks[("Job", "readside-migrate")]["helm.sh/hook"] == "pre-install,pre-upgrade"
    assert hooks[("Secret", "readside-migrate")]["helm.sh/hook-weight"] == "-10"
    assert hooks[("Pod", "readside-test-query")]["helm.sh/hook"] == "test"
    job = next(d for d in docs if d["kind"] == "Job")
    assert job["spec"]["template"]["spec"]["containers"][0]["command"] == [
        "readside-projection",
        "migrate",
    ]


def test_operator_is_optional_and_least_privileged(helm: str) -> None:
    off = documents(render(helm, []))
    assert not [d for d in off if "operator" in d["metadata"]["name"]]
    assert not [d for d in off if d["kind"] == "Projection"]
    on = documents(render(helm, [], OPERATOR_ON))
    role = next(d for d in on if d["kind"] == "Role")
    verbs = {v for rule in role["rules"] for v in rule["verbs"]}
    resources = {r for rule in role["rules"] for r in rule["resources"]}
    assert "*" not in verbs | resources
    assert not {"secrets", "pods", "configmaps"} & resources

    def granted(verb: str) -> set[str]:
        return {r for rule in role["rules"] if verb in rule["verbs"] for r in rule["resources"]}

    # Writes only where the operator acts: the shadow Deployment and the replay Jobs are the
    # only things it creates and deletes (besides Events).
    assert granted("delete") == {"deployments", "jobs"}
    assert granted("create") == {"deployments", "jobs", "events"}
    assert "update" not in verbs
    projection = next(d for d in on if d["kind"] == "Projection")
    assert projection["spec"]["deployment"] == "readside-projection"
    assert projection["spec"]["autoscaling"]["minReplicas"] == 1
    deployment = next(
        d
        for d in on
        if d["kind"] == "Deployment" and d["metadata"]["name"] == "readside-projection"
    )
    assert "replicas" not in deployment["spec"]  # the operator owns it


def test_the_operator_is_scraped_like_the_other_components(helm: str) -> None:
    docs = documents(render(helm, [], [*OPERATOR_ON, "metrics.serviceMonitor.enabled=true"]))
    monitors = {d["metadata"]["name"]: d for d in docs if d["kind"] == "ServiceMonitor"}
    assert set(monitors) == {"readside-query", "readside-projection", "readside-operator"}
    service = next(
        d for d in docs if d["kind"] == "Service" and d["metadata"]["name"] == "readside-operator"
    )
    operator = next(
        d
        for d in docs
        if d["kind"] == "Deployment" and d["metadata"]["name"] == "readside-operator"
    )
    pod_labels = operator["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= pod_labels.items()
    selected = monitors["readside-operator"]["spec"]["selector"]["matchLabels"]
    assert selected.items() <= service["metadata"]["labels"].items()
    container = operator["spec"]["template"]["spec"]["containers"][0]
    assert "metrics" in {p["name"] for p in container["ports"]}
    assert service["spec"]["ports"][0]["targetPort"] == "metrics"
    assert monitors["readside-operator"]["spec"]["endpoints"][0]["port"] == "metrics"


def test_install_and_upgrade_apply_the_crds_first_with_rights_to_those_crds_only(
    helm: str,
) -> None:
    docs = documents(render(helm, [], OPERATOR_ON))
    hooks = {
        (d["kind"], d["metadata"]["name"].split("-")[1]): d
        for d in docs
        if d["metadata"]["labels"].get("app.kubernetes.io/component") == "crds"
    }
    assert set(hooks) == {
        ("ServiceAccount", "crds"),
        ("ClusterRole", "crds"),
        ("ClusterRoleBinding", "crds"),
        ("ConfigMap", "crds"),
        ("Job", "crds"),
    }

    def weight(doc: dict[str, Any]) -> int:
        annotations = doc["metadata"]["annotations"]
        assert annotations["helm.sh/hook"] == "pre-install,pre-upgrade"
        return int(annotations["helm.sh/hook-weight"])

    job = hooks[("Job", "crds")]
    migrate = next(
        d for d in docs if d["kind"] == "Job" and d["metadata"]["name"].endswith("migrate")
    )
    assert max(weight(d) for d in hooks.values() if d is not job) < weight(job) < weight(migrate)
    container = job["spec"]["template"]["spec"]["containers"][0]
    assert container["command"] == ["readside-operator", "apply-crds", "/crds"]
    shipped = {p.name: p.read_text() for p in (CHART / "crds").glob("*.yaml")}
    assert hooks[("ConfigMap", "crds")]["data"] == shipped  # the chart's crds/, verbatim
    rules = hooks[("ClusterRole", "crds")]["rules"]
    assert {r for rule in rules for r in rule["resources"]} == {"customresourcedefinitions"}
    named = [rule for rule in rules if "resourceNames" in rule]
    assert {v for rule in rules for v in rule["verbs"]} == {"create", "get", "patch"}
    assert {v for rule in named for v in rule["verbs"]} == {"get", "patch"}
    assert set(named[0]["resourceNames"]) == {
        "projections.readside.io",
        "projectionreplays.readside.io",
    }
    off = documents(render(helm, [], [*OPERATOR_ON, "operator.upgradeCrds=false"]))
    assert not [d for d in off if d["metadata"]["name"].startswith("readside-crds")]


def test_projection_resource_waits_for_the_crd_unless_told(helm: str) -> None:
    docs = documents(render(helm, [], ["operator.enabled=true"]))
    assert not [d for d in docs if d["kind"] == "Projection"]
    done = helm_template(
        helm, [], ["operator.enabled=true"], "--api-versions", "readside.io/v1alpha1/Projection"
    )
    assert any(d["kind"] == "Projection" for d in documents(done.stdout))


@pytest.mark.parametrize(
    ("sets", "says"),
    [
        (["query.replicaCount=-1"], "replicaCount"),
        (["projection.replicaCount=-3"], "replicaCount"),
        (["database.url=mysql://nope"], "database"),
        (["redis.url=localhost:6379"], "redis"),
        (["kafka.brokers=not a broker list"], "brokers"),
        (["query.port=70000"], "port"),
        (["logLevel=LOUD"], "logLevel"),
        (["containerSecurityContext.runAsNonRoot=false"], "runAsNonRoot"),
        (["containerSecurityContext.readOnlyRootFilesystem=false"], "readOnlyRootFilesystem"),
        (["query.replicaz=2"], "replicaz"),
        (["projection.resource.autoscaling.minReplicas=-1"], "minReplicas"),
        (["metrics.prometheusRule.lagFor=ten minutes"], "lagFor"),
    ],
)
def test_schema_rejects_bad_values_naming_them(helm: str, sets: list[str], says: str) -> None:
    done = helm_template(helm, VALUES["kind"], sets)
    assert done.returncode != 0, f"{sets} was accepted"
    assert says in done.stderr, done.stderr


def test_missing_connections_fail_with_what_to_set(helm: str) -> None:
    done = helm_template(helm, [], ["database.existingSecret=", "database.url="])
    assert done.returncode != 0
    assert "set database.url" in done.stderr
    done = helm_template(helm, [], ["redis.existingSecret="])
    assert "set redis.url" in done.stderr


def test_every_value_is_documented() -> None:
    """Each key has a `# --` comment, or sits inside a documented map, or only groups keys."""
    lines = (CHART / "values.yaml").read_text().splitlines()
    stack: list[tuple[int, bool]] = []  # (indent, documented) of the enclosing keys
    missing = []
    for number, line in enumerate(lines):
        stripped = line.strip()
        if not stripped or stripped.startswith(("#", "- ")) or ":" not in stripped:
            continue
        indent = len(line) - len(line.lstrip())
        while stack and stack[-1][0] >= indent:
            stack.pop()
        above = number - 1
        comments = []
        while above >= 0 and lines[above].strip().startswith("#"):
            comments.append(lines[above].strip())
            above -= 1
        documented = any(c.startswith("# --") for c in comments)
        inherited = any(flag for _, flag in stack)
        key, _, rest = stripped.partition(":")
        if not (documented or inherited or rest.strip() == ""):
            missing.append(f"values.yaml:{number + 1}: {key}")
        stack.append((indent, documented or inherited))
    assert missing == []


@pytest.mark.parametrize("name", sorted(VALUES))
def test_rendered_manifests_pass_the_api_servers_dry_run(
    helm: str, api_server: list[str], name: str, tmp_path: Path
) -> None:
    """Server-side dry-run of every rendering (hooks and test pod included), against the
    kind cluster or a local kube-apiserver; the CRDs are applied for real first."""
    kubectl = api_server
    apply_crds(kubectl, established=True)
    namespace = f"readside-dryrun-{name}"
    run([*kubectl, "create", "namespace", namespace], check=False)
    run([*kubectl, "-n", namespace, "create", "serviceaccount", "default"], check=False)
    listing = run([*kubectl, "api-resources", "--no-headers"]).stdout
    served = {line.split()[-1] for line in listing.splitlines() if line.strip()}
    docs = documents(render(helm, VALUES[name], EVERYTHING_ON))
    keep = [d for d in docs if d["kind"] in served and d["kind"] != "CustomResourceDefinition"]
    unserved = sorted({d["kind"] for d in docs} - served)
    # ServiceMonitor/PrometheusRule need the Prometheus Operator's CRDs.
    assert set(unserved) <= {"ServiceMonitor", "PrometheusRule"}, unserved
    path = tmp_path / "manifests.yaml"
    path.write_text(yaml.safe_dump_all(keep))
    done = run([*kubectl, "apply", "-n", namespace, "--dry-run=server", "-f", str(path)])
    assert done.stdout.count("(server dry run)") == len(keep)


def test_the_dlq_jobs_are_suspended_templates_the_projection_cli_accepts(helm: str) -> None:
    from readside_projection.cli import _parser
    from readside_projection.dlq_cli import selection_from_args

    sets = ["projection.dlqJobs.redriveArgs={--error,total_amount,--since,2024-03-01T00:00:00Z}"]
    docs = documents(render(helm, VALUES["kind"], sets))
    jobs = {d["metadata"]["name"]: d for d in docs if d["kind"] == "CronJob"}
    assert sorted(jobs) == [
        "readside-projection-dlq-list",
        "readside-projection-dlq-redrive",
        "readside-projection-dlq-redrive-dry-run",
    ]
    deployment = next(
        d
        for d in docs
        if d["kind"] == "Deployment" and d["metadata"]["name"] == "readside-projection"
    )
    projection = deployment["spec"]["template"]["spec"]["containers"][0]
    for name, job in jobs.items():
        assert job["spec"]["suspend"] is True, name
        container = job["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]
        assert container["image"] == projection["image"]
        assert container["envFrom"] == projection["envFrom"]
        assert container["env"] == projection["env"]
        args = _parser().parse_args(container["args"])
        selection = selection_from_args(args)  # raises if the CLI would refuse them
        if "redrive" in name:
            assert selection.error == "total_amount"
            assert args.dry_run == name.endswith("dry-run")


def test_the_dlq_jobs_reach_a_secured_kafka_as_the_projection_does(helm: str) -> None:
    """With the production values (SASL_SSL, TLS, Secrets), each DLQ Job has the projection's
    security env, Secret volumes and mounts."""
    docs = documents(render(helm, VALUES["production"]))
    deployment = next(
        d
        for d in docs
        if d["kind"] == "Deployment" and d["metadata"]["name"].endswith("readside-projection")
    )
    pod = deployment["spec"]["template"]["spec"]
    secrets = [v for v in pod["volumes"] if "secret" in v]
    assert secrets, "the production values name Secrets"
    for job in (d for d in docs if d["kind"] == "CronJob"):
        job_pod = job["spec"]["jobTemplate"]["spec"]["template"]["spec"]
        assert [v for v in job_pod["volumes"] if "secret" in v] == secrets
        mounts = job_pod["containers"][0]["volumeMounts"]
        assert mounts[1:] == pod["containers"][0]["volumeMounts"][1:]  # [0] is /tmp
        assert job_pod["containers"][0]["env"] == pod["containers"][0]["env"]


def test_every_alert_of_the_prometheus_rule_has_its_own_name(helm: str) -> None:
    docs = documents(render(helm, VALUES["default"], EVERYTHING_ON))
    rule = next(d for d in docs if d["kind"] == "PrometheusRule")
    names = [r["alert"] for group in rule["spec"]["groups"] for r in group["rules"] if "alert" in r]
    assert len(names) == len(set(names)), names
    assert {"ReadsideEventVersionUnknown", "ReadsideProjectionStalled"} <= set(names)


def test_the_dashboard_and_the_alerts_read_only_metrics_some_component_exports(helm: str) -> None:
    """A renamed metric must not leave a panel or an alert reading nothing."""
    docs = documents(render(helm, VALUES["default"], EVERYTHING_ON))
    dashboard = next(d for d in docs if d["kind"] == "ConfigMap" and "readside.json" in d["data"])
    rule = next(d for d in docs if d["kind"] == "PrometheusRule")
    read = set(re.findall(r"\breadside_[a-z_]+", dashboard["data"]["readside.json"]))
    read |= set(re.findall(r"\breadside_[a-z_]+", json.dumps(rule["spec"])))
    sources = [*REPO.glob("services/*/src/**/*.py"), *REPO.glob("operator/src/**/*.py")]
    sources += REPO.glob("libs/*/src/**/*.py")
    exported = {
        m for path in sources for m in re.findall(r'"(readside_[a-z_]+)"', path.read_text())
    }
    suffixes = ("_total", "_bucket", "_sum", "_count")
    unknown = {
        name
        for name in read
        if name not in exported
        and not any(name.endswith(s) and name[: -len(s)] in exported for s in suffixes)
    }
    assert not unknown, f"read but exported by no component: {sorted(unknown)}"
    assert {"readside_query_requests_total", "readside_replay_failed"} <= read
