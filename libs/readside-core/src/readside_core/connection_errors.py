"""Why a PostgreSQL or Redis connection failed, in one line naming the setting to fix.

The variables are connection_security's. Messages carry the server's or the TLS library's
words and our own, never a credential (asyncpg and redis-py do not echo passwords).
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass


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


@dataclass(frozen=True)
class _Advice:
    """What to do when the error's first line (lowercased) holds all the words of any of
    `matches`."""

    matches: tuple[tuple[str, ...], ...]
    what_to_do: str

    def applies(self, lowered: str) -> bool:
        return any(all(word in lowered for word in words) for words in self.matches)


_POSTGRES_ADVICE = (
    _Advice(
        (("password authentication failed",),),
        "check the password (DATABASE_URL, or PGPASSWORD_FILE / PGPASSWORD)",
    ),
    _Advice(
        (("no pg_hba.conf entry", "no encryption"),),
        "the server requires TLS: set PGSSLMODE=verify-full and PGSSLROOTCERT",
    ),
    _Advice(
        (("does not support ssl",), ("rejected ssl upgrade",)),
        "the server does not offer TLS: check PGSSLMODE",
    ),
)
_REDIS_ADVICE = (
    _Advice(
        (("wrongpass",), ("invalid username-password",)),
        "check REDIS_USERNAME and REDIS_PASSWORD_FILE (or REDIS_PASSWORD)",
    ),
    _Advice(
        (("noauth",), ("authentication required",)),
        "Redis wants a password: set REDIS_PASSWORD_FILE (and REDIS_USERNAME)",
    ),
    _Advice(
        (("connection closed by server",), ("connection reset",)),
        "a TLS port needs a rediss:// REDIS_URL (and REDIS_SSL_CAFILE)",
    ),
)


def _explain(
    exc: BaseException,
    cafile: str,
    host_source: str,
    advice: tuple[_Advice, ...],
) -> str:
    tls = _tls_hint(exc, cafile, host_source)
    if tls is not None:
        return tls
    text = _first_line(exc)
    lowered = text.lower()
    for known in advice:
        if known.applies(lowered):
            return f"{text}: {known.what_to_do}"
    return text


def explain_postgres_error(exc: BaseException) -> str:
    """One line for a failed PostgreSQL connection, naming PGSSLMODE, PGSSLROOTCERT... ."""
    return _explain(exc, "PGSSLROOTCERT", "DATABASE_URL", _POSTGRES_ADVICE)


def explain_redis_error(exc: BaseException) -> str:
    """One line for a failed Redis connection, naming REDIS_URL, REDIS_SSL_CAFILE... ."""
    return _explain(exc, "REDIS_SSL_CAFILE", "REDIS_URL", _REDIS_ADVICE)
