"""The service images: non-root, nothing written at run time, migrations inside."""

from __future__ import annotations

import json

import pytest

from readside_testkit.kind.tools import run

pytestmark = pytest.mark.kind

IMAGES = {"query": "readside-query:dev", "projection": "readside-projection:dev"}


@pytest.fixture(scope="module", params=sorted(IMAGES))
def image(request: pytest.FixtureRequest) -> str:
    name = IMAGES[request.param]
    if run(["docker", "image", "inspect", name], check=False, timeout=30).returncode != 0:
        pytest.skip(f"{name} is not built (make images-app)")
    return name


def test_image_runs_as_numeric_non_root_user_without_writing(image: str) -> None:
    config = json.loads(run(["docker", "image", "inspect", image]).stdout)[0]["Config"]
    assert config["User"] == "10001:10001"
    assert "PYTHONDONTWRITEBYTECODE=1" in config["Env"]
    # Importing every module on a read-only root must work: bytecode was compiled at build.
    package = "readside_query" if "query" in image else "readside_projection"
    run(
        [
            "docker",
            "run",
            "--rm",
            "--read-only",
            "--cap-drop",
            "ALL",
            "--security-opt",
            "no-new-privileges",
            "--entrypoint",
            "python",
            image,
            "-c",
            f"import pkgutil, importlib, {package} as p; "
            f"[importlib.import_module(m.name) for m in pkgutil.walk_packages(p.__path__, "
            f"p.__name__ + '.')]",
        ],
        timeout=120,
    )


def test_projection_image_carries_the_migrations() -> None:
    name = IMAGES["projection"]
    if run(["docker", "image", "inspect", name], check=False, timeout=30).returncode != 0:
        pytest.skip(f"{name} is not built (make images-app)")
    done = run(
        [
            "docker",
            "run",
            "--rm",
            "--read-only",
            "--entrypoint",
            "sh",
            name,
            "-c",
            'echo "$READSIDE_MIGRATIONS"; ls "$READSIDE_MIGRATIONS"/versions',
        ]
    )
    lines = done.stdout.split()
    assert lines[0] == "/app/migrations"
    assert any(line.endswith(".py") for line in lines[1:])
