"""Reading typed settings from the environment, with errors a user can act on."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path


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


class Secret:
    """A credential: `reveal()` gives it to a client; str/repr never show it."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


def env_existing_file(env: Mapping[str, str], name: str) -> Path | None:
    """A path that must name a file (a mounted Secret, a CA bundle); None when unset."""
    value = env.get(name) or None
    if value is None:
        return None
    path = Path(value)
    if not path.is_file():
        raise SettingsError(f"{name}={value}: no such file (is the Secret mounted there?)")
    return path


def env_secret(env: Mapping[str, str], name: str) -> Secret | None:
    """NAME_FILE (contents, one trailing newline dropped) or NAME; both set is an error."""
    direct, path = env.get(name) or None, env_existing_file(env, f"{name}_FILE")
    if direct is not None and path is not None:
        raise SettingsError(f"{name} and {name}_FILE are both set: set only one")
    if path is None:
        return Secret(direct) if direct is not None else None
    try:
        text = path.read_text()
    except OSError as exc:
        raise SettingsError(f"{name}_FILE={path}: cannot read it ({exc.strerror})") from None
    return Secret(text.removesuffix("\n").removesuffix("\r")) if text.strip() else None


def env_flag(env: Mapping[str, str], name: str, default: bool) -> bool:
    """true/false, 1/0, yes/no, on/off."""
    raw = ((env.get(name) or None) or ("true" if default else "false")).strip().lower()
    if raw in ("1", "true", "yes", "on"):
        return True
    if raw in ("0", "false", "no", "off"):
        return False
    raise SettingsError(f"{name}={raw!r} is not a boolean (use true or false)")
