"""Reading typed settings from the environment, with errors a user can act on."""

from __future__ import annotations

import os
from collections.abc import Mapping


class SettingsError(ValueError):
    """A setting is missing or malformed; the message names the variable and what is expected."""


def env_str(name: str, default: str | None = None, env: Mapping[str, str] | None = None) -> str:
    value = (os.environ if env is None else env).get(name, default)
    if value is None or value == "":
        raise SettingsError(f"{name} is not set; set it in the environment (see README.md)")
    return value


def env_int(
    name: str,
    default: int,
    *,
    minimum: int | None = None,
    env: Mapping[str, str] | None = None,
) -> int:
    raw = (os.environ if env is None else env).get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{name}={raw!r} is not a whole number") from None
    if minimum is not None and value < minimum:
        raise SettingsError(f"{name}={value} is below the minimum of {minimum}")
    return value


def env_float(
    name: str, default: float, *, minimum: float = 0.0, env: Mapping[str, str] | None = None
) -> float:
    raw = (os.environ if env is None else env).get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(f"{name}={raw!r} is not a number") from None
    if value < minimum:
        raise SettingsError(f"{name}={value} is below the minimum of {minimum}")
    return value


def env_optional(name: str, env: Mapping[str, str] | None = None) -> str | None:
    """A setting that may be absent: None when unset or empty."""
    return (os.environ if env is None else env).get(name) or None
