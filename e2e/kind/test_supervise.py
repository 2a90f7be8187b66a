"""The dev-loop restart supervisor (deploy/dev/supervise.py) restarts on a change."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from readside_testkit.kind.tools import REPO, wait_for

pytestmark = pytest.mark.kind

SUPERVISE = REPO / "deploy" / "dev" / "supervise.py"


@pytest.mark.parametrize("told_by", ["--watch", "SUPERVISE_WATCH"])
def test_supervisor_restarts_on_a_source_change_and_stops_on_sigterm(
    tmp_path: Path, told_by: str
) -> None:
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "mod.py").write_text("X = 1\n")
    starts = tmp_path / "starts"
    child = f"import time; open({str(starts)!r}, 'a').write('x'); time.sleep(600)"
    # The dev image names its source folder in SUPERVISE_WATCH; --watch overrides it.
    watch = ["--watch", str(package)] if told_by == "--watch" else []
    env = {**os.environ, "SUPERVISE_WATCH": str(package) if not watch else ""}
    proc = subprocess.Popen(
        [
            sys.executable,
            str(SUPERVISE),
            *watch,
            "--trigger",
            str(tmp_path / "restart"),
            "--",
            sys.executable,
            "-c",
            child,
        ],
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        wait_for(
            "the first start", lambda: starts.exists() and starts.read_text() == "x", 10, every=0.1
        )
        time.sleep(0.6)  # the mtime must differ from the first snapshot's
        (package / "mod.py").write_text("X = 2\n")
        wait_for("a restart after the edit", lambda: starts.read_text() == "xx", 10, every=0.1)
        (tmp_path / "restart").touch()
        wait_for("a restart after the trigger", lambda: starts.read_text() == "xxx", 10, every=0.1)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
    assert proc.returncode == 0


def test_supervisor_without_a_folder_to_watch_says_how_to_give_one() -> None:
    done = subprocess.run(
        [sys.executable, str(SUPERVISE), "--", "true"],
        capture_output=True,
        text=True,
        env={**os.environ, "SUPERVISE_WATCH": ""},
        timeout=30,
    )
    assert done.returncode == 2
    assert "SUPERVISE_WATCH" in done.stderr
