"""Readside as a real Helm release in the kind cluster, end to end.

The release `readside` goes into its own namespace (READSIDE_E2E_NAMESPACE, default
readside-e2e) beside the dev dependencies of deploy/dev; it is left installed so that
`make e2e` can run `helm test` on it afterwards (`make e2e-clean` removes it). Needs the
app images in the cluster: `make images-app kind-load-app` (make e2e does it).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .tools import CHART, CLUSTER, CONTEXT, REPO, run, tool, tool_env, wait_for

pytestmark = [pytest.mark.kind, pytest.mark.e2e, pytest.mark.slow]

NAMESPACE = os.environ.get("READSIDE_E2E_NAMESPACE", "readside-e2e")
SAMPLE = REPO / "e2e" / "fixtures" / "sample.events.jsonl"
EXPECTED = json.loads((REPO / "e2e" / "fixtures" / "sample.expected.json").read_text())


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

    def deploy_dependencies(self) -> None:
        """PostgreSQL, Redis and Kafka of deploy/dev in the namespace, rolled out."""
        run(
            [self.kubectl_bin, "--context", CONTEXT, "create", "namespace", self.namespace],
            check=False,
        )
        kustomize = tool("kustomize")
        build = [kustomize, "build"] if kustomize else [self.kubectl_bin, "kustomize"]
        manifests = run([*build, str(REPO / "deploy" / "dev")]).stdout
        self.kubectl("apply", "-f", "-", input_text=manifests)
        for dependency in ("postgres", "redis", "kafka"):
            self.kubectl(
                "rollout", "status", f"deployment/{dependency}", "--timeout=300s", timeout=320
            )

    def install(self, *sets: str) -> None:
        args = [
            "upgrade",
            "--install",
            "readside",
            str(CHART),
            "-f",
            str(CHART / "values-kind.yaml"),
            "--set",
            "image.tag=dev",
            "--wait",
            "--timeout",
            "10m",
        ]
        for item in sets:
            args += ["--set", item]
        self.helm(*args, timeout=900)

    def publish(self, path: Path, rate: float = 0) -> subprocess.Popen[str]:
        """Publish a .jsonl file into the in-cluster Kafka with `readside-events`, from a
        one-off pod of the projection image with the projection's brokers and topic: not from
        a release pod, which an upgrade would replace in the middle of the stream."""
        deployment = json.loads(
            self.kubectl("get", "deploy/readside-projection", "-o", "json").stdout
        )
        container = deployment["spec"]["template"]["spec"]["containers"][0]
        name = f"readside-publisher-{os.urandom(3).hex()}"
        # The projection's own environment (ConfigMap and Secret references included).
        overrides = {
            "spec": {
                "containers": [
                    {
                        "name": name,
                        "image": container["image"],
                        "env": container.get("env", []),
                        "envFrom": container.get("envFrom", []),
                        "command": [
                            "readside-events",
                            "publish",
                            "/dev/stdin",
                            "--rate",
                            str(rate),
                        ],
                        "stdin": True,
                        "stdinOnce": True,
                    }
                ]
            }
        }
        return subprocess.Popen(
            [
                self.kubectl_bin,
                "--context",
                CONTEXT,
                "-n",
                self.namespace,
                "run",
                name,
                "-i",
                "--rm",
                "--quiet",
                "--restart=Never",
                f"--image={container['image']}",
                f"--overrides={json.dumps(overrides)}",
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


class PortForward:
    """`kubectl port-forward` to the query Service on a free local port.

    A port-forward to a Service is pinned to one pod: when a rollout replaces that pod the
    forward breaks, so a failed request starts a new one for the next call."""

    def __init__(self, kubectl: str, namespace: str = NAMESPACE) -> None:
        self.kubectl = kubectl
        self.namespace = namespace
        self._start()

    def _start(self) -> None:
        self.proc = subprocess.Popen(
            [
                self.kubectl,
                "--context",
                CONTEXT,
                "-n",
                self.namespace,
                "port-forward",
                "service/readside-query",
                ":8081",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=tool_env(),
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        found = re.search(r"127\.0\.0\.1:(\d+)", line)
        assert found, f"port-forward said: {line}"
        self.base = f"http://127.0.0.1:{found.group(1)}"

    def get(self, path: str) -> tuple[int, Any]:
        try:
            with urllib.request.urlopen(self.base + path, timeout=5) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as error:
            return error.code, None
        except (OSError, ValueError):
            self.close()
            self._start()
            return 0, None

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)


@pytest.fixture(scope="module")
def release(cluster: str, helm: str) -> Release:
    kubectl = cluster
    node = f"{CLUSTER}-control-plane"
    images = run(["docker", "exec", node, "crictl", "images", "-o", "json"], check=False)
    for image in ("readside-query:dev", "readside-projection:dev"):
        if image not in images.stdout:
            pytest.skip(f"{image} is not loaded into kind; run `make images-app kind-load-app`")
    rel = Release(kubectl, helm)
    rel.deploy_dependencies()
    rel.install()
    return rel


@pytest.fixture
def api(release: Release) -> Iterator[PortForward]:
    forward = PortForward(release.kubectl_bin)
    yield forward
    forward.close()


def served_exactly(api: PortForward, expected: dict[str, Any]) -> bool:
    return all(
        api.get(f"/api/v1/orders/{order_id}") == (200, body) for order_id, body in expected.items()
    )


def test_sample_events_published_in_cluster_are_served_as_expected(
    release: Release, api: PortForward
) -> None:
    publisher = release.publish(SAMPLE)
    out, _ = publisher.communicate(timeout=120)
    assert publisher.returncode == 0, out
    wait_for(
        "every sample order served as sample.expected.json says",
        lambda: served_exactly(api, EXPECTED),
        timeout=180,
        every=2,
    )


def test_helm_test_passes(release: Release) -> None:
    done = release.helm("test", "readside", "--logs", "--timeout", "5m", timeout=360)
    assert "Phase:          Succeeded" in done.stdout or "Succeeded" in done.stdout


def test_upgrade_changing_a_value_rolls_pods_without_losing_an_event(
    release: Release, api: PortForward, tmp_path: Path
) -> None:
    events = tmp_path / "upgrade.events.jsonl"
    generator = REPO / ".venv" / "bin" / "readside-events"
    run([str(generator), "generate", "--orders", "120", "--seed", "20241124", "--out", str(events)])
    per_order = Counter(
        json.loads(line)["value"]["aggregate_id"]
        for line in events.read_text().splitlines()
        if line.strip()
    )
    before = {c: release.pod_uids(c) for c in ("query", "projection")}
    level = json.loads(release.helm("get", "values", "readside", "-o", "json").stdout).get(
        "logLevel", "INFO"
    )
    publisher = release.publish(events, rate=25)  # still publishing while pods roll
    release.install(f"logLevel={'DEBUG' if level != 'DEBUG' else 'INFO'}")
    out, _ = publisher.communicate(timeout=300)
    assert publisher.returncode == 0, out
    for component, uids in before.items():
        assert not release.pod_uids(component) & uids, f"{component} pods did not roll"

    def all_applied() -> bool:
        for order_id, count in per_order.items():
            status, body = api.get(f"/api/v1/orders/{order_id}")
            if status != 200 or body["version"] != count:
                return False
        return True

    wait_for(
        f"all {len(per_order)} orders applied with every event", all_applied, timeout=240, every=3
    )
