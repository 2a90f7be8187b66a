"""A release with the operator enabled: ProjectionReplays, psql and phases."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from readside_testkit.kind.release import Release
from readside_testkit.kind.tools import CONTEXT, apply_crds, run, wait_for

PROJECTION = "orders"
# The shared kind node has 2 CPUs: other suites' releases hold most of the requests.
SMALL_REQUESTS = (
    "query.resources.requests.cpu=10m",
    "projection.resources.requests.cpu=10m",
    "operator.resources.requests.cpu=10m",
)
DEPLOYMENT = "readside-projection"


class Operated(Release):
    """A release with the operator enabled."""

    def leave(self) -> None:
        """Free the node for the suites after this one: the replays (while the operator can
        still remove their finalizers), then the namespace. READSIDE_KEEP_NAMESPACES=1 keeps
        it for a look after the run."""
        if os.environ.get("READSIDE_KEEP_NAMESPACES"):
            return
        self.kubectl("delete", "projectionreplays", "--all", "--timeout=120s", check=False)
        self.kubectl("delete", "namespace", self.namespace, "--wait=false", check=False)

    def fresh_install(self, *sets: str) -> None:
        """An empty namespace (so counts are exact), the dev dependencies, current CRDs,
        and the chart with the operator enabled."""
        # Replays first, while an operator can still remove their finalizers; those it did
        # not remove in time (no operator left, e.g. a run interrupted mid-replay) are cleared
        # by hand, or the namespace's deletion below would wait for them to its timeout.
        deleted = self.kubectl(
            "delete", "projectionreplays", "--all", "--timeout=120s", check=False, timeout=150
        )
        if deleted.returncode != 0:
            self.clear_replay_finalizers()
        run(
            [
                self.kubectl_bin,
                "--context",
                CONTEXT,
                "delete",
                "namespace",
                self.namespace,
                "--timeout=300s",
            ],
            check=False,
            timeout=320,
        )
        self.deploy_dependencies()
        # helm installs crds/ only when absent and never upgrades them: bring them up to date.
        apply_crds([self.kubectl_bin, "--context", CONTEXT])
        self.install("operator.enabled=true", *sets)

    def psql(self, sql: str) -> str:
        script = f'psql -U "$POSTGRES_USER" -d "$POSTGRES_DB" -tAc "{sql}"'
        return self.kubectl("exec", "deploy/postgres", "--", "sh", "-c", script).stdout.strip()

    def replay(self, name: str, **spec: Any) -> None:
        body = {
            "apiVersion": "readside.io/v1alpha1",
            "kind": "ProjectionReplay",
            "metadata": {"name": name},
            "spec": {"projection": PROJECTION, **spec},
        }
        self.kubectl("apply", "-f", "-", input_text=json.dumps(body))

    def get(self, kind: str, name: str) -> dict[str, Any]:
        return json.loads(self.kubectl("get", kind, name, "-o", "json").stdout)  # type: ignore[no-any-return]

    def status(self, name: str) -> dict[str, Any]:
        found = self.kubectl("get", "projectionreplay", name, "-o", "json", check=False)
        return (json.loads(found.stdout).get("status") or {}) if found.returncode == 0 else {}

    def wait_phase(self, name: str, *phases: str, timeout: float = 300) -> dict[str, Any]:
        wait_for(
            f"replay {name} in {phases}",
            lambda: self.status(name).get("phase") in phases,
            timeout=timeout,
            every=1,
        )
        return self.status(name)

    def replicas(self) -> int:
        return int(self.get("deployment", DEPLOYMENT)["spec"].get("replicas", 0))

    def annotations(self) -> dict[str, str]:
        return self.get("projection", PROJECTION)["metadata"].get("annotations") or {}

    def events_of(self, name: str) -> str:
        return self.kubectl(
            "get", "events", "--field-selector", f"involvedObject.name={name}", "-o", "json"
        ).stdout

    def publish_file(self, path: Path) -> None:
        publisher = self.publish(path)
        out, _ = publisher.communicate(timeout=180)
        assert publisher.returncode == 0, out
