"""Names and manifest pieces shared by the secured dev dependencies (secured_dev,
secured_kafka): the Secrets the servers mount and the release names in its values."""

from __future__ import annotations

from typing import Any

SERVICES = ("kafka", "postgres", "redis")
# The Secrets the release names in its values (see SECURED_VALUES) or the servers mount.
CA_SECRET = "sec-ca"  # ca.crt: the CA every client trusts
SERVER_SECRET = "sec-server-tls"  # the servers' certificate and key (and the CA, for Redis)
KAFKA_USER_SECRET = "sec-kafka-user"  # username, password: the SCRAM user
DATABASE_SECRET = "sec-database"  # DATABASE_URL, without a password
POSTGRES_PASSWORD_SECRET = "sec-postgres-password"  # password of PG_ROLE
REDIS_USER_SECRET = "sec-redis-user"  # username, password: the Redis ACL user
REDIS_ACL_SECRET = "sec-redis-acl"  # users.acl, the server's ACL file
KAFKA_USER = "rskafka"
PG_ROLE = "rstls"
REDIS_USER = "rsacl"

SECURED_VALUES = (
    "kafka.brokers=kafka:9092",
    "kafka.security.protocol=SASL_SSL",
    "kafka.security.sasl.mechanism=SCRAM-SHA-512",
    f"kafka.security.sasl.existingSecret={KAFKA_USER_SECRET}",
    f"kafka.security.tls.existingSecret={CA_SECRET}",
    "database.url=",
    f"database.existingSecret={DATABASE_SECRET}",
    f"database.passwordSecret={POSTGRES_PASSWORD_SECRET}",
    "database.tls.sslmode=verify-full",
    f"database.tls.existingSecret={CA_SECRET}",
    "redis.url=rediss://redis:6379/0",
    f"redis.tls.existingSecret={CA_SECRET}",
    f"redis.acl.existingSecret={REDIS_USER_SECRET}",
)


def secret(name: str, data: dict[str, str]) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "labels": {"app.kubernetes.io/part-of": "readside-dev"}},
        "type": "Opaque",
        "stringData": data,
    }


def secret_volume(name: str, secret_name: str, mode: int = 0o440) -> dict[str, Any]:
    return {"name": name, "secret": {"secretName": secret_name, "defaultMode": mode}}


def mount(name: str, path: str) -> dict[str, Any]:
    return {"name": name, "mountPath": path, "readOnly": True}
