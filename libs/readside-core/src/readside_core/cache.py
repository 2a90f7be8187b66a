"""The cache protocol shared by the query service (reads, fills) and the projection (updates).

Redis layout (every entry expires after CACHE_TTL_SECONDS):
- `order:{uuid}`: the order's JSON response body (the seed's key, `version` its last field).
  Written only through `SET_IF_NEWER`, which compares `version`, so a slow reader can never
  overwrite a newer value: the projection writes the new body after each commit (write-through), the
  query service fills on a miss.
- list pages and summaries belong to a *scope* (`customer:{uuid}`, `status:{STATUS}`).
  Each scope has a generation counter `gen:{scope}`; a page is stored under
  `page:{scope}:{generation}:{query}`. The projection increments the generations of every
  scope it touched after each commit, which orphans all older pages at once; a reader that
  filled from an older generation writes a key nobody reads again.
- channel `readside:invalidate`: after each commit the projection publishes the order ids and
  scopes it changed, so query pods drop the same entries from their in-process caches.
"""

from __future__ import annotations

from typing import Final
from uuid import UUID

import msgspec

INVALIDATION_CHANNEL: Final = "readside:invalidate"


def order_key(order_id: UUID | str) -> str:
    return f"order:{order_id}"


def customer_scope(customer_id: UUID | str) -> str:
    return f"customer:{customer_id}"


def status_scope(status: str) -> str:
    return f"status:{status}"


def generation_key(scope: str) -> str:
    return f"gen:{scope}"


def page_key(scope: str, generation: int, query: str) -> str:
    return f"page:{scope}:{generation}:{query}"


class Invalidation(msgspec.Struct, frozen=True):
    """What one projection commit changed: published on INVALIDATION_CHANNEL."""

    orders: list[str]
    scopes: list[str]
    # True when the projection could not keep track of everything it changed (Redis was away
    # too long): pods must drop their whole in-process cache.
    flush: bool = False


invalidation_encoder = msgspec.json.Encoder()
invalidation_decoder = msgspec.json.Decoder(Invalidation)

# KEYS = order keys; ARGV = ttl seconds, then a version and a body per key.
# Writes each body unless the cached one has the same or a newer `version` (the last field of
# the body, read without decoding the JSON). Returns how many were written.
SET_IF_NEWER: Final = """
local ttl = ARGV[1]
local written = 0
for i, key in ipairs(KEYS) do
  local version = tonumber(ARGV[2 * i])
  local current = redis.call('GET', key)
  local cached = current and tonumber(string.match(current, '"version":(%d+)}$'))
  if not cached or cached < version then
    redis.call('SET', key, ARGV[2 * i + 1], 'EX', ttl)
    written = written + 1
  end
end
return written
"""

# KEYS[1] = generation key; ARGV = scope, query, ttl seconds. Returns {generation, page or false}.
# Reading refreshes the generation's expiry (twice the TTL): a generation key can only
# lapse, and restart from zero, once every page filled under it has expired.
GET_PAGE: Final = """
local generation = tonumber(redis.call('GET', KEYS[1]) or '0')
if generation > 0 then redis.call('EXPIRE', KEYS[1], 2 * tonumber(ARGV[3])) end
local page = redis.call('GET', 'page:' .. ARGV[1] .. ':' .. generation .. ':' .. ARGV[2])
return {generation, page}
"""

# KEYS = generation keys; ARGV[1] = ttl seconds. Bumps every touched scope at once.
BUMP_GENERATIONS: Final = """
for _, key in ipairs(KEYS) do
  redis.call('INCR', key)
  redis.call('EXPIRE', key, 2 * tonumber(ARGV[1]))
end
return #KEYS
"""
