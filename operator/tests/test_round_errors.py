"""An unexpected round error is told once per distinct error (pure part)."""

from __future__ import annotations

import pytest

from readside_operator.round_errors import ErrorMemory, describe

pytestmark = pytest.mark.unit


def test_an_error_is_told_once_until_it_changes_or_a_round_succeeds() -> None:
    memory = ErrorMemory()
    assert memory.failed("403 jobs")
    assert not memory.failed("403 jobs")
    assert memory.failed("500 etcd")
    assert memory.succeeded()
    assert not memory.succeeded()
    assert memory.failed("500 etcd")


def test_a_forbidden_call_says_what_to_grant() -> None:
    import httpx2
    from lightkube import ApiError

    body = {"kind": "Status", "message": "jobs.batch is forbidden", "reason": "Forbidden"}
    request = httpx2.Request("POST", "https://api/apis/batch/v1/namespaces/shop/jobs")
    error = ApiError(response=httpx2.Response(403, json={**body, "code": 403}, request=request))
    reason, message = describe(error)
    assert reason == "Forbidden"
    assert message.startswith("Kubernetes API answered 403 Forbidden: jobs.batch is forbidden")
    assert "operator's Role" in message
    assert describe(ValueError("minReplicas must be >= 0")) == (
        "ValueError",
        "ValueError: minReplicas must be >= 0",
    )
