"""Helpers of the kind smoke suite: pinned versions, subprocess calls, polling."""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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


def pinned_images() -> dict[str, str]:
    images: dict[str, str] = {}
    for line in (REPO / "hack" / "images" / "images.env").read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            key, _, value = line.partition("=")
            images[key] = value
    return images
