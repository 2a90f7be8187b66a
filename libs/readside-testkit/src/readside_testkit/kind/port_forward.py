"""The query API of a release in the kind cluster, through `kubectl port-forward`."""

from __future__ import annotations

import json
import re
import subprocess
import urllib.error
import urllib.request
from typing import Any

from readside_testkit.kind.release import NAMESPACE
from readside_testkit.kind.tools import CONTEXT, tool_env


class PortForward:
    """`kubectl port-forward` to the query Service on a free local port.

    A port-forward to a Service is pinned to one pod: when a rollout replaces that pod the
    forward breaks, so a failed request starts a new one for the next call."""

    def __init__(self, kubectl: str, namespace: str = NAMESPACE) -> None:
        self.kubectl = kubectl
        self.namespace = namespace
        self.last_error = ""
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

    def get(self, path: str, timeout: float = 5) -> tuple[int, Any]:
        try:
            with urllib.request.urlopen(self.base + path, timeout=timeout) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as error:
            return error.code, None
        except (OSError, ValueError) as error:
            self.last_error = repr(error)
            self.close()
            self._start()
            return 0, None

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)


def served_exactly(api: PortForward, expected: dict[str, Any]) -> bool:
    return all(
        api.get(f"/api/v1/orders/{order_id}") == (200, body) for order_id, body in expected.items()
    )
