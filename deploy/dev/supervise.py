"""Dev-only restart supervisor for live update (Tilt, skaffold); only the images' `dev` target
contains it, and only the chart's `dev.liveUpdate` mode runs it.

    python /app/bin/supervise.py [--watch DIR ...] [--trigger FILE] -- CMD ARGS...

Runs CMD and restarts it when a .py file under a watched directory changes (a sync landed)
or the trigger file is touched (Tilt's `run('touch ...')`). Without --watch it watches the
colon-separated directories of SUPERVISE_WATCH: the images' `dev` target sets it to /src,
where it installs the workspace packages editable, so the chart need not know the layout.
Polling, so it needs neither inotify nor a remote Tilt extension. If CMD dies on its own
(say, a syntax error just synced), the supervisor waits for the next change instead of
exiting, so the synced files survive (a container restart would lose them). SIGTERM and
SIGINT go to CMD, then it exits.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

POLL_SECONDS = 0.5
SETTLE_SECONDS = 0.3  # a sync writes several files: restart once they stop changing


def snapshot(folders: list[Path], trigger: Path | None) -> tuple[tuple[str, int], ...]:
    seen: list[tuple[str, int]] = []
    for folder in folders:
        for path in folder.rglob("*.py"):
            try:
                seen.append((str(path), path.stat().st_mtime_ns))
            except FileNotFoundError:
                continue
    if trigger is not None and trigger.exists():
        seen.append((str(trigger), trigger.stat().st_mtime_ns))
    return tuple(sorted(seen))


def folders_from_env() -> list[Path]:
    return [Path(f) for f in os.environ.get("SUPERVISE_WATCH", "").split(":") if f]


def log(message: str) -> None:
    print(f"[supervise] {message}", file=sys.stderr, flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(prog="supervise")
    parser.add_argument("--watch", action="append", type=Path, default=[])
    parser.add_argument("--trigger", type=Path)
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args()
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("give the command to run after --")
    watched = args.watch or folders_from_env()
    if not watched:
        parser.error("give --watch DIR, or set SUPERVISE_WATCH (the dev image sets it to /src)")
    log(f"watching {', '.join(map(str, watched))} for *.py changes")

    stopping = False
    child: subprocess.Popen[bytes] | None = None

    def stop(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True
        if child is not None and child.poll() is None:
            child.send_signal(signum)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)

    while not stopping:
        log(f"starting: {' '.join(command)}")
        child = subprocess.Popen(command, env=os.environ.copy())
        state = snapshot(watched, args.trigger)
        while not stopping:
            time.sleep(POLL_SECONDS)
            current = snapshot(watched, args.trigger)
            if current != state:
                while True:  # let the rest of the sync land
                    time.sleep(SETTLE_SECONDS)
                    settled = snapshot(watched, args.trigger)
                    if settled == current:
                        break
                    current = settled
                log("change detected: restarting")
                break
            if child.poll() is not None:
                log(f"exited with {child.returncode}; waiting for a change to restart")
                state = current
                while not stopping and snapshot(watched, args.trigger) == state:
                    time.sleep(POLL_SECONDS)
                break
        if child.poll() is None:
            child.terminate()
            try:
                child.wait(timeout=20)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
    log("stopped")


if __name__ == "__main__":
    main()
