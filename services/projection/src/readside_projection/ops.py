"""A small HTTP endpoint for probes and scraping: /livez, /readyz, /metrics.

Deliberately tiny (asyncio streams, HTTP/1.0 style, one request per connection): the projection
service has no web framework, and the query service must not share its process.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

log = logging.getLogger(__name__)


@dataclass(slots=True)
class Health:
    """What readiness depends on; the consumer loop and its checks keep it current."""

    database: str | None = "not checked yet"  # None when fine, else why not
    kafka: str | None = "not checked yet"
    # Partitions stopped at an event version this projection does not know (stalls.py).
    stalled: dict[tuple[str, int], str] = field(default_factory=dict)

    @property
    def problems(self) -> list[str]:
        found = [f"postgresql: {self.database}"] if self.database else []
        found += [f"kafka: {self.kafka}"] if self.kafka else []
        found += [f"{t}[{p}]: {why}" for (t, p), why in sorted(self.stalled.items())]
        return found


def _response(status: str, body: bytes, content_type: str = "text/plain; charset=utf-8") -> bytes:
    head = (
        f"HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    )
    return head.encode() + body


def route(path: str, health: Health) -> bytes:
    if path == "/livez":
        return _response("200 OK", b"ok\n")
    if path == "/readyz":
        problems = health.problems
        if problems:
            return _response("503 Service Unavailable", ("\n".join(problems) + "\n").encode())
        return _response("200 OK", b"ready\n")
    if path == "/metrics":
        return _response("200 OK", generate_latest(), CONTENT_TYPE_LATEST)
    return _response("404 Not Found", b"try /livez, /readyz or /metrics\n")


async def serve_ops(port: int, health: Health, host: str = "0.0.0.0") -> asyncio.Server:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request_line = await asyncio.wait_for(reader.readline(), timeout=5)
            parts = request_line.decode("latin-1").split()
            path = parts[1].split("?")[0] if len(parts) >= 2 else "/"
            writer.write(route(path, health))
            await writer.drain()
        except (TimeoutError, ConnectionError) as exc:
            log.debug("ops request dropped: %s", exc)
        finally:
            writer.close()

    server = await asyncio.start_server(handle, host, port)
    log.info("ops endpoint on %s:%d (/livez, /readyz, /metrics)", host, port)
    return server
