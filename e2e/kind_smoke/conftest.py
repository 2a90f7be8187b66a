"""Fixtures for the kind smoke suite: the pinned toolchain, the cluster, a namespace.

The suite runs whenever the cached toolchain and node image are present
(hack/toolchain/present.sh); it then brings the "readside" kind cluster up (idempotent,
hack/kind/up.sh) unless READSIDE_KIND_AUTO_UP=0. Otherwise every test is skipped with
the reason. Only the project's own cluster and containers are touched.
"""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Iterator

import pytest

from readside_testkit.kind.tools import (
    BIN,
    CLUSTER,
    KUBECONFIG,
    REPO,
    Cluster,
    pinned_images,
    run,
    wait_for,
)


@pytest.fixture(scope="session")
def kind_cluster() -> Cluster:
    present = subprocess.run(
        ["bash", str(REPO / "hack" / "toolchain" / "present.sh")],
        capture_output=True,
        text=True,
        check=False,
    )
    if present.returncode != 0:
        pytest.skip(
            "kind smoke suite skipped: cached toolchain/node image not present "
            f"({present.stderr.strip()}); run `make kind-up` to build them"
        )
    # Links this clone's .local/toolchain/bin to the machine cache (seconds when cached).
    run(["bash", str(REPO / "hack" / "toolchain" / "build.sh")], timeout=600)
    if os.environ.get("READSIDE_KIND_AUTO_UP", "1") != "0":
        run(["bash", str(REPO / "hack" / "kind" / "up.sh")], timeout=1200)
    elif not KUBECONFIG.exists():
        pytest.skip("kind smoke suite skipped: READSIDE_KIND_AUTO_UP=0 and no cluster is up")
    cluster = Cluster(CLUSTER)
    cluster.kubectl("get", "--raw", "/readyz", timeout=30)
    return cluster


@pytest.fixture(scope="session")
def namespace(kind_cluster: Cluster) -> Iterator[str]:
    name = f"readside-smoke-{uuid.uuid4().hex[:6]}"
    kind_cluster.kubectl("create", "namespace", name)
    wait_for(
        "the default service account",
        lambda: (
            kind_cluster.kubectl("-n", name, "get", "sa", "default", check=False).returncode == 0
        ),
        timeout=60,
    )
    yield name
    kind_cluster.kubectl("delete", "namespace", name, "--wait=false", check=False)


@pytest.fixture(scope="session")
def smoke_image(kind_cluster: Cluster) -> str:
    """A locally built image (on the project's Python base), loaded with kind load."""
    run(["bash", str(REPO / "hack" / "images" / "build.sh"), "python"], timeout=900)
    base = pinned_images()["PYTHON_BASE_IMAGE"]
    context = REPO / "e2e" / "kind_smoke" / "image"
    tag = f"readside-smoke/echo:{uuid.uuid4().hex[:8]}"
    run(
        ["docker", "build", "-q", "--build-arg", f"BASE_IMAGE={base}", "-t", tag, str(context)],
        timeout=300,
    )
    run([str(BIN / "kind"), "load", "docker-image", "--name", CLUSTER, tag], timeout=300)
    return tag
