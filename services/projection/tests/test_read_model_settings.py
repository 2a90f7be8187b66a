"""READ_MODEL_SCHEMA and following the live pointer: which version and group a process uses."""

from __future__ import annotations

import pytest

from readside_core.read_model_version import PUBLIC, ReadModelVersion
from readside_core.settings import SettingsError
from readside_projection.settings import ProjectionSettings
from readside_projection.target_version import follow

pytestmark = pytest.mark.unit

ENV = {"DATABASE_URL": "postgresql://u:p@db/readside", "CONSUMER_GROUP": "projection-service"}


def test_unset_schema_follows_the_pointer_and_its_group() -> None:
    settings = ProjectionSettings.from_env(ENV)
    assert settings.read_model_schema is None
    followed = follow(settings, ReadModelVersion("rm_2", "projection-service-rm-2"))
    assert (followed.read_model_schema, followed.consumer_group) == (
        "rm_2",
        "projection-service-rm-2",
    )


def test_no_pointer_row_means_public_and_the_configured_group() -> None:
    followed = follow(ProjectionSettings.from_env(ENV), PUBLIC)
    assert (followed.read_model_schema, followed.consumer_group) == (
        "public",
        "projection-service",
    )


def test_a_given_schema_wins_over_the_pointer() -> None:
    settings = ProjectionSettings.from_env(
        {**ENV, "READ_MODEL_SCHEMA": "rm_3", "CONSUMER_GROUP": "shadow"}
    )
    followed = follow(settings, ReadModelVersion("rm_2", "projection-service-rm-2"))
    assert (followed.read_model_schema, followed.consumer_group) == ("rm_3", "shadow")


def test_a_bad_schema_name_is_a_settings_error_naming_the_variable() -> None:
    with pytest.raises(SettingsError, match=r"READ_MODEL_SCHEMA: .*lowercase identifier"):
        ProjectionSettings.from_env({**ENV, "READ_MODEL_SCHEMA": "Bad-Name"})
