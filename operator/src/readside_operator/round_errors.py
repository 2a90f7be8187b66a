"""What to tell of a round that failed unexpectedly (a 403 from RBAC, a bad spec, a bug), and
whether it is news: once per distinct error, not every poll (pure). `round_error_report`
tells it on the resource.
"""

from __future__ import annotations

from dataclasses import dataclass

from lightkube import ApiError

CONDITION = "RoundFailed"


def describe(exc: BaseException) -> tuple[str, str]:
    """(reason, message) of an unexpected error, saying what to do where we know it."""
    if isinstance(exc, ApiError):
        code, reason = exc.status.code, exc.status.reason or "ApiError"
        message = f"Kubernetes API answered {code} {reason}: {exc.status.message}"
        if code == 403:
            message += "; grant it in the operator's Role (the chart's operator-rbac.yaml)"
        return reason, message
    return type(exc).__name__, f"{type(exc).__name__}: {exc}"


@dataclass(slots=True)
class ErrorMemory:
    """The last distinct error of one resource's loop (pure)."""

    last: str | None = None

    def failed(self, message: str) -> bool:
        """Remember `message`; True when it differs from the last one (worth telling)."""
        new = message != self.last
        self.last = message
        return new

    def succeeded(self) -> bool:
        """Forget the error; True when there was one (the condition is to be cleared)."""
        had = self.last is not None
        self.last = None
        return had
