"""Helpers of the kind deploy suite: the pinned tools, subprocess calls, polling, rendering.

Tools come from .local/toolchain/bin (hack/toolchain) first, then PATH. The cluster is the
project's kind cluster "readside" (hack/kind/up.sh) through .local/kind/kubeconfig.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from readside_testkit.stack import REPO

BIN = REPO / ".local" / "toolchain" / "bin"
KUBECONFIG = REPO / ".local" / "kind" / "kubeconfig"
CLUSTER = os.environ.get("READSIDE_KIND_CLUSTER", "readside")
CONTEXT = f"kind-{CLUSTER}"
CHART = REPO / "deploy" / "helm" / "readside"
KUSTOMIZE_DIR = REPO / "deploy" / "kustomize"
VALUES = {
    "default": [],
    "kind": [CHART / "values-kind.yaml"],
    "production": [CHART / "values-production.yaml"],
}
WORKLOAD_KINDS = {"Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob", "Pod", "ReplicaSet"}


def tool(name: str) -> str | None:
    """The pinned binary, else one on PATH, else None."""
    pinned = BIN / name
    if pinned.is_file() and os.access(pinned, os.X_OK):
        return str(pinned)
    return shutil.which(name)


def tool_env() -> dict[str, str]:
    return {
        **os.environ,
        "PATH": f"{BIN}:{os.environ.get('PATH', '')}",
        "KUBECONFIG": str(KUBECONFIG),
        "DOCKER_API_VERSION": os.environ.get("DOCKER_API_VERSION", "1.41"),
    }


def run(
    args: list[str],
    *,
    timeout: float = 180,
    check: bool = True,
    input_text: str | None = None,
    cwd: Path = REPO,
) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        args,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        input=input_text,
        cwd=cwd,
        env=tool_env(),
    )
    if check and done.returncode != 0:
        raise AssertionError(
            f"{' '.join(args)} exited {done.returncode}\n--- stdout\n{done.stdout[-4000:]}"
            f"\n--- stderr\n{done.stderr[-4000:]}"
        )
    return done


def wait_for(
    what: str, predicate: Callable[[], Any], timeout: float = 120, every: float = 1.0
) -> Any:
    """Poll until predicate() is truthy (a failed command or a timed-out one counts as not
    yet); fail naming `what` and the last result at the deadline."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while True:
        try:
            last = predicate()
        except (AssertionError, subprocess.TimeoutExpired) as exc:
            last = exc
        else:
            if last:
                return last
        if time.monotonic() > deadline:
            raise AssertionError(
                f"timed out after {timeout:.0f}s waiting for {what}; last: {last!r}"
            )
        time.sleep(every)


def apply_crds(kubectl: list[str], *, established: bool = False, check: bool = True) -> None:
    """Apply the chart's current CRDs server-side, with `kubectl` (the binary and its
    connection arguments). --force-conflicts: Tilt's create and the operator's apply-crds own
    .spec.versions once the schema changes. With `established`, wait until both serve."""
    run(
        [*kubectl, "apply", "--server-side", "--force-conflicts", "-f", str(CHART / "crds")],
        check=check,
    )
    if established:
        run(
            [
                *kubectl,
                "wait",
                "--for=condition=Established",
                "--timeout=60s",
                "crd/projections.readside.io",
                "crd/projectionreplays.readside.io",
            ]
        )


def cluster_up() -> bool:
    kubectl = tool("kubectl")
    if kubectl is None or not KUBECONFIG.exists():
        return False
    probe = run(
        [kubectl, "--context", CONTEXT, "get", "--raw", "/readyz", "--request-timeout=10s"],
        check=False,
        timeout=20,
    )
    return probe.returncode == 0


def helm_template(
    helm: str, values: list[Path] | None = None, sets: list[str] | None = None, *extra: str
) -> subprocess.CompletedProcess[str]:
    args = [helm, "template", "readside", str(CHART), "--namespace", "readside", "--include-crds"]
    for path in values or []:
        args += ["-f", str(path)]
    for item in sets or []:
        args += ["--set", item]
    return run([*args, *extra], check=False)


def documents(text: str) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(text) if doc]


def pod_specs(docs: list[dict[str, Any]]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(kind/name, pod spec) of every workload in the manifests."""
    for doc in docs:
        kind = doc.get("kind")
        if kind not in WORKLOAD_KINDS:
            continue
        spec = doc.get("spec", {})
        if kind == "Pod":
            pod = spec
        elif kind == "CronJob":
            pod = spec["jobTemplate"]["spec"]["template"]["spec"]
        else:
            pod = spec["template"]["spec"]
        yield f"{kind}/{doc['metadata']['name']}", pod


def security_problems(
    docs: list[dict[str, Any]], *, allow_writable_root: bool = False
) -> list[str]:
    """Every breach of the container rules: non-root, read-only root filesystem, no privilege
    escalation, ALL capabilities dropped, seccomp RuntimeDefault (pod or container level)."""
    problems: list[str] = []
    for where, pod in pod_specs(docs):
        pod_context = pod.get("securityContext") or {}
        for container in [*pod.get("initContainers", []), *pod.get("containers", [])]:
            context = container.get("securityContext") or {}
            name = f"{where} container {container['name']}"
            non_root = context.get("runAsNonRoot", pod_context.get("runAsNonRoot"))
            if non_root is not True:
                problems.append(f"{name}: runAsNonRoot is not true")
            user = context.get("runAsUser", pod_context.get("runAsUser"))
            if user == 0:
                problems.append(f"{name}: runAsUser is 0")
            if context.get("readOnlyRootFilesystem") is not True and not allow_writable_root:
                problems.append(f"{name}: readOnlyRootFilesystem is not true")
            if context.get("allowPrivilegeEscalation") is not False:
                problems.append(f"{name}: allowPrivilegeEscalation is not false")
            if context.get("privileged"):
                problems.append(f"{name}: privileged")
            if "ALL" not in ((context.get("capabilities") or {}).get("drop") or []):
                problems.append(f"{name}: capabilities.drop lacks ALL")
            if (context.get("capabilities") or {}).get("add"):
                problems.append(f"{name}: adds capabilities")
            seccomp = (
                context.get("seccompProfile") or pod_context.get("seccompProfile") or {}
            ).get("type")
            if seccomp != "RuntimeDefault":
                problems.append(f"{name}: seccompProfile is {seccomp!r}, not RuntimeDefault")
            if context.get("readOnlyRootFilesystem") is True:
                mounts = {m["mountPath"] for m in container.get("volumeMounts", [])}
                if "/tmp" not in mounts:
                    problems.append(f"{name}: read-only root but no writable /tmp mount")
    return problems


def env_file(path: Path) -> dict[str, str]:
    """A KEY=value file (hack/toolchain/versions.env, hack/images/images.env) as a dict."""
    pairs: dict[str, str] = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            key, _, value = line.partition("=")
            pairs[key] = value
    return pairs


def pinned_versions() -> dict[str, str]:
    return env_file(REPO / "hack" / "toolchain" / "versions.env")


def pinned_images() -> dict[str, str]:
    return env_file(REPO / "hack" / "images" / "images.env")


@dataclass
class Cluster:
    """kubectl on the kind cluster `name` with the pinned binary."""

    name: str

    def kubectl(
        self, *args: str, timeout: float = 120, check: bool = True, stdin: str | None = None
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
