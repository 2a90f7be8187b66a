"""`helm upgrade` from the previous chart version brings the CRDs along (kind cluster).

Helm never upgrades crds/; chart 0.2.0 applies them in a pre-upgrade hook. 0.1.0 and 0.2.0
happen to ship the same CRD schemas, so the stale CRD an old release leaves is made by hand:
the field a newer operator writes (ProjectionReplay status.readModel) is removed first.
Needs the three app images in kind (`make images-app kind-load-app`).
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from readside_testkit.kind.operated import SMALL_REQUESTS
from readside_testkit.kind.release import Release
from readside_testkit.kind.tools import CHART, CONTEXT, REPO, apply_crds, run

pytestmark = [pytest.mark.kind, pytest.mark.e2e, pytest.mark.slow]

PREVIOUS = "0.1.0"
NAMESPACE = os.environ.get("READSIDE_UPGRADE_E2E_NAMESPACE", "readside-upgrade-e2e")
CRD = "projectionreplays.readside.io"
READ_MODEL_PATH = "/spec/versions/0/schema/openAPIV3Schema/properties/status/properties/readModel"
SMALL = ["operator.enabled=true", "image.tag=dev", *SMALL_REQUESTS]


def previous_chart(into: Path) -> Path:
    """The chart as it was at version PREVIOUS, from this clone's history."""
    chart_yaml = "deploy/helm/readside/Chart.yaml"
    revisions = run(["git", "rev-list", "HEAD", "--", chart_yaml]).stdout.split()
    for revision in revisions:
        shown = run(["git", "show", f"{revision}:{chart_yaml}"]).stdout
        if str(yaml.safe_load(shown)["version"]) == PREVIOUS:
            archive = subprocess.run(
                ["git", "archive", revision, "deploy/helm/readside"],
                cwd=REPO,
                capture_output=True,
                check=True,
            ).stdout
            with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
                tar.extractall(into, filter="data")
            return into / "deploy" / "helm" / "readside"
    pytest.skip(f"chart {PREVIOUS} is not in this clone's history (a shallow clone?)")


def status_fields(release: Release) -> set[str]:
    crd = json.loads(release.kubectl("get", "crd", CRD, "-o", "json").stdout)
    schema = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    return set(schema["properties"]["status"]["properties"])


@pytest.fixture
def release(cluster: str, helm: str, app_images_in_kind: None) -> Iterator[Release]:
    rel = Release(cluster, helm, NAMESPACE)
    rel.deploy_dependencies()
    yield rel
    # Whatever happened, leave current CRDs and no release behind.
    apply_crds([cluster, "--context", CONTEXT], check=False)
    rel.helm("uninstall", "readside", "--wait", "--timeout", "5m", check=False, timeout=330)
    rel.kubectl("delete", "namespace", NAMESPACE, "--wait=false", check=False)


def test_an_upgrade_from_the_previous_chart_brings_the_crds_along(
    release: Release, tmp_path: Path
) -> None:
    old = previous_chart(tmp_path)
    sets = [arg for item in SMALL for arg in ("--set", item)]
    install = ["upgrade", "--install", "readside", "--wait", "--timeout", "10m", *sets]
    # The dependencies are today's deploy/dev, whose credentials changed after 0.1.0: the old
    # chart gets today's database URL, or its migration hook cannot log in.
    database_url = yaml.safe_load((CHART / "values-kind.yaml").read_text())["database"]["url"]
    release.helm(
        *install,
        str(old),
        "-f",
        str(old / "values-kind.yaml"),
        "--set",
        f"database.url={database_url}",
        timeout=900,
    )
    remove = json.dumps([{"op": "remove", "path": READ_MODEL_PATH}])
    release.kubectl("patch", "crd", CRD, "--type=json", "-p", remove)
    assert "readModel" not in status_fields(release)

    release.helm(*install, str(CHART), "-f", str(CHART / "values-kind.yaml"), timeout=900)

    assert "readModel" in status_fields(release)
    history = json.loads(release.helm("history", "readside", "-o", "json").stdout)
    current = yaml.safe_load((CHART / "Chart.yaml").read_text())["version"]
    assert [h["chart"] for h in history] == [f"readside-{PREVIOUS}", f"readside-{current}"]
    assert history[-1]["status"] == "deployed"
    # The hook cleans up after itself once it has succeeded.
    leftovers = release.kubectl("get", "job,configmap,serviceaccount", "-o", "name").stdout
    assert "readside-crds" not in leftovers
