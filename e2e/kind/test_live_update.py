"""Tilt's live update: an edit to the query service's source shows in the running pod with no
image rebuild, no new pod and no container restart.

Runs `tilt up` against the dev loop's deployment (the kubeconfig's namespace, as `make dev`),
so it runs only when asked: READSIDE_E2E_LIVE_UPDATE=1 (make e2e sets it).

/livez is read inside the pod Tilt tracks, by a fresh `kubectl exec` per attempt, never
through Tilt's localhost:8081 (that port may belong to another process: the local stack of
`make up` serves the very same body there) nor through a port-forward held across the edit:
live update restarts the server inside the container, and a `kubectl port-forward` opened
before that restart stops answering for good, while a new exec reaches the restarted server.
Exec'ing into the pod by name also proves which pod answered.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from readside_testkit.kind.tools import CONTEXT, REPO, run, tool_env, wait_for
from readside_testkit.ports import free_port

pytestmark = [pytest.mark.kind, pytest.mark.e2e, pytest.mark.slow]

PROBES = REPO / "services" / "query" / "src" / "readside_query" / "probes.py"
ORIGINAL_BODY = '_OK = json_encoder.encode({"status": "ok"})'
EDITED_BODY = '_OK = json_encoder.encode({"status": "ok", "live": "updated"})'


class Tilt:
    """`tilt up` on a free API port, its forwards on free ports, its output in a file."""

    def __init__(self, tilt: str, log: Path) -> None:
        self.bin = tilt
        self.port = free_port()
        self.log = log
        env = {
            **tool_env(),
            "READSIDE_TILT_QUERY_PORT": str(free_port()),
            "READSIDE_TILT_OPS_PORT": str(free_port()),
        }
        with log.open("w") as out:
            self.proc = subprocess.Popen(
                [tilt, "up", "--port", str(self.port), "--stream"],
                cwd=REPO,
                stdout=out,
                stderr=subprocess.STDOUT,
                env=env,
            )

    def get(self, kind: str, name: str) -> dict[str, Any]:
        done = run(
            [self.bin, "get", kind, name, "--port", str(self.port), "-o", "json"], check=False
        )
        return json.loads(done.stdout) if done.returncode == 0 else {}

    def query_status(self) -> dict[str, Any]:
        return dict(self.get("uiresource", "readside-query").get("status", {}))

    def query_image(self) -> str:
        return str(self.get("imagemap", "readside-query").get("status", {}).get("image", ""))

    def tail(self, lines: int = 60) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=60)


@pytest.fixture
def tilt_up(tilt: str, cluster: str, tmp_path: Path) -> Iterator[Tilt]:
    if os.environ.get("READSIDE_E2E_LIVE_UPDATE", "0") != "1":
        pytest.skip("runs tilt up against the cluster: set READSIDE_E2E_LIVE_UPDATE=1 (make e2e)")
    if ORIGINAL_BODY not in PROBES.read_text():
        pytest.skip("probes.py changed shape; update this test's edit")
    session = Tilt(tilt, tmp_path / "tilt.log")
    try:
        yield session
    finally:
        session.stop()


def pod(kubectl: str, name: str) -> dict[str, Any]:
    done = run([kubectl, "--context", CONTEXT, "get", "pod", name, "-o", "json"], check=False)
    return json.loads(done.stdout) if done.returncode == 0 else {}


# Run by the pod's own Python (the image's venv is first on its PATH).
READ_LIVEZ = (
    "import sys, urllib.request; "
    "sys.stdout.write(urllib.request.urlopen('http://127.0.0.1:8081/livez', timeout=3)"
    ".read().decode())"
)


def livez(kubectl: str, pod_name: str) -> bytes:
    """The pod's /livez body as read inside the pod; b"" while the server is restarting."""
    try:
        done = run(
            [kubectl, "--context", CONTEXT, "exec", pod_name, "--", "python", "-c", READ_LIVEZ],
            check=False,
            timeout=30,
        )
    except subprocess.TimeoutExpired:
        return b""
    return done.stdout.encode() if done.returncode == 0 else b""


def container(pod_json: dict[str, Any]) -> tuple[str, int]:
    status = pod_json["status"]["containerStatuses"][0]
    return status["imageID"], status["restartCount"]


def test_source_edit_reaches_the_running_pod_without_rebuild(tilt_up: Tilt, cluster: str) -> None:
    kubectl = cluster

    def up_to_date() -> str:
        status = tilt_up.query_status()
        ok = status.get("runtimeStatus") == "ok" and status.get("updateStatus") == "ok"
        return str(status.get("k8sResourceInfo", {}).get("podName", "")) if ok else ""

    def waiting(what: str, predicate: Any, timeout: float) -> Any:
        try:
            return wait_for(what, predicate, timeout=timeout, every=2)
        except AssertionError as error:
            raise AssertionError(f"{error}\n--- tilt up, last lines\n{tilt_up.tail()}") from None

    pod_name = waiting("tilt: readside-query up to date", up_to_date, 600)
    before = pod(kubectl, pod_name)
    image = tilt_up.query_image()
    original = PROBES.read_text()

    def body() -> bytes:
        return livez(kubectl, pod_name)

    waiting(f"{pod_name} /livez", lambda: b'"ok"' in body(), 120)
    try:
        PROBES.write_text(original.replace(ORIGINAL_BODY, EDITED_BODY))
        waiting("the edited /livez body", lambda: b"updated" in body(), 180)
        after = pod(kubectl, pod_name)
        assert after.get("metadata", {}).get("uid") == before["metadata"]["uid"], (
            "the pod was replaced"
        )
        assert container(after) == container(before), "the container or its image changed"
        assert tilt_up.query_image() == image, "Tilt built a new image"
        last = tilt_up.query_status()["buildHistory"][0]["spanID"]
        assert last.startswith("liveupdate:"), f"Tilt's last update was {last}"
    finally:
        PROBES.write_text(original)

    def original_again() -> bool:
        now = body()
        return b'"ok"' in now and b"updated" not in now

    waiting("the original /livez body", original_again, 180)
