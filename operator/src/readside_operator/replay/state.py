"""What one round of a replay works with, read once at its start, and the status it keeps.

All of a replay's state lives in its status (phase, the replicas to restore, the consumer
group and read-model version it works on), so an operator restarted mid-replay resumes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from readside_core.admin_commands import Target
from readside_core.read_model_version import PUBLIC_SCHEMA
from readside_operator.names import child_name, schema_name
from readside_operator.replay.phases import Phase
from readside_operator.replay.spec import ReplaySpec, Strategy
from readside_operator.resources import active_consumer_group, timestamp

if TYPE_CHECKING:
    from readside_kafka import KafkaInspector


def phase_of(replay: dict[str, Any]) -> Phase:
    return Phase((replay.get("status") or {}).get("phase", Phase.PENDING))


@dataclass(frozen=True, slots=True)
class ChildNames:
    """The names of what a replay creates (fixed, so creating them again is a no-op)."""

    reset: str
    promote: str
    drop: str
    shadow: str

    @classmethod
    def of(cls, replay: str, deployment: str) -> ChildNames:
        return cls(
            reset=child_name(replay, "reset"),
            promote=child_name(replay, "promote"),
            drop=child_name(replay, "drop"),
            shadow=child_name(deployment, replay),
        )


@dataclass(frozen=True, slots=True)
class ReplayRound:
    replay: dict[str, Any]  # the ProjectionReplay as read this round
    spec: ReplaySpec
    projection: dict[str, Any]
    live: dict[str, Any]  # the projection Deployment
    inspector: KafkaInspector  # of the projection's brokers
    status: dict[str, Any]  # the replay's status, with what this round has already set

    @property
    def namespace(self) -> str:
        return str(self.replay["metadata"]["namespace"])

    @property
    def name(self) -> str:
        return str(self.replay["metadata"]["name"])

    @property
    def phase(self) -> Phase:
        return Phase(self.status.get("phase", Phase.PENDING))

    @property
    def topic(self) -> str:
        return str(self.projection["spec"]["topic"])

    @property
    def deployment(self) -> str:
        return str(self.projection["spec"]["deployment"])

    @property
    def names(self) -> ChildNames:
        return ChildNames.of(self.name, self.deployment)

    @property
    def consumer_group(self) -> str:
        """The group being replayed (the live one until the replay has chosen)."""
        return str(self.status.get("consumerGroup") or active_consumer_group(self.projection))

    @property
    def start_lag(self) -> int | None:
        return self.status.get("startLag")

    def replayed(self) -> Target:
        """The read-model version and group the reset and the replay work on."""
        read_model = self.status["readModel"]
        blue_green = self.spec.strategy is Strategy.BLUE_GREEN
        schema = read_model["schema"] if blue_green else read_model["previousSchema"]
        return Target(read_model_schema=schema, consumer_group=self.status["consumerGroup"])

    def new_version(self) -> Target:
        """BlueGreen: the version being built, which the swap makes live."""
        return Target(self.status["readModel"]["schema"], self.status["consumerGroup"])


def initial_status(
    projection: dict[str, Any], replay: str, strategy: Strategy, replicas: int, now: datetime
) -> dict[str, Any]:
    """The status a replay starts with once it holds its projection."""
    live = (projection.get("status") or {}).get("readModel") or {}
    group = active_consumer_group(projection)
    read_model = {"previousSchema": str(live.get("schema") or PUBLIC_SCHEMA)}
    if strategy is Strategy.BLUE_GREEN:
        group = child_name(group, replay, limit=200)
        read_model["schema"] = schema_name(replay)
    return {
        "startTime": timestamp(now),
        "replicasBefore": replicas,
        "consumerGroup": group,
        "readModel": read_model,
    }
