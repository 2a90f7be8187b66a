"""Strong ETags for order bodies, and If-None-Match matching (RFC 9110, section 13.1.2).

The tag is a hash of the exact body bytes, so equal tags mean byte-equal bodies (what a
strong validator promises), whichever route (by id, by number) served them.
"""

from __future__ import annotations

import hashlib


class TaggedBody:
    """A response body with its ETag, computed once when it enters the cache."""

    __slots__ = ("body", "etag", "raw_headers")

    def __init__(self, body: bytes) -> None:
        self.body = body
        self.etag = '"' + hashlib.blake2b(body, digest_size=16).hexdigest() + '"'
        # The 200 response's headers, ready for ASGI (copied per response: servers may mutate).
        self.raw_headers = (
            (b"content-type", b"application/json"),
            (b"etag", self.etag.encode()),
            (b"content-length", str(len(body)).encode()),
        )


def none_match(if_none_match: str | None, etag: str) -> bool:
    """True when the client's If-None-Match names this representation (answer 304).

    The comparison is weak, as the RFC requires for If-None-Match: `W/"x"` matches `"x"`.
    """
    if if_none_match is None:
        return False
    candidates = if_none_match.strip()
    if candidates == "*":
        return True
    for candidate in candidates.split(","):
        tag = candidate.strip()
        if tag.startswith("W/"):
            tag = tag[2:]
        if tag == etag:
            return True
    return False
