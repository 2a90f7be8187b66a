"""Migrating read-model versions with Alembic (the Helm hook and `make migrate` run this).

Without READ_MODEL_SCHEMA, `migrate` upgrades public (which holds the live pointer) and then
the live version if another one is live, so an upgrade never leaves the served version behind.
With READ_MODEL_SCHEMA it creates or upgrades that version only.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory

from readside_core.read_model_version import PUBLIC_SCHEMA
from readside_projection.target_version import read_live_pointer


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


def _config(database_url: str | None = None) -> Config:
    folder = migrations_dir()
    config = Config(str(folder / "alembic.ini"))
    config.set_main_option("script_location", str(folder))
    if database_url is not None:
        config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def upgrade(database_url: str, revision: str = "head", schema: str = PUBLIC_SCHEMA) -> None:
    """Create or upgrade one read-model version (its schema is created if needed)."""
    config = _config(database_url)
    config.attributes["schema"] = schema
    command.upgrade(config, revision)


def head_revision() -> str | None:
    """The newest revision this image's migrations know."""
    return ScriptDirectory.from_config(_config()).get_current_head()


def upgrade_live(database_url: str) -> list[str]:
    """Upgrade public, then the live version if it is another; the schemas upgraded."""
    upgrade(database_url)
    live = asyncio.run(read_live_pointer(database_url)).schema
    if live == PUBLIC_SCHEMA:
        return [PUBLIC_SCHEMA]
    upgrade(database_url, schema=live)
    return [PUBLIC_SCHEMA, live]
