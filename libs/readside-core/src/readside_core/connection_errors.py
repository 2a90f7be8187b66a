"""Why a PostgreSQL or Redis connection failed, in one line naming the setting to fix.

The variables are connection_security's. Messages carry the server's or the TLS library's
words and our own, never a credential (asyncpg and redis-py do not echo passwords).
"""

from __future__ import annotations

import ssl


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _tls_hint(exc: BaseException, cafile: str, host_source: str) -> str | None:
    text = _first_line(exc)
    if isinstance(exc, ssl.SSLCertVerificationError):
        if "hostname" in text.lower() or "ip address mismatch" in text.lower():
            return (
                f"the server's certificate does not name the host in {host_source} ({text}): "
                "connect by a name the certificate lists"
            )
        return f"the server's certificate is not trusted ({text}): set {cafile} to its CA bundle"
    if isinstance(exc, ssl.SSLError):
        return f"TLS with the server failed ({text}): check {cafile} and the client certificate"
    return None


def explain_postgres_error(exc: BaseException) -> str:
    """One line for a failed PostgreSQL connection, naming PGSSLMODE, PGSSLROOTCERT... ."""
    tls = _tls_hint(exc, "PGSSLROOTCERT", "DATABASE_URL")
    if tls is not None:
        return tls
    text = _first_line(exc)
    lowered = text.lower()
    if "password authentication failed" in lowered:
        return f"{text}: check the password (DATABASE_URL, or PGPASSWORD_FILE / PGPASSWORD)"
    if "no pg_hba.conf entry" in lowered and "no encryption" in lowered:
        return f"{text}: the server requires TLS: set PGSSLMODE=verify-full and PGSSLROOTCERT"
    if "does not support ssl" in lowered or "rejected ssl upgrade" in lowered:
        return f"{text}: the server does not offer TLS: check PGSSLMODE"
    return text


def explain_redis_error(exc: BaseException) -> str:
    """One line for a failed Redis connection, naming REDIS_URL, REDIS_SSL_CAFILE... ."""
    tls = _tls_hint(exc, "REDIS_SSL_CAFILE", "REDIS_URL")
    if tls is not None:
        return tls
    text = _first_line(exc)
    lowered = text.lower()
    if "wrongpass" in lowered or "invalid username-password" in lowered:
        return f"{text}: check REDIS_USERNAME and REDIS_PASSWORD_FILE (or REDIS_PASSWORD)"
    if "noauth" in lowered or "authentication required" in lowered:
        return f"{text}: Redis wants a password: set REDIS_PASSWORD_FILE (and REDIS_USERNAME)"
    if "connection closed by server" in lowered or "connection reset" in lowered:
        return f"{text}: a TLS port needs a rediss:// REDIS_URL (and REDIS_SSL_CAFILE)"
    return text
