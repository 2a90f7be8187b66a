"""Names of what the operator creates for a replay, unique for every legal replay name.

A ProjectionReplay's name may be 253 characters of a-z, 0-9, '-' and '.'; a Job or label value
holds 63 and a PostgreSQL schema 63. A name that fits and maps one-to-one is kept readable
(`rebuild-reset`, `rm_rebuild`); any other is cut and suffixed with a hash of the whole, so two
replays (or one replay's reset, promote and drop Jobs) never share a name.
"""

from __future__ import annotations

import hashlib
import re

HASH_LENGTH = 10
_NOT_DNS_LABEL = re.compile(r"[^a-z0-9-]+")
_PLAIN_NAME = re.compile(r"[a-z0-9]+(-[a-z0-9]+)*")  # '-' -> '_' is then one-to-one
_SCHEMA_PREFIX = "rm_"


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:HASH_LENGTH]


def child_name(*parts: str, limit: int = 63) -> str:
    """A DNS-1123 label of at most `limit` characters, from parts joined by '-'."""
    joined = "-".join(parts)
    name = _NOT_DNS_LABEL.sub("-", joined.lower()).strip("-")
    if name == joined and len(name) <= limit:
        return name
    return f"{name[: limit - HASH_LENGTH - 1].rstrip('-')}-{_digest(joined)}"


def label_value(name: str) -> str:
    """An object name as a label value (at most 63 characters)."""
    if len(name) <= 63:
        return name
    return f"{name[: 63 - HASH_LENGTH - 1].rstrip('-.')}-{_digest(name)}"


def schema_name(replay: str) -> str:
    """The PostgreSQL schema of the read-model version a BlueGreen replay builds."""
    plain = replay.lower()
    body = re.sub(r"[^a-z0-9]+", "_", plain).strip("_")
    if _PLAIN_NAME.fullmatch(plain) and len(_SCHEMA_PREFIX + body) <= 63:
        return _SCHEMA_PREFIX + body
    cut = (_SCHEMA_PREFIX + body)[: 63 - HASH_LENGTH - 1].rstrip("_")
    return f"{cut}_{_digest(replay)}"
