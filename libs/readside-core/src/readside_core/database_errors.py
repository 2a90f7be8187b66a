"""What a PostgreSQL failure means: an outage to wait out, or a rejection.

The projection retries both with capped backoff and skips nothing (a batch is never dropped,
so never lost); the query service answers an outage with 503. They differ in what they tell
the operator: an outage (no connection, the server starting or shutting down, out of
resources, a serialization failure, a failover to a read-only standby) says PostgreSQL is
unavailable; a rejection (any other SQLSTATE: an undefined table after a missed migration, a
permission, a constraint) says the statement itself was refused, with the SQLSTATE, since
waiting will not fix it.
"""

from __future__ import annotations

from typing import Final

import asyncpg

from readside_core.connection_errors import explain_postgres_error

# Every exception a PostgreSQL call on the hot path may raise (what the retry loops catch).
DATABASE_ERRORS: Final = (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError)
# SQLSTATE classes that pass: 08 connection, 40 rollback (serialization, deadlock), 53
# insufficient resources, 57 operator intervention (shutdown, cannot connect now); and
# 25006, a read-only transaction on a standby during a failover.
_TRANSIENT_CLASSES: Final = frozenset({"08", "40", "53", "57"})
_TRANSIENT_STATES: Final = frozenset({"25006"})
# Settings a user must fix, reported as an outage would be (the server will not let us in).
_CONNECTION_SETUP_CLASSES: Final = frozenset({"28", "3D"})


def is_rejection(exc: BaseException) -> bool:
    """True when PostgreSQL refused the statement itself (not a connection problem)."""
    if not isinstance(exc, asyncpg.PostgresError):
        return False
    state = str(getattr(exc, "sqlstate", "") or "")
    if state in _TRANSIENT_STATES:
        return False
    return state[:2] not in _TRANSIENT_CLASSES | _CONNECTION_SETUP_CLASSES


def describe(exc: BaseException) -> str:
    """One line for /readyz and the log: the setting to fix, or the SQLSTATE refused."""
    if is_rejection(exc):
        state = getattr(exc, "sqlstate", "")
        return (
            f"PostgreSQL rejected the statement (SQLSTATE {state}): {explain_postgres_error(exc)}"
        )
    return explain_postgres_error(exc)
