"""Fixtures for the kind smoke suite: the pinned toolchain, the cluster, a namespace.

The suite runs whenever the cached toolchain and node image are present
(hack/toolchain/present.sh); it then brings the "readside" kind cluster up (idempotent,
hack/kind/up.sh) unless READSIDE_KIND_AUTO_UP=0. Otherwise every test is skipped with
the reason. Only the project's own cluster and containers are touched.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
BIN = REPO / ".local" / "toolchain" / "bin"
KUBECONFIG = REPO / ".local" / "kind" / "kubeconfig"
CLUSTER = os.environ.get("READSIDE_KIND_CLUSTER", "readside")
CONTEXT = f"kind-{CLUSTER}"


def pinned_versions() -> dict[str, str]:
    """hack/toolchain/versions.env as a dict."""
    versions: dict[str, str] = {}
    for line in (REPO / "hack" / "toolchain" / "versions.env").read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            key, _, value = line.partition("=")
            versions[key] = value
    return versions


def run(
    args: list[str], *, timeout: float = 120, check: bool = True, input_text: str | None = None
) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        args,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        input=input_text,
        env={**os.environ, "KUBECONFIG": str(KUBECONFIG)},
    )
    if check and done.returncode != 0:
        raise AssertionError(
            f"{' '.join(args)} exited {done.returncode}\n--- stdout\n{done.stdout}"
            f"\n--- stderr\n{done.stderr}"
        )
    return done


def wait_for(what: str, probe: Callable[[], Any], timeout: float = 120, every: float = 1) -> Any:
    """Poll probe() until it returns something truthy; fail with the last result otherwise."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while True:
        try:
            last = probe()
        except (AssertionError, subprocess.TimeoutExpired) as exc:
            last = exc
        else:
            if last:
                return last
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}; last: {last!r}")
        time.sleep(every)


@dataclass
class Cluster:
    name: str

    def kubectl(self, *args: str, timeout: float = 120, check: bool = True, stdin: str | None = None
                ) -> subprocess.CompletedProcess[str]:
        return run(
            [str(BIN / "kubectl"), "--kubeconfig", str(KUBECONFIG), "--context", CONTEXT, *args],
            timeout=timeout,
            check=check,
            input_text=stdin,
        )

    def json(self, *args: str) -> Any:
        return json.loads(self.kubectl(*args, "-o", "json").stdout)

    def apply(self, manifest: str, namespace: str | None = None) -> None:
        ns = ["-n", namespace] if namespace else []
        self.kubectl(*ns, "apply", "-f", "-", stdin=manifest)


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
        lambda: kind_cluster.kubectl("-n", name, "get", "sa", "default", check=False).returncode
        == 0,
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


def pinned_images() -> dict[str, str]:
    images: dict[str, str] = {}
    for line in (REPO / "hack" / "images" / "images.env").read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            key, _, value = line.partition("=")
            images[key] = value
    return images
