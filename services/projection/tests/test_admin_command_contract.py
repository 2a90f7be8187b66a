"""The projection reads the admin-command contract's environment names and arguments."""

from __future__ import annotations

import pytest

from readside_core.admin_commands import Promote, Reset, Target
from readside_projection.cli import _parser
from readside_projection.settings import ProjectionSettings

pytestmark = pytest.mark.unit


def test_the_settings_read_the_target_the_operator_sets() -> None:
    env = {"DATABASE_URL": "postgresql://x/y", **Target("rm_bg", "g-bg").env()}
    settings = ProjectionSettings.from_env(env)
    assert (settings.read_model_schema, settings.consumer_group) == ("rm_bg", "g-bg")


def test_the_cli_parses_what_the_operator_builds() -> None:
    for command in (Reset(offsets={0: 3}, dry_run=True), Promote("rm_bg", "g-bg")):
        args = _parser().parse_args(command.argv())
        assert args.command == command.NAME
