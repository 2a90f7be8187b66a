"""The operator's settings: the environment is read here and nowhere else."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from readside_core.connection_security import KafkaSecurity
from readside_core.settings import env_float, env_int, env_optional


@dataclass(frozen=True, slots=True)
class OperatorSettings:
    metrics_port: int
    """METRICS_PORT: where /metrics is served (9090); 0 turns it off."""
    kafka_timeout_seconds: float
    """KAFKA_TIMEOUT_SECONDS: how long a lag or offset look-up may take (10)."""
    replay_poll_seconds: float
    """REPLAY_POLL_SECONDS: the pause between two rounds of a running replay (2)."""
    log_level: str
    """LOG_LEVEL: debug, info (default), warning or error."""
    log_format: str
    """LOG_FORMAT: kopf's log format, json (default), plain or full."""
    kafka: KafkaSecurity = field(default_factory=KafkaSecurity)
    """KAFKA_SECURITY_PROTOCOL, KAFKA_SASL_*, KAFKA_SSL_*: TLS and SASL towards every
    Projection's brokers (the operator's own lag and offset look-ups)."""

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> OperatorSettings:
        return cls(
            metrics_port=env_int("METRICS_PORT", 9090, minimum=0, env=env),
            kafka_timeout_seconds=env_float("KAFKA_TIMEOUT_SECONDS", 10.0, env=env),
            replay_poll_seconds=env_float("REPLAY_POLL_SECONDS", 2.0, env=env),
            log_level=(env_optional("LOG_LEVEL", env) or "info").lower(),
            log_format=env_optional("LOG_FORMAT", env) or "json",
            kafka=KafkaSecurity.from_env(env),
        )
