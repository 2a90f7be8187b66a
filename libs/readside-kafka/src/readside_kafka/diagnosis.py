"""Why a Kafka client cannot connect, in one line naming the setting to fix.

aiokafka reports a failed bootstrap as "Unable to bootstrap from [...]" and logs the cause
separately; `diagnose` opens one connection the way the clients do (same TLS and SASL) and
`explain` maps what went wrong to the variable a user changes (connection_security's names).
Messages never contain a credential: only the broker's words and our own.
"""

from __future__ import annotations

import asyncio
import ssl

from aiokafka.conn import create_conn
from aiokafka.errors import KafkaConnectionError, KafkaError, UnsupportedSaslMechanismError

from readside_core.connection_security import KafkaSecurity

DIAGNOSE_SECONDS = 5.0


def explain(exc: BaseException, security: KafkaSecurity) -> str:
    """A one-line cause and the setting to change."""
    text = str(exc) or type(exc).__name__
    if isinstance(exc, UnsupportedSaslMechanismError):
        return (
            f"the broker does not enable KAFKA_SASL_MECHANISM={security.sasl_mechanism} on this "
            "listener: set KAFKA_SASL_MECHANISM to one it enables (PLAIN, SCRAM-SHA-256 or "
            "SCRAM-SHA-512, as the Kafka operators say)"
        )
    if _is_authentication_failure(exc):
        return (
            f"the broker refused the SASL credentials ({security.sasl_mechanism}): check "
            "KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD_FILE (or KAFKA_SASL_PASSWORD)"
        )
    if isinstance(exc, ssl.SSLError):
        return _tls_hint(exc, security, text)
    if security.uses_tls and isinstance(exc, ConnectionError | KafkaConnectionError):
        # A TLS 1.3 server checks the client certificate after the handshake: the client
        # sees the connection drop on its first request.
        return (
            f"the broker closed the TLS connection ({text}): it may require a client "
            "certificate (KAFKA_SSL_CERTFILE and KAFKA_SSL_KEYFILE), or the listener may not "
            f"speak {security.protocol} (KAFKA_SECURITY_PROTOCOL)"
        )
    if isinstance(exc, ConnectionError | KafkaConnectionError | TimeoutError | OSError):
        return _protocol_hint(security, text)
    return text


def _tls_hint(exc: ssl.SSLError, security: KafkaSecurity, text: str) -> str:
    lowered = text.lower()
    if isinstance(exc, ssl.SSLCertVerificationError):
        if "hostname" in lowered or "ip address mismatch" in lowered:
            return (
                f"the broker's certificate does not name the address connected to ({text}): "
                "use a broker address its certificate names in KAFKA_BROKERS (or, only for a "
                "test, KAFKA_SSL_CHECK_HOSTNAME=false)"
            )
        return (
            f"the broker's certificate is not trusted ({text}): set KAFKA_SSL_CAFILE to the "
            "CA bundle that signed the brokers' certificates"
        )
    if "certificate required" in lowered or "handshake failure" in lowered:
        return (
            f"the broker requires a client certificate ({text}): set KAFKA_SSL_CERTFILE "
            "and KAFKA_SSL_KEYFILE"
        )
    if "wrong version number" in lowered or "record layer failure" in lowered:
        return _protocol_hint(security, text)
    return f"TLS with the broker failed ({text}): check the KAFKA_SSL_* settings"


def _is_authentication_failure(exc: BaseException) -> bool:
    name = type(exc).__name__
    text = str(exc).lower()
    return "SaslAuthentication" in name or "authentication failed" in text


def _protocol_hint(security: KafkaSecurity, text: str) -> str:
    return (
        f"cannot talk to the broker with KAFKA_SECURITY_PROTOCOL={security.protocol} ({text}): "
        "check KAFKA_BROKERS and that the listener's protocol matches"
    )


def _first_broker(bootstrap_servers: str) -> tuple[str, int]:
    first = bootstrap_servers.split(",")[0].strip()
    host, _, port = first.rpartition(":")
    return (host.strip("[]") or first, int(port) if port.isdigit() else 9092)


async def diagnose(bootstrap_servers: str, security: KafkaSecurity) -> str | None:
    """Connect to the first bootstrap server as the clients do: None when that works, else
    the cause in one line (see `explain`)."""
    host, port = _first_broker(bootstrap_servers)
    try:
        async with asyncio.timeout(DIAGNOSE_SECONDS):
            conn = await create_conn(
                host,
                port,
                request_timeout_ms=int(DIAGNOSE_SECONDS * 1000),
                **security.client_kwargs(),
            )
    except (KafkaError, OSError, TimeoutError, ValueError) as exc:
        return explain(exc, security)
    conn.close()
    return None
