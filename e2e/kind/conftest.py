"""Fixtures of the kind deploy suite. Each fixture skips with the reason when what it needs
(a pinned tool, the kind cluster, the app images) is absent, so `pytest -m kind` reports
exactly what ran. The cluster is never created here: `make kind-up` (or `make e2e`) does.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from readside_testkit.kind.apiserver import can_start_local, kind_args, local_api_server
from readside_testkit.kind.port_forward import PortForward
from readside_testkit.kind.release import Release
from readside_testkit.kind.tools import CLUSTER, KUBECONFIG, apply_crds, cluster_up, run, tool


def _require(name: str, how: str) -> str:
    found = tool(name)
    if found is None:
        pytest.skip(f"{name} not found in .local/toolchain/bin or on PATH ({how})")
    return found


@pytest.fixture(scope="session")
def helm() -> str:
    return _require("helm", "build it with `make toolchain`")


@pytest.fixture(scope="session")
def kubectl() -> str:
    return _require("kubectl", "build it with `make toolchain`")


@pytest.fixture(scope="session")
def kustomize() -> list[str]:
    """The kustomize binary, else kubectl's built-in `kubectl kustomize`."""
    found = tool("kustomize")
    if found:
        return [found, "build"]
    kubectl = tool("kubectl")
    if kubectl:
        return [kubectl, "kustomize"]
    pytest.skip("neither kustomize nor kubectl found (build them with `make toolchain`)")


@pytest.fixture(scope="session")
def tilt() -> str:
    return _require("tilt", "build it with `make toolchain`")


@pytest.fixture(scope="session")
def skaffold() -> str:
    return _require("skaffold", "build it with `make toolchain`")


@pytest.fixture(scope="session")
def cluster(kubectl: str) -> str:
    """The kind cluster's kubectl context; skips when it is not up."""
    if not cluster_up():
        pytest.skip(
            f"the kind cluster is not up (no answer through {KUBECONFIG}); run `make kind-up`"
        )
    return kubectl


@pytest.fixture(scope="session")
def app_images_in_docker() -> None:
    for image in ("readside-query:dev", "readside-projection:dev"):
        if run(["docker", "image", "inspect", image], check=False, timeout=30).returncode != 0:
            pytest.skip(f"{image} is not built; run `make images-app kind-load-app`")


@pytest.fixture(scope="session")
def app_images_in_kind(cluster: str) -> None:
    """The three app images are loaded into the kind node (else skip, naming the command)."""
    node = f"{CLUSTER}-control-plane"
    images = run(["docker", "exec", node, "crictl", "images", "-o", "json"], check=False)
    for image in ("readside-query:dev", "readside-projection:dev", "readside-operator:dev"):
        if image not in images.stdout:
            pytest.skip(f"{image} is not loaded into kind; run `make images-app kind-load-app`")


@pytest.fixture(scope="session")
def api_server(kubectl: str) -> Iterator[list[str]]:
    """kubectl arguments that reach a real API server: the kind cluster when it is up, else
    a local etcd + kube-apiserver from the toolchain (for server-side dry-runs)."""
    if cluster_up():
        yield [kubectl, *kind_args()]
        return
    why_not = can_start_local()
    if why_not:
        pytest.skip(f"no kind cluster and no local API server: {why_not}")
    with local_api_server() as kubeconfig:
        yield [kubectl, "--kubeconfig", str(kubeconfig)]


@pytest.fixture(scope="session")
def private_api_server(kubectl: str) -> Iterator[list[str]]:
    """kubectl arguments for a local etcd + kube-apiserver of this session's own, even when the
    kind cluster is up: for tests that change cluster-wide objects (CRDs), which the shared
    cluster's other users rely on (their version of the CRDs, their custom resources)."""
    why_not = can_start_local()
    if why_not:
        pytest.skip(f"no local API server: {why_not}")
    with local_api_server() as kubeconfig:
        yield [kubectl, "--kubeconfig", str(kubeconfig)]


@pytest.fixture(scope="module")
def crd_api_server(kubectl: str) -> Iterator[Path]:
    """A local etcd + kube-apiserver of the test module's own with the chart's CRDs applied
    (the operator suites run the operator against it): its admin kubeconfig."""
    why_not = can_start_local()
    if why_not:
        pytest.skip(f"no local API server: {why_not}")
    with local_api_server() as kubeconfig:
        apply_crds([kubectl, "--kubeconfig", str(kubeconfig)], established=True)
        yield kubeconfig


@pytest.fixture
def api(release: Release) -> Iterator[PortForward]:
    """The query API of the module's `release`, through a port-forward."""
    forward = PortForward(release.kubectl_bin, release.namespace)
    yield forward
    forward.close()
