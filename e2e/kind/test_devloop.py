"""Tilt and skaffold configurations evaluate (no cluster needed for these)."""

from __future__ import annotations

import json

import pytest

from readside_testkit.kind.tools import REPO, run

pytestmark = pytest.mark.kind


def test_tiltfile_evaluates_with_every_resource(tilt: str, helm: str) -> None:
    done = run(
        [tilt, "alpha", "tiltfile-result", "-f", str(REPO / "Tiltfile")], check=False, timeout=300
    )
    assert done.returncode == 0, done.stderr[-4000:]
    result = json.dumps(json.loads(done.stdout))
    for name in (
        "readside-query",
        "readside-projection",
        "readside-migrate",
        "postgres",
        "redis",
        "kafka",
        "publish-sample-events",
    ):
        assert f'"{name}"' in result, f"{name} is not a Tilt resource"


def test_skaffold_config_is_valid(skaffold: str) -> None:
    run([skaffold, "diagnose", "--yaml-only", "-p", "kind"], timeout=120)
    run([skaffold, "diagnose"], timeout=120)


def test_skaffold_renders_the_kind_profile(skaffold: str, helm: str) -> None:
    done = run(
        [skaffold, "render", "-p", "kind", "--digest-source=tag", "--offline=true"],
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    assert "kind: Deployment" in done.stdout
    assert "name: readside-query" in done.stdout
    assert "name: kafka" in done.stdout
    # Image references come from the computed input-digest tags, not an empty template.
    assert "image: readside-query:" in done.stdout
