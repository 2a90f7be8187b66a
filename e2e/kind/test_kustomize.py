"""The kustomize base (rendered from the chart, never hand-edited) and its overlays."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from readside_testkit.kind.tools import KUSTOMIZE_DIR, documents, run, security_problems

pytestmark = pytest.mark.kind

OVERLAYS = ["kind", "production"]


def build(kustomize: list[str], overlay: str) -> list[dict]:
    return documents(run([*kustomize, str(KUSTOMIZE_DIR / "overlays" / overlay)]).stdout)


def test_base_is_exactly_what_the_chart_renders(helm: str) -> None:
    """deploy/kustomize/render.sh --check: the committed base has not drifted from the chart."""
    done = run(["bash", str(KUSTOMIZE_DIR / "render.sh"), "--check"], check=False, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_overlay_builds_and_keeps_containers_locked_down(
    kustomize: list[str], overlay: str
) -> None:
    docs = build(kustomize, overlay)
    ours = [
        d
        for d in docs
        if d["metadata"].get("labels", {}).get("app.kubernetes.io/part-of") == "readside"
    ]
    assert {d["kind"] for d in ours} >= {"Deployment", "Service", "ConfigMap", "Job"}
    assert security_problems(ours) == []
    namespaces = {
        d["metadata"].get("namespace")
        for d in docs
        if d["kind"] not in {"Namespace", "CustomResourceDefinition"}
    }
    assert namespaces == {"readside-kind" if overlay == "kind" else "readside"}


def test_kind_overlay_brings_dev_dependencies_and_its_secrets(kustomize: list[str]) -> None:
    docs = build(kustomize, "kind")
    names = {(d["kind"], d["metadata"]["name"]) for d in docs}
    for dependency in ("postgres", "redis", "kafka"):
        assert ("Deployment", dependency) in names
    secrets = [n for kind, n in names if kind == "Secret" and n.startswith("readside-database-")]
    assert secrets, "secretGenerator output (with its hash suffix) is missing"
    query = next(
        d for d in docs if d["kind"] == "Deployment" and d["metadata"]["name"] == "readside-query"
    )
    env = {e["name"]: e for e in query["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["DATABASE_URL"]["valueFrom"]["secretKeyRef"]["name"] == secrets[0]
    assert query["spec"]["replicas"] == 1
    assert not [d for d in docs if d["kind"] == "PodDisruptionBudget"]


def test_production_overlay_adds_the_operator_and_lets_it_own_replicas(
    kustomize: list[str],
) -> None:
    docs = build(kustomize, "production")
    kinds = {(d["kind"], d["metadata"]["name"]) for d in docs}
    assert ("Deployment", "readside-operator") in kinds
    assert ("Projection", "orders") in kinds
    assert ("HorizontalPodAutoscaler", "readside-query") in kinds
    projection = next(
        d
        for d in docs
        if d["kind"] == "Deployment" and d["metadata"]["name"] == "readside-projection"
    )
    assert "replicas" not in projection["spec"]
    binding = next(d for d in docs if d["kind"] == "RoleBinding")
    assert binding["subjects"][0]["namespace"] == "readside"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_overlay_passes_the_api_servers_dry_run(
    kustomize: list[str], api_server: list[str], overlay: str, tmp_path: Path
) -> None:
    kubectl = api_server
    docs = build(kustomize, overlay)
    for crd in [d for d in docs if d["kind"] == "CustomResourceDefinition"]:
        path = tmp_path / f"{crd['metadata']['name']}.yaml"
        path.write_text(yaml.safe_dump(crd))
        run([*kubectl, "apply", "--server-side", "-f", str(path)])
        run(
            [
                *kubectl,
                "wait",
                "--for=condition=Established",
                "--timeout=60s",
                f"crd/{crd['metadata']['name']}",
            ]
        )
    namespace = "readside-kind" if overlay == "kind" else "readside"
    run([*kubectl, "create", "namespace", namespace], check=False)
    rest = [d for d in docs if d["kind"] not in {"CustomResourceDefinition", "Namespace"}]
    path = tmp_path / "rest.yaml"
    path.write_text(yaml.safe_dump_all(rest))
    done = run([*kubectl, "apply", "--dry-run=server", "-f", str(path)])
    assert done.stdout.count("(server dry run)") == len(rest)
