"""`readside-operator [kopf run options]`: kopf with Readside's handlers.

Standalone (no peering): the chart runs one replica with a Recreate strategy, so two
operators never act at once. Logs are JSON unless LOG_FORMAT says otherwise. Every option
of `kopf run` passes through, e.g. `--namespace=shop --liveness=http://0.0.0.0:8080/healthz`.
"""

from __future__ import annotations

import os
import sys

from kopf.cli import main as kopf_main


def main(argv: list[str] | None = None) -> None:
    args = list(sys.argv[1:] if argv is None else argv)
    level = os.environ.get("LOG_LEVEL", "info").lower()
    verbosity = {"debug": ["--debug"], "warning": ["--quiet"], "error": ["--quiet"]}.get(level, [])
    log_format = os.environ.get("LOG_FORMAT", "json")
    sys.argv = [
        "readside-operator",
        "run",
        "--standalone",
        f"--log-format={log_format}",
        *verbosity,
        "-m",
        "readside_operator.handlers",
        *args,
    ]
    kopf_main()


if __name__ == "__main__":
    main()
