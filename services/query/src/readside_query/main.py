"""`readside-query`: check the settings, then serve the app with Granian (ASGI, uvloop).

Granian imports `app_from_env` in each worker process (factory mode), so settings are read
once here to fail fast with a clear message, and again in each worker.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

from readside_core.settings import SettingsError
from readside_query.settings import QuerySettings

TARGET = "readside_query.main:app_from_env"


def app_from_env() -> Any:
    """Granian's factory target: the ASGI app built from the environment."""
    from readside_query.app import build_asgi_app

    settings = QuerySettings.from_env()
    logging.getLogger("readside_query").setLevel(settings.log_level.upper())
    return build_asgi_app(settings)


def granian_server(settings: QuerySettings) -> Any:
    from granian import Granian
    from granian.constants import HTTPModes, Interfaces, Loops
    from granian.log import LogLevels

    return Granian(
        TARGET,
        factory=True,
        address=settings.host,
        port=settings.port,
        interface=Interfaces.ASGI,
        workers=settings.workers,
        loop=Loops.uvloop,
        http=HTTPModes.http1,
        log_level=LogLevels(settings.log_level),
        log_access=False,
        respawn_failed_workers=True,
        backlog=2048,
    )


def main() -> None:
    try:
        settings = QuerySettings.from_env()
    except SettingsError as exc:
        print(f"readside-query: bad settings: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    granian_server(settings).serve()


if __name__ == "__main__":
    main()
