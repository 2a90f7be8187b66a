"""Which PostgreSQL failures are an outage to wait out and which a rejected statement."""

from __future__ import annotations

import asyncpg
import pytest

from readside_core.database_errors import describe, is_rejection

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    "error",
    [
        ConnectionRefusedError("connect failed"),
        TimeoutError(),
        asyncpg.InterfaceError("connection is closed"),
        asyncpg.CannotConnectNowError("the database system is starting up"),
        asyncpg.AdminShutdownError("terminating connection due to administrator command"),
        asyncpg.TooManyConnectionsError("sorry, too many clients already"),
        asyncpg.SerializationError("could not serialize access"),
        asyncpg.DeadlockDetectedError("deadlock detected"),
        asyncpg.ReadOnlySQLTransactionError("cannot execute INSERT in a read-only transaction"),
        asyncpg.InvalidPasswordError("password authentication failed for user readside"),
        asyncpg.InvalidCatalogNameError('database "readside" does not exist'),
    ],
)
def test_connection_trouble_is_an_outage(error: BaseException) -> None:
    assert not is_rejection(error)
    assert "rejected" not in describe(error)


@pytest.mark.parametrize(
    ("error", "state"),
    [
        (asyncpg.UndefinedTableError('relation "order_views" does not exist'), "42P01"),
        (asyncpg.CheckViolationError("violates check constraint"), "23514"),
        (asyncpg.InsufficientPrivilegeError("permission denied for table order_views"), "42501"),
        (asyncpg.NumericValueOutOfRangeError("numeric field overflow"), "22003"),
    ],
)
def test_a_refused_statement_is_a_rejection_naming_its_sqlstate(
    error: BaseException, state: str
) -> None:
    assert is_rejection(error)
    assert describe(error).startswith(f"PostgreSQL rejected the statement (SQLSTATE {state}): ")


def test_the_password_advice_names_the_setting() -> None:
    error = asyncpg.InvalidPasswordError('password authentication failed for user "readside"')
    assert "PGPASSWORD_FILE" in describe(error)
