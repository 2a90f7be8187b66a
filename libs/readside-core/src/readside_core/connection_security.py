"""How Readside authenticates to and encrypts its connections to Kafka, PostgreSQL and Redis.

One typed object per server, read from the environment (names follow each client's own
conventions: Kafka's `security.protocol` is KAFKA_SECURITY_PROTOCOL, libpq's PGSSLMODE...),
and the builders every client construction site uses: `KafkaSecurity.client_kwargs()` for
aiokafka, `PostgresSecurity.connect_kwargs()` for asyncpg (directly and through SQLAlchemy),
`RedisSecurity.client_kwargs()` for redis-py. Nothing set: plaintext without authentication,
exactly as before.

Passwords come from `NAME_FILE` (a file mounted from a Kubernetes Secret) or `NAME` (an
environment variable filled from a Secret), never both; they are held in `Secret`, whose
repr never shows the value, so a settings object can be logged. Errors name the variable.
"""

from __future__ import annotations

import os
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from readside_core.settings import (
    Secret,
    SettingsError,
    env_existing_file,
    env_flag,
    env_optional,
    env_secret,
)

KAFKA_PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
KAFKA_MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")
PG_SSLMODES = ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")


@dataclass(frozen=True, slots=True)
class TlsFiles:
    """A CA bundle to trust (None: the system's), and an optional client certificate."""

    prefix: str  # the variables' prefix, for error messages
    cafile: Path | None = None
    certfile: Path | None = None
    keyfile: Path | None = None
    check_hostname: bool = True
    verify: bool = True  # False only for PostgreSQL's sslmode=require without a CA

    @classmethod
    def from_env(
        cls, env: Mapping[str, str], prefix: str, names: tuple[str, str, str], check: bool
    ) -> TlsFiles:
        """PREFIX+names (CA, certificate, key) and, when `check`, PREFIX+CHECK_HOSTNAME."""
        ca, cert, key = (f"{prefix}{n}" for n in names)
        files = cls(
            prefix,
            env_existing_file(env, ca),
            env_existing_file(env, cert),
            env_existing_file(env, key),
            env_flag(env, f"{prefix}CHECK_HOSTNAME", True) if check else True,
        )
        if files.keyfile is not None and files.certfile is None:
            raise SettingsError(
                f"{key} is set but {cert} is not: a client key needs its certificate"
            )
        return files

    def any_set(self) -> bool:
        return any(f is not None for f in (self.cafile, self.certfile, self.keyfile))

    def context(self) -> ssl.SSLContext:
        """The client-side SSLContext; SettingsError naming the file when one is unusable."""
        context = ssl.create_default_context(cafile=str(self.cafile) if self.cafile else None)
        if self.certfile is not None:
            try:
                context.load_cert_chain(self.certfile, self.keyfile)
            except (ssl.SSLError, OSError) as exc:
                raise SettingsError(
                    f"{self.prefix} client certificate {self.certfile}: not a usable PEM "
                    f"certificate and key ({exc})"
                ) from None
        context.check_hostname = self.verify and self.check_hostname
        if not self.verify:
            context.verify_mode = ssl.CERT_NONE
        return context


def _checked_ca(files: TlsFiles, variable: str) -> TlsFiles:
    """Load the CA once now, so a bad bundle is a settings error, not a connection error."""
    if files.cafile is not None:
        try:
            ssl.create_default_context(cafile=str(files.cafile))
        except ssl.SSLError as exc:
            raise SettingsError(f"{variable}={files.cafile}: not a PEM CA bundle ({exc})") from None
    return files


@dataclass(frozen=True, slots=True)
class KafkaSecurity:
    protocol: str = "PLAINTEXT"
    """KAFKA_SECURITY_PROTOCOL: PLAINTEXT (default), SSL, SASL_PLAINTEXT or SASL_SSL."""
    sasl_mechanism: str | None = None
    """KAFKA_SASL_MECHANISM: PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512 (SASL_* protocols)."""
    sasl_username: str | None = None
    """KAFKA_SASL_USERNAME (or KAFKA_SASL_USERNAME_FILE)."""
    sasl_password: Secret | None = None
    """KAFKA_SASL_PASSWORD_FILE (a mounted Secret) or KAFKA_SASL_PASSWORD."""
    tls: TlsFiles | None = None
    """KAFKA_SSL_CAFILE, KAFKA_SSL_CERTFILE, KAFKA_SSL_KEYFILE, KAFKA_SSL_CHECK_HOSTNAME."""

    @property
    def uses_tls(self) -> bool:
        return self.protocol in ("SSL", "SASL_SSL")

    @property
    def uses_sasl(self) -> bool:
        return self.protocol.startswith("SASL_")

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> KafkaSecurity:
        env = os.environ if env is None else env
        protocol = (env_optional("KAFKA_SECURITY_PROTOCOL", env) or "PLAINTEXT").upper()
        if protocol not in KAFKA_PROTOCOLS:
            raise SettingsError(
                f"KAFKA_SECURITY_PROTOCOL={protocol!r} is not one of {', '.join(KAFKA_PROTOCOLS)}"
            )
        tls = TlsFiles.from_env(env, "KAFKA_SSL_", ("CAFILE", "CERTFILE", "KEYFILE"), True)
        if tls.any_set() and protocol not in ("SSL", "SASL_SSL"):
            raise SettingsError(
                f"KAFKA_SSL_* files are set but KAFKA_SECURITY_PROTOCOL={protocol} does not use "
                "TLS: use SSL or SASL_SSL"
            )
        security = cls(
            protocol,
            *_sasl(env, protocol),
            _checked_ca(tls, "KAFKA_SSL_CAFILE") if protocol in ("SSL", "SASL_SSL") else None,
        )
        return security

    def client_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for every aiokafka client (consumer, producer, admin)."""
        kwargs: dict[str, Any] = {"security_protocol": self.protocol}
        if self.tls is not None:
            kwargs["ssl_context"] = self.tls.context()
        if self.uses_sasl:
            assert self.sasl_password is not None  # from_env checked it
            kwargs["sasl_mechanism"] = self.sasl_mechanism
            kwargs["sasl_plain_username"] = self.sasl_username
            kwargs["sasl_plain_password"] = self.sasl_password.reveal()
        return kwargs


def _sasl(env: Mapping[str, str], protocol: str) -> tuple[str | None, str | None, Secret | None]:
    mechanism = (env_optional("KAFKA_SASL_MECHANISM", env) or "").upper() or None
    user_secret = env_secret(env, "KAFKA_SASL_USERNAME")
    username = user_secret.reveal() if user_secret else None
    password = env_secret(env, "KAFKA_SASL_PASSWORD")
    if not protocol.startswith("SASL_"):
        if mechanism or username or password:
            raise SettingsError(
                f"KAFKA_SASL_* is set but KAFKA_SECURITY_PROTOCOL={protocol} does not use SASL: "
                "use SASL_SSL (or SASL_PLAINTEXT), or unset the KAFKA_SASL_* variables"
            )
        return None, None, None
    if mechanism is None:
        raise SettingsError(
            f"KAFKA_SECURITY_PROTOCOL={protocol} needs KAFKA_SASL_MECHANISM "
            f"({', '.join(KAFKA_MECHANISMS)})"
        )
    if mechanism not in KAFKA_MECHANISMS:
        raise SettingsError(
            f"KAFKA_SASL_MECHANISM={mechanism!r} is not one of {', '.join(KAFKA_MECHANISMS)}"
        )
    if username is None or password is None:
        raise SettingsError(
            f"KAFKA_SASL_MECHANISM={mechanism} needs KAFKA_SASL_USERNAME and "
            "KAFKA_SASL_PASSWORD_FILE (or KAFKA_SASL_PASSWORD)"
        )
    return mechanism, username, password


@dataclass(frozen=True, slots=True)
class PostgresSecurity:
    sslmode: str | None = None
    """PGSSLMODE: disable, allow, prefer, require, verify-ca or verify-full; unset: asyncpg's
    default (prefer)."""
    tls: TlsFiles | None = None
    """PGSSLROOTCERT (the CA; unset: the system's), PGSSLCERT and PGSSLKEY (a client cert)."""
    password: Secret | None = None
    """PGPASSWORD_FILE or PGPASSWORD: the password, used when DATABASE_URL carries none."""

    @classmethod
    def from_env(
        cls, env: Mapping[str, str] | None = None, database_url: str | None = None
    ) -> PostgresSecurity:
        env = os.environ if env is None else env
        mode = (env_optional("PGSSLMODE", env) or "").lower() or None
        if mode is not None and mode not in PG_SSLMODES:
            raise SettingsError(f"PGSSLMODE={mode!r} is not one of {', '.join(PG_SSLMODES)}")
        tls = TlsFiles.from_env(env, "PGSSL", ("ROOTCERT", "CERT", "KEY"), False)
        tls = _checked_ca(tls, "PGSSLROOTCERT")
        if tls.any_set() and mode not in ("require", "verify-ca", "verify-full"):
            raise SettingsError(
                "PGSSLROOTCERT/PGSSLCERT/PGSSLKEY are set but PGSSLMODE is "
                f"{mode or 'unset'}: use verify-full (or verify-ca, require)"
            )
        password = env_secret(env, "PGPASSWORD")
        if database_url and urlsplit(database_url).password:
            password = None  # as libpq: the URL's password wins
        if mode in ("require", "verify-ca", "verify-full"):
            # libpq: require with a CA file verifies the chain like verify-ca.
            verify = mode != "require" or tls.cafile is not None
            tls = TlsFiles(
                "PGSSL", tls.cafile, tls.certfile, tls.keyfile, mode == "verify-full", verify
            )
            return cls(mode, tls, password)
        return cls(mode, None, password)

    def connect_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for asyncpg.connect/create_pool (SQLAlchemy: connect_args)."""
        kwargs: dict[str, Any] = {}
        if self.tls is not None:
            kwargs["ssl"] = self.tls.context()
        elif self.sslmode is not None:
            kwargs["ssl"] = self.sslmode  # disable, allow, prefer: asyncpg's own handling
        if self.password is not None:
            kwargs["password"] = self.password.reveal()
        return kwargs


@dataclass(frozen=True, slots=True)
class RedisSecurity:
    username: str | None = None
    """REDIS_USERNAME (or REDIS_USERNAME_FILE): the ACL user (unset: `default`)."""
    password: Secret | None = None
    """REDIS_PASSWORD_FILE or REDIS_PASSWORD, used when REDIS_URL carries none."""
    tls: TlsFiles | None = None
    """With a rediss:// URL: REDIS_SSL_CAFILE, REDIS_SSL_CERTFILE, REDIS_SSL_KEYFILE,
    REDIS_SSL_CHECK_HOSTNAME (true)."""

    @classmethod
    def from_env(
        cls, env: Mapping[str, str] | None = None, redis_url: str | None = None
    ) -> RedisSecurity:
        env = os.environ if env is None else env
        tls = TlsFiles.from_env(env, "REDIS_SSL_", ("CAFILE", "CERTFILE", "KEYFILE"), True)
        tls = _checked_ca(tls, "REDIS_SSL_CAFILE")
        secure_url = bool(redis_url) and str(redis_url).startswith("rediss://")
        if tls.any_set() and redis_url and not secure_url:
            raise SettingsError(
                "REDIS_SSL_* files are set but REDIS_URL is not rediss://: use rediss://host:port"
            )
        password = env_secret(env, "REDIS_PASSWORD")
        if redis_url and urlsplit(redis_url).password:
            password = None  # the URL's password wins, as for PostgreSQL
        username = env_secret(env, "REDIS_USERNAME")
        user = username.reveal() if username else None
        return cls(user, password, tls if secure_url else None)

    def client_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for redis-py's from_url (the URL says redis:// or rediss://)."""
        kwargs: dict[str, Any] = {}
        if self.username is not None:
            kwargs["username"] = self.username
        if self.password is not None:
            kwargs["password"] = self.password.reveal()
        if self.tls is not None:
            kwargs["ssl_cert_reqs"] = "required"
            kwargs["ssl_check_hostname"] = self.tls.check_hostname
            for key, path in (
                ("ssl_ca_certs", self.tls.cafile),
                ("ssl_certfile", self.tls.certfile),
                ("ssl_keyfile", self.tls.keyfile),
            ):
                if path is not None:
                    kwargs[key] = str(path)
        return kwargs


def redis_kwargs(url: str, security: RedisSecurity | None = None) -> dict[str, Any]:
    """redis-py's keyword arguments for `url`: `security`, or when None the environment's."""
    return (RedisSecurity.from_env(redis_url=url) if security is None else security).client_kwargs()
