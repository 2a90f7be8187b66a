"""The projection service's settings, from the environment (the seed's names and defaults)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from readside_core.connection_security import KafkaSecurity, PostgresSecurity, RedisSecurity
from readside_core.read_model_version import InvalidSchemaName, check_schema_name
from readside_core.settings import SettingsError, env_float, env_int, env_optional, env_str


@dataclass(frozen=True, slots=True)
class ProjectionSettings:
    database_url: str
    """DATABASE_URL: the read-model PostgreSQL database."""
    kafka_brokers: str
    """KAFKA_BROKERS: bootstrap servers, comma separated."""
    topic: str
    """KAFKA_TOPIC: the order events topic (default order-events)."""
    consumer_group: str
    """CONSUMER_GROUP: Kafka consumer group, also the key of the stored offsets."""
    read_model_schema: str | None
    """READ_MODEL_SCHEMA: the read-model version (PostgreSQL schema) to write, with
    CONSUMER_GROUP. Unset: the live version, as the live pointer says (see target_version.py)."""
    redis_url: str | None
    """REDIS_URL: where the query service caches; unset means no cache updates."""
    cache_ttl_seconds: int
    """CACHE_TTL_SECONDS: TTL of the cache entries the projection writes (300)."""
    ops_port: int
    """OPS_PORT: the /livez, /readyz and /metrics port (9091); 0 turns it off."""
    ops_host: str
    """OPS_HOST: the address the ops endpoint binds (0.0.0.0; `make up` uses 127.0.0.1)."""
    batch_max_records: int
    """BATCH_MAX_RECORDS: the most records taken from Kafka in one fetch (5000). Fetches
    queued while a transaction runs are committed together (up to twice this)."""
    batch_timeout_ms: int
    """BATCH_TIMEOUT_MS: how long an idle getmany waits for records (100); with records
    available it returns at once."""
    session_timeout_ms: int
    """KAFKA_SESSION_TIMEOUT_MS: consumer group session timeout (10000)."""
    retry_max_seconds: float
    """RETRY_MAX_SECONDS: cap of the backoff while PostgreSQL or Kafka is away (5)."""
    view_cache_orders: int
    """VIEW_CACHE_ORDERS: order views kept in memory to fold on without reading PostgreSQL
    (50000; about 2.3 KiB of RSS each, delivered and cancelled orders not held: view_state.py,
    docs/benchmarks.md, peak RSS)."""
    synchronous_commit: bool
    """PG_SYNCHRONOUS_COMMIT: `on` (default) waits for the WAL flush at each commit; `off`
    does not. Off cannot break exactness (rows and offsets are lost or kept together, and
    what is lost is read again from Kafka), but a PostgreSQL crash can briefly take back
    changes the cache already showed."""
    dlq_depth_seconds: float = 30.0
    """DLQ_DEPTH_SECONDS: how often `readside_projection_dlq_depth` (dead letters not yet
    redriven) is measured (30); 0 turns it off."""
    kafka: KafkaSecurity = field(default_factory=KafkaSecurity)
    """KAFKA_SECURITY_PROTOCOL, KAFKA_SASL_*, KAFKA_SSL_*: TLS and SASL towards Kafka."""
    postgres: PostgresSecurity = field(default_factory=PostgresSecurity)
    """PGSSLMODE, PGSSLROOTCERT, PGSSLCERT, PGSSLKEY, PGPASSWORD(_FILE)."""
    redis: RedisSecurity = field(default_factory=RedisSecurity)
    """REDIS_USERNAME, REDIS_PASSWORD(_FILE), REDIS_SSL_* (with a rediss:// REDIS_URL)."""

    @property
    def dlq_topic(self) -> str:
        return f"{self.topic}.dlq"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> ProjectionSettings:
        database_url = env_str("DATABASE_URL", env=env)
        redis_url = env_optional("REDIS_URL", env=env)
        return cls(
            database_url=database_url,
            kafka_brokers=env_str("KAFKA_BROKERS", "localhost:9092", env=env),
            topic=env_str("KAFKA_TOPIC", "order-events", env=env),
            consumer_group=env_str("CONSUMER_GROUP", "projection-service", env=env),
            read_model_schema=_schema(env_optional("READ_MODEL_SCHEMA", env=env)),
            redis_url=redis_url,
            cache_ttl_seconds=env_int("CACHE_TTL_SECONDS", 300, minimum=1, env=env),
            ops_port=env_int("OPS_PORT", 9091, minimum=0, env=env),
            ops_host=env_str("OPS_HOST", "0.0.0.0", env=env),
            batch_max_records=env_int("BATCH_MAX_RECORDS", 5000, minimum=1, env=env),
            batch_timeout_ms=env_int("BATCH_TIMEOUT_MS", 100, minimum=0, env=env),
            session_timeout_ms=env_int("KAFKA_SESSION_TIMEOUT_MS", 10000, minimum=1000, env=env),
            retry_max_seconds=env_float("RETRY_MAX_SECONDS", 5.0, minimum=0.1, env=env),
            view_cache_orders=env_int("VIEW_CACHE_ORDERS", 50_000, minimum=0, env=env),
            synchronous_commit=_on_off("PG_SYNCHRONOUS_COMMIT", env),
            dlq_depth_seconds=env_float("DLQ_DEPTH_SECONDS", 30.0, minimum=0.0, env=env),
            kafka=KafkaSecurity.from_env(env),
            postgres=PostgresSecurity.from_env(env, database_url),
            redis=RedisSecurity.from_env(env, redis_url),
        )


def _schema(value: str | None) -> str | None:
    if value is None:
        return None
    try:
        return check_schema_name(value)
    except InvalidSchemaName as exc:
        raise SettingsError(f"READ_MODEL_SCHEMA: {exc}") from None


def _on_off(name: str, env: Mapping[str, str] | None) -> bool:
    value = env_str(name, "on", env=env).strip().lower()
    if value not in ("on", "off"):
        raise SettingsError(f"{name} must be on or off, not {value!r}")
    return value == "on"
