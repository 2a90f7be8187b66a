"""Tilt's live update: an edit to the query service's source shows in the running pod
without an image rebuild or a new pod. Uses the dev loop's deployment (default namespace),
so it runs only when asked: READSIDE_E2E_LIVE_UPDATE=1 (make e2e sets it)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import urllib.request
from collections.abc import Iterator

import pytest

from .tools import CONTEXT, REPO, run, tool_env, wait_for

pytestmark = [pytest.mark.kind, pytest.mark.e2e, pytest.mark.slow]

PROBES = REPO / "services" / "query" / "src" / "readside_query" / "probes.py"
ORIGINAL_BODY = '_OK = json_encoder.encode({"status": "ok"})'
EDITED_BODY = '_OK = json_encoder.encode({"status": "ok", "live": "updated"})'


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def tilt_up(tilt: str, cluster: str) -> Iterator[int]:
    if os.environ.get("READSIDE_E2E_LIVE_UPDATE", "0") != "1":
        pytest.skip("runs tilt up against the cluster: set READSIDE_E2E_LIVE_UPDATE=1 (make e2e)")
    if ORIGINAL_BODY not in PROBES.read_text():
        pytest.skip("probes.py changed shape; update this test's edit")
    port = free_port()
    proc = subprocess.Popen(
        [tilt, "up", "--port", str(port), "--stream"],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=tool_env(),
    )
    try:
        yield port
    finally:
        proc.terminate()
        proc.wait(timeout=60)


def query_pod(kubectl: str) -> dict:
    pods = json.loads(
        run(
            [
                kubectl,
                "--context",
                CONTEXT,
                "get",
                "pods",
                "-l",
                "app.kubernetes.io/component=query",
                "-o",
                "json",
            ]
        ).stdout
    )["items"]
    running = [
        p
        for p in pods
        if p["status"].get("phase") == "Running" and not p["metadata"].get("deletionTimestamp")
    ]
    return running[0] if len(running) == 1 else {}


def livez() -> bytes:
    try:
        with urllib.request.urlopen("http://127.0.0.1:8081/livez", timeout=3) as response:
            return bytes(response.read())
    except OSError:
        return b""


def test_source_edit_reaches_the_running_pod_without_rebuild(
    tilt_up: int, tilt: str, cluster: str
) -> None:
    kubectl = cluster

    def ready() -> bool:
        done = run(
            [tilt, "get", "uiresource", "readside-query", "--port", str(tilt_up), "-o", "json"],
            check=False,
        )
        if done.returncode != 0:
            return False
        status = json.loads(done.stdout)["status"]
        return status.get("runtimeStatus") == "ok" and status.get("updateStatus") == "ok"

    wait_for("tilt: readside-query up to date", ready, timeout=600, every=3)
    wait_for("localhost:8081/livez", lambda: b'"ok"' in livez(), timeout=120)
    before = query_pod(kubectl)
    assert before, "expected exactly one running query pod"
    original = PROBES.read_text()
    try:
        PROBES.write_text(original.replace(ORIGINAL_BODY, EDITED_BODY))
        wait_for("the edited /livez body", lambda: b"updated" in livez(), timeout=180, every=2)
        after = query_pod(kubectl)
        assert after["metadata"]["uid"] == before["metadata"]["uid"], "a new pod was created"
        image = lambda pod: pod["status"]["containerStatuses"][0]["imageID"]  # noqa: E731
        assert image(after) == image(before), "the image was rebuilt"
        restarts = lambda pod: pod["status"]["containerStatuses"][0]["restartCount"]  # noqa: E731
        assert restarts(after) == restarts(before), "the container restarted"
    finally:
        PROBES.write_text(original)
    wait_for(
        "the original /livez body",
        lambda: b"updated" not in livez() and livez(),
        timeout=180,
        every=2,
    )
