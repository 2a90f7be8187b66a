"""The release suite of test_release.py, against the release that `skaffold run -p kind`
deployed (`make e2e-skaffold`) instead of one the suite installs: the sample events published
in-cluster are served exactly, `helm test` passes, and an upgrade changing a value rolls every
pod without losing an event (with `--reuse-values`, so skaffold's images and values stay).

Runs only when asked: READSIDE_E2E_SKAFFOLD=1, with READSIDE_E2E_NAMESPACE naming the
namespace skaffold deployed into (make e2e-skaffold sets both).
"""

from __future__ import annotations

import os
from typing import Any

import pytest

from readside_testkit.kind.tools import CHART

from . import test_release as suite
from .test_release import (  # noqa: F401  (the same tests, collected here too)
    test_helm_test_passes,
    test_sample_events_published_in_cluster_are_served_as_expected,
    test_upgrade_changing_a_value_rolls_pods_without_losing_an_event,
)

pytestmark = [pytest.mark.kind, pytest.mark.e2e, pytest.mark.slow]


class SkaffoldRelease(suite.Release):
    """The release skaffold installed; an upgrade keeps its values and only adds `sets`."""

    def install(self, *sets: str) -> None:
        args = ["upgrade", "readside", str(CHART), "--reuse-values", "--wait", "--timeout", "10m"]
        for item in sets:
            args += ["--set", item]
        self.helm(*args, timeout=900)


@pytest.fixture(scope="module")
def release(cluster: str, helm: str) -> Any:
    if os.environ.get("READSIDE_E2E_SKAFFOLD", "0") != "1":
        pytest.skip("checks the release of `skaffold run -p kind`: run make e2e-skaffold")
    found = SkaffoldRelease(cluster, helm)
    if found.helm("status", "readside", check=False).returncode != 0:
        namespace = os.environ.get("READSIDE_E2E_NAMESPACE", "readside-e2e")
        pytest.skip(f"no release `readside` in {namespace}; run make e2e-skaffold")
    return found
