"""A Readside Helm release in the kind cluster, for the e2e suites and the replay benchmark.

`Release` installs the chart beside the dev dependencies of deploy/dev in one namespace,
publishes from a one-off pod and reads pod identities. `port_forward.PortForward` reaches the
query API; `operated.Operated` adds what the operator suites need (replays, psql, phases).
"""

from __future__ import annotations

import json
import os
import subprocess
from collections import Counter
from pathlib import Path
from typing import Any

from readside_testkit.kind.tools import CHART, CONTEXT, run, tool, tool_env, wait_for
from readside_testkit.stack import REPO

NAMESPACE = os.environ.get("READSIDE_E2E_NAMESPACE", "readside-e2e")
# The app images' tag (`make images-app kind-load-app APP_TAG=...`; dev by default).
APP_TAG = os.environ.get("APP_TAG", "dev")
SAMPLE = REPO / "e2e" / "fixtures" / "sample.events.jsonl"
EXPECTED = json.loads((REPO / "e2e" / "fixtures" / "sample.expected.json").read_text())


def generate_orders(out: Path, orders: int, seed: int | str) -> Counter[str]:
    """`readside-events generate` of `orders` orders into `out` (JSON lines); each order id's
    number of events, which is the version it is served at once all are folded."""
    generator = REPO / ".venv" / "bin" / "readside-events"
    run(
        [
            str(generator),
            "generate",
            "--orders",
            str(orders),
            "--seed",
            str(seed),
            "--out",
            str(out),
        ]
    )
    lines = [line for line in out.read_text().splitlines() if line.strip()]
    return Counter(json.loads(line)["value"]["aggregate_id"] for line in lines)


class Release:
    """The release `readside` in one namespace, with the dev dependencies beside it."""

    def __init__(self, kubectl: str, helm: str, namespace: str = NAMESPACE) -> None:
        self.kubectl_bin = kubectl
        self.helm_bin = helm
        self.namespace = namespace

    def kubectl(self, *args: str, **kwargs: Any) -> subprocess.CompletedProcess[str]:
        return run([self.kubectl_bin, "--context", CONTEXT, "-n", self.namespace, *args], **kwargs)

    def helm(self, *args: str, **kwargs: Any) -> subprocess.CompletedProcess[str]:
        return run(
            [self.helm_bin, "--kube-context", CONTEXT, "-n", self.namespace, *args], **kwargs
        )

    def _namespace_not_terminating(self) -> bool:
        """True unless the namespace is being deleted; meanwhile, clear the finalizers of
        replays left in it (only an operator removes them, and it may be gone already)."""
        jsonpath = "jsonpath={.status.phase}"
        get = [self.kubectl_bin, "--context", CONTEXT, "get", "namespace", self.namespace]
        phase = run([*get, "-o", jsonpath], check=False)
        if phase.returncode != 0 or phase.stdout.strip() != "Terminating":
            return True
        self.clear_replay_finalizers()
        return False

    def clear_replay_finalizers(self) -> None:
        """Let the replays left in the namespace go without an operator to finish them."""
        left = self.kubectl("get", "projectionreplays", "-o", "name", check=False)
        for name in left.stdout.split():
            clear = '{"metadata":{"finalizers":null}}'
            self.kubectl("patch", name, "--type=merge", "-p", clear, check=False)

    def deploy_dependencies(self) -> None:
        """PostgreSQL, Redis and Kafka of deploy/dev in the namespace, rolled out."""
        # A run just before this one deletes its namespace without waiting: nothing can be
        # created in it until that deletion has finished.
        wait_for(
            f"namespace {self.namespace} to finish terminating",
            self._namespace_not_terminating,
            timeout=600,
            every=2.0,
        )
        run(
            [self.kubectl_bin, "--context", CONTEXT, "create", "namespace", self.namespace],
            check=False,
        )
        self.kubectl("apply", "-f", "-", input_text=self.dependency_manifests())
        for dependency in ("postgres", "redis", "kafka"):
            self.kubectl(
                "rollout", "status", f"deployment/{dependency}", "--timeout=300s", timeout=320
            )

    def dependency_manifests(self) -> str:
        """The manifests of the dev dependencies: the kustomize build of deploy/dev."""
        kustomize = tool("kustomize")
        build = [kustomize, "build"] if kustomize else [self.kubectl_bin, "kustomize"]
        return run([*build, str(REPO / "deploy" / "dev")]).stdout

    def install(self, *sets: str) -> None:
        args = [
            "upgrade",
            "--install",
            "readside",
            str(CHART),
            "-f",
            str(CHART / "values-kind.yaml"),
            "--set",
            f"image.tag={APP_TAG}",
            "--wait",
            "--timeout",
            "10m",
        ]
        for item in sets:
            args += ["--set", item]
        self.helm(*args, timeout=900)

    def run_args(
        self,
        name: str,
        deployment: str,
        command: list[str],
        *,
        env: dict[str, str] | None = None,
        inherit_env: bool = True,
        stdin: bool = False,
    ) -> list[str]:
        """`kubectl run` arguments for a one-off pod of a release Deployment's image running
        `command`, with that Deployment's environment (ConfigMap and Secret references
        included, and the volumes, mounts and pod security context that give its files, such
        as mounted credentials) unless `inherit_env` is false, plus `env`."""
        found = self.kubectl("get", "deployment", deployment, "-o", "json").stdout
        pod = json.loads(found)["spec"]["template"]["spec"]
        source = pod["containers"][0]
        container: dict[str, Any] = {
            "name": name,
            "image": source["image"],
            "command": command,
            "env": (source.get("env", []) if inherit_env else [])
            + [{"name": k, "value": v} for k, v in (env or {}).items()],
        }
        spec: dict[str, Any] = {"containers": [container]}
        if inherit_env:
            container["envFrom"] = source.get("envFrom", [])
            container["volumeMounts"] = source.get("volumeMounts", [])
            spec.update({k: pod[k] for k in ("volumes", "securityContext") if k in pod})
        if stdin:
            container.update(stdin=True, stdinOnce=True)
        overrides = {"spec": spec}
        return [
            "run",
            name,
            "--restart=Never",
            f"--image={source['image']}",
            f"--overrides={json.dumps(overrides)}",
        ]

    def publish(self, path: Path, rate: float = 0) -> subprocess.Popen[str]:
        """Publish a .jsonl file into the in-cluster Kafka with `readside-events`, from a
        one-off pod of the projection image with the projection's brokers and topic: not from
        a release pod, which an upgrade would replace in the middle of the stream."""
        name = f"readside-publisher-{os.urandom(3).hex()}"
        command = ["readside-events", "publish", "/dev/stdin", "--rate", str(rate)]
        run_args = self.run_args(name, "readside-projection", command, stdin=True)
        return subprocess.Popen(
            [
                self.kubectl_bin,
                "--context",
                CONTEXT,
                "-n",
                self.namespace,
                *run_args,
                "-i",
                "--rm",
                "--quiet",
            ],
            stdin=path.open(),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=tool_env(),
        )

    def pod_uids(self, component: str) -> set[str]:
        pods = json.loads(
            self.kubectl(
                "get", "pods", "-l", f"app.kubernetes.io/component={component}", "-o", "json"
            ).stdout
        )
        return {
            p["metadata"]["uid"]
            for p in pods["items"]
            if p["metadata"].get("deletionTimestamp") is None
        }
