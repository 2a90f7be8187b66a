"""`readside-operator [kopf run options]`: kopf with Readside's handlers.
`readside-operator apply-crds DIR`: server-side apply the CRDs in DIR (the chart's hook).

Standalone (no peering): the chart runs one replica with a Recreate strategy, so two
operators never act at once. Logs are JSON unless LOG_FORMAT says otherwise. Every option
of `kopf run` passes through, e.g. `--namespace=shop --liveness=http://0.0.0.0:8080/healthz`.
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

from readside_core.settings import SettingsError
from readside_operator.settings import OperatorSettings


def main(argv: list[str] | None = None) -> None:
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["apply-crds"]:
        _apply_crds(args[1:])
        return
    try:
        settings = OperatorSettings.from_env()
    except SettingsError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    quiet = ["--quiet"]
    verbosity = {"debug": ["--debug"], "warning": quiet, "error": quiet}.get(settings.log_level, [])
    sys.argv = [
        "readside-operator",
        "run",
        "--standalone",
        f"--log-format={settings.log_format}",
        *verbosity,
        "-m",
        "readside_operator.handlers",
        *args,
    ]
    from kopf.cli import main as kopf_main

    kopf_main()


def _apply_crds(args: list[str]) -> None:
    import httpx2
    from lightkube import ApiError, ConfigError

    from readside_operator.crds import NotACrd, apply_crds

    if len(args) != 1:
        print("usage: readside-operator apply-crds DIR", file=sys.stderr)
        raise SystemExit(2)
    try:
        names = asyncio.run(apply_crds(Path(args[0])))
    except (NotACrd, OSError, ConfigError) as exc:
        print(f"apply-crds refused: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    except (ApiError, TimeoutError, httpx2.HTTPError) as exc:
        print(f"apply-crds failed: {exc}", file=sys.stderr)
        raise SystemExit(1) from None
    print(json.dumps({"applied": names}))


if __name__ == "__main__":
    main()
