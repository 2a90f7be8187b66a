"""The local stack's secured listeners (hack/stack `up --secure`), as settings for each client.

`SecuredStack.kafka_env("sasl_ssl")` is the environment a Readside process needs to reach
Kafka through that listener (connection_security's variables, credentials as files); the
`postgres_env`/`redis_env` likewise for PostgreSQL over TLS (verify-full, a role that may log
in only over TLS) and Redis over TLS with an ACL user.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from readside_testkit.stack import stack

LISTENERS = ("sasl_ssl", "ssl", "sasl_plaintext")


@dataclass(frozen=True)
class SecuredStack:
    values: dict[str, str]

    @property
    def dir(self) -> Path:
        return Path(self.values["SECURE_DIR"])

    def file(self, name: str) -> str:
        return str(self.dir / name)

    def passwords(self) -> list[str]:
        """Every password of the secured stack: none may ever show in a log or a response."""
        return [
            (self.dir / f"{n}.password").read_text().strip() for n in ("kafka", "redis", "postgres")
        ]

    def brokers(self, listener: str) -> str:
        return self.values[f"KAFKA_{listener.upper()}_BROKERS"]

    def kafka_env(self, listener: str, mechanism: str = "SCRAM-SHA-512") -> dict[str, str]:
        """KAFKA_BROKERS and the security settings for one listener (see LISTENERS)."""
        env = {"KAFKA_BROKERS": self.brokers(listener), "KAFKA_SECURITY_PROTOCOL": listener.upper()}
        if listener.startswith("sasl"):
            env["KAFKA_SASL_MECHANISM"] = "PLAIN" if listener == "sasl_plaintext" else mechanism
            env["KAFKA_SASL_USERNAME"] = self.values["SECURE_USER"]
            env["KAFKA_SASL_PASSWORD_FILE"] = self.values["SECURE_KAFKA_PASSWORD_FILE"]
        if listener.endswith("ssl"):
            env["KAFKA_SSL_CAFILE"] = self.values["SECURE_CA_FILE"]
        if listener == "ssl":
            env["KAFKA_SSL_CERTFILE"] = self.values["SECURE_CLIENT_CERT"]
            env["KAFKA_SSL_KEYFILE"] = self.values["SECURE_CLIENT_KEY"]
        return env

    def postgres_env(self, database_url: str) -> dict[str, str]:
        """DATABASE_URL of the same database as the TLS-only role, verify-full."""
        tls_base = self.values["TLS_DATABASE_URL"].rpartition("/")[0]
        return {
            "DATABASE_URL": f"{tls_base}/{database_url.rpartition('/')[2]}",
            "PGSSLMODE": "verify-full",
            "PGSSLROOTCERT": self.values["SECURE_CA_FILE"],
            "PGPASSWORD_FILE": self.values["SECURE_POSTGRES_PASSWORD_FILE"],
        }

    def redis_env(self, db: int = 0) -> dict[str, str]:
        return {
            "REDIS_URL": f"{self.values['TLS_REDIS_URL'].rpartition('/')[0]}/{db}",
            "REDIS_USERNAME": self.values["SECURE_USER"],
            "REDIS_PASSWORD_FILE": self.values["SECURE_REDIS_PASSWORD_FILE"],
            "REDIS_SSL_CAFILE": self.values["SECURE_CA_FILE"],
        }


def secured_stack() -> SecuredStack:
    """Bring the stack up with its secured listeners (idempotent; restarts a server started
    without them) and return their settings."""
    stack("up", "--secure")
    values: dict[str, str] = {}
    for line in stack("secure-env").splitlines():
        if line.startswith("export "):
            name, _, value = line[len("export ") :].partition("=")
            values[name] = value.strip("'\"")
    return SecuredStack(values)
