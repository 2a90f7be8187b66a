"""Smoke tests of the air-gapped kind cluster (hack/kind, docs/airgap.md)."""

from __future__ import annotations

import json
import subprocess
import textwrap

import pytest

from readside_testkit.kind.tools import BIN, CLUSTER, Cluster, pinned_versions, run, wait_for

pytestmark = pytest.mark.kind


def pod_phase(cluster: Cluster, namespace: str, name: str) -> str:
    done = cluster.kubectl(
        "-n", namespace, "get", "pod", name, "-o", "jsonpath={.status.phase}", check=False
    )
    return done.stdout.strip()


def run_pod(
    cluster: Cluster,
    namespace: str,
    name: str,
    image: str,
    script: str,
    timeout: float = 180,
    volumes: str = "",
) -> str:
    """Run a one-shot pod with a Python script; return its log once it succeeded."""
    manifest = (
        textwrap.dedent(
            f"""
        apiVersion: v1
        kind: Pod
        metadata:
          name: {name}
        spec:
          restartPolicy: Never
          containers:
            - name: main
              image: {image}
              imagePullPolicy: IfNotPresent
              command: ["python3", "-c", {json.dumps(script)}]
        """
        )
        + volumes
    )
    cluster.apply(manifest, namespace)
    phase = wait_for(
        f"pod {name} to finish",
        lambda: (p := pod_phase(cluster, namespace, name)) in ("Succeeded", "Failed") and p,
        timeout=timeout,
    )
    logs = cluster.kubectl("-n", namespace, "logs", name, check=False).stdout
    if phase != "Succeeded":
        described = cluster.kubectl("-n", namespace, "describe", "pod", name, check=False).stdout
        raise AssertionError(f"pod {name} {phase}\n--- logs\n{logs}\n--- describe\n{described}")
    return logs


def test_node_is_ready(kind_cluster: Cluster) -> None:
    nodes = kind_cluster.json("get", "nodes")["items"]
    assert len(nodes) == 1
    conditions = {c["type"]: c["status"] for c in nodes[0]["status"]["conditions"]}
    assert conditions["Ready"] == "True", conditions
    assert (
        nodes[0]["status"]["nodeInfo"]["kubeletVersion"] == pinned_versions()["KUBERNETES_VERSION"]
    )


def test_coredns_answers(kind_cluster: Cluster, namespace: str, smoke_image: str) -> None:
    kind_cluster.kubectl(
        "-n", "kube-system", "rollout", "status", "deployment/coredns", "--timeout=120s"
    )
    logs = run_pod(
        kind_cluster,
        namespace,
        "dns-probe",
        smoke_image,
        "import socket; print(socket.gethostbyname('kubernetes.default.svc.cluster.local'))",
    )
    service_ip = kind_cluster.json("-n", "default", "get", "service", "kubernetes")["spec"][
        "clusterIP"
    ]
    assert logs.strip() == service_ip


def test_kind_load_docker_image(kind_cluster: Cluster, smoke_image: str) -> None:
    listed = run(
        ["docker", "exec", f"{CLUSTER}-control-plane", "crictl", "images", "-o", "json"]
    ).stdout
    tags = {t for image in json.loads(listed)["images"] for t in image.get("repoTags") or []}
    # containerd lists the short name in its normalized, fully qualified form.
    assert any(tag.endswith(f"/{smoke_image}") for tag in tags), sorted(tags)


def test_local_image_served_through_service_dns(
    kind_cluster: Cluster, namespace: str, smoke_image: str
) -> None:
    kind_cluster.apply(
        textwrap.dedent(
            f"""
            apiVersion: apps/v1
            kind: Deployment
            metadata:
              name: echo
            spec:
              replicas: 1
              selector:
                matchLabels: {{app: echo}}
              template:
                metadata:
                  labels: {{app: echo}}
                spec:
                  containers:
                    - name: echo
                      image: {smoke_image}
                      imagePullPolicy: IfNotPresent
                      ports: [{{containerPort: 8080}}]
                      readinessProbe:
                        httpGet: {{path: /, port: 8080}}
                        periodSeconds: 1
            ---
            apiVersion: v1
            kind: Service
            metadata:
              name: echo
            spec:
              selector: {{app: echo}}
              ports: [{{port: 80, targetPort: 8080}}]
            """
        ),
        namespace,
    )
    kind_cluster.kubectl("-n", namespace, "rollout", "status", "deployment/echo", "--timeout=180s")
    logs = run_pod(
        kind_cluster,
        namespace,
        "echo-client",
        smoke_image,
        textwrap.dedent(
            f"""
            import time, urllib.request
            url = 'http://echo.{namespace}.svc.cluster.local/'
            for attempt in range(30):
                try:
                    print(urllib.request.urlopen(url, timeout=5).read().decode().strip())
                    break
                except OSError as exc:
                    last = exc
                    time.sleep(1)
            else:
                raise SystemExit(f'no answer from {{url}}: {{last}}')
            """
        ),
    )
    assert logs.startswith("readside-smoke echo-"), logs


def test_persistent_volume_claim_binds(
    kind_cluster: Cluster, namespace: str, smoke_image: str
) -> None:
    kind_cluster.apply(
        textwrap.dedent(
            """
            apiVersion: v1
            kind: PersistentVolumeClaim
            metadata:
              name: data
            spec:
              accessModes: [ReadWriteOnce]
              resources:
                requests: {storage: 64Mi}
            """
        ),
        namespace,
    )
    volumes = textwrap.indent(
        textwrap.dedent(
            """
            volumeMounts: [{name: data, mountPath: /data}]
            """
        ),
        "      ",
    ) + textwrap.indent(
        textwrap.dedent(
            """
            volumes:
              - name: data
                persistentVolumeClaim: {claimName: data}
            """
        ),
        "  ",
    )
    logs = run_pod(
        kind_cluster,
        namespace,
        "pvc-writer",
        smoke_image,
        "open('/data/probe','w').write('ok'); print(open('/data/probe').read())",
        volumes=volumes,
        timeout=240,
    )
    assert logs.strip() == "ok"
    claim = kind_cluster.json("-n", namespace, "get", "pvc", "data")
    assert claim["status"]["phase"] == "Bound"
    assert claim["spec"]["storageClassName"] == "standard"


def test_tools_report_pinned_versions(kind_cluster: Cluster) -> None:
    pins = pinned_versions()
    kubectl = json.loads(run([str(BIN / "kubectl"), "version", "--client", "-o", "json"]).stdout)
    assert kubectl["clientVersion"]["gitVersion"] == pins["KUBERNETES_VERSION"]
    server = kind_cluster.json("version")["serverVersion"]["gitVersion"]
    assert server == pins["KUBERNETES_VERSION"]
    helm = run([str(BIN / "helm"), "version", "--short"]).stdout.strip()
    assert helm.startswith(pins["HELM_VERSION"] + "+") or helm == pins["HELM_VERSION"], helm
    tilt = run([str(BIN / "tilt"), "version"]).stdout.strip()
    assert tilt.startswith(pins["TILT_VERSION"] + ","), tilt
    kind = run([str(BIN / "kind"), "version"]).stdout
    assert kind.startswith(f"kind {pins['KIND_VERSION']} "), kind
    kustomize = run([str(BIN / "kustomize"), "version"]).stdout.strip()
    assert kustomize == pins["KUSTOMIZE_VERSION"], kustomize
    skaffold = run([str(BIN / "skaffold"), "version"]).stdout.strip()
    assert skaffold == pins["SKAFFOLD_VERSION"], skaffold


def test_docker_is_the_engine_tilt_and_skaffold_expect(kind_cluster: Cluster) -> None:
    version = subprocess.run(
        ["docker", "version", "--format", "{{.Server.APIVersion}}"],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    ).stdout.strip()
    wrapper = (BIN / "tilt").read_text()
    assert "DOCKER_API_VERSION" in wrapper
    assert version >= pinned_versions()["DOCKER_API_VERSION"]
