"""The Jobs and the shadow Deployment a replay creates (pure builders).

Each Job runs one of the projection image's admin commands (readside_core.admin_commands)
with the projection Deployment's pod setup; the shadow is that Deployment writing the
version a BlueGreen replay builds.
"""

from __future__ import annotations

from typing import Any

from readside_core.admin_commands import DropReadModel, Migrate, Promote
from readside_operator.replay.spec import Strategy
from readside_operator.replay.state import ChildNames, ReplayRound
from readside_operator.resources import projection_job, shadow_deployment


def reset_job(rnd: ReplayRound) -> dict[str, Any]:
    """`reset` of the replayed version; BlueGreen creates the version first (`migrate`)."""
    init = Migrate().argv() if rnd.spec.strategy is Strategy.BLUE_GREEN else None
    args = rnd.spec.reset_command().argv()
    env = rnd.replayed().env()
    return projection_job(rnd.replay, rnd.live, rnd.names.reset, args, env, init)


def promote_job(rnd: ReplayRound) -> dict[str, Any]:
    version = rnd.new_version()
    command = Promote(schema=str(version.read_model_schema), consumer_group=rnd.consumer_group)
    return projection_job(rnd.replay, rnd.live, rnd.names.promote, command.argv())


def shadow(rnd: ReplayRound, replicas: int) -> dict[str, Any]:
    """The projection writing the new version beside the live one."""
    env = rnd.new_version().env()
    return shadow_deployment(rnd.replay, rnd.live, rnd.names.shadow, env, replicas)


def drop_job(
    replay: dict[str, Any], live: dict[str, Any], names: ChildNames, schema: str
) -> dict[str, Any]:
    return projection_job(replay, live, names.drop, DropReadModel(schema=schema).argv())
