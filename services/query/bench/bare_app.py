"""The baseline: bare Granian apps (ASGI and RSGI) answering every request with the same bytes.

The body comes from the file named by BARE_BODY_FILE (the benchmark writes an order body
there), so the comparison with the query service is byte for byte.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

BODY = Path(os.environ["BARE_BODY_FILE"]).read_bytes()
_ASGI_START = {
    "type": "http.response.start",
    "status": 200,
    "headers": [(b"content-type", b"application/json")],
}
_ASGI_BODY = {"type": "http.response.body", "body": BODY}
_RSGI_HEADERS = [("content-type", "application/json")]


async def asgi_app(scope: Any, receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    await send(_ASGI_START)
    await send(_ASGI_BODY)


class RSGIApp:
    async def __rsgi__(self, scope: Any, protocol: Any) -> None:
        protocol.response_bytes(200, _RSGI_HEADERS, BODY)


rsgi_app = RSGIApp()
