"""Migrating the read-model schema with Alembic (the Helm hook and `make migrate` run this)."""

from __future__ import annotations

import os
from pathlib import Path

from alembic import command
from alembic.config import Config


def migrations_dir() -> Path:
    """READSIDE_MIGRATIONS, else `migrations/` in the working directory or above it."""
    if configured := os.environ.get("READSIDE_MIGRATIONS"):
        return Path(configured)
    for folder in (Path.cwd(), *Path.cwd().parents):
        if (folder / "migrations" / "env.py").exists():
            return folder / "migrations"
    raise SystemExit(
        "cannot find the migrations folder: run from the repository or set READSIDE_MIGRATIONS"
    )


def upgrade(database_url: str, revision: str = "head") -> None:
    folder = migrations_dir()
    config = Config(str(folder / "alembic.ini"))
    config.set_main_option("script_location", str(folder))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    command.upgrade(config, revision)
