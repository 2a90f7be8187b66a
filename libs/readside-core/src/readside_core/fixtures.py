"""Reading event files in the fixtures' format: one JSON object per line, {"key", "value"}.

Used by the event tool (publishing) and by tests (expected read models); `value` may be an
object (the fixtures) or a string holding the raw message (to carry malformed messages).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import msgspec


class KeyedMessage(msgspec.Struct, frozen=True):
    key: str | None
    value: msgspec.Raw


def read_messages(path: Path) -> Iterator[tuple[bytes | None, bytes]]:
    """Yield (key, value) byte pairs, the value exactly as it would travel on Kafka."""
    decoder = msgspec.json.Decoder(KeyedMessage)
    with path.open("rb") as lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                message = decoder.decode(line)
            except msgspec.DecodeError as exc:
                raise ValueError(f"{path}:{number}: not a {{key, value}} line: {exc}") from None
            value = bytes(message.value)
            if value.startswith(b'"'):
                value = msgspec.json.decode(value, type=str).encode()
            yield (message.key.encode() if message.key is not None else None, value)
