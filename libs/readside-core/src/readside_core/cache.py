"""The cache protocol shared by the query service (reads, fills) and the projection (updates).

The keys themselves belong to a read-model version (readside_core.read_model_version). In
Redis every entry expires after CACHE_TTL_SECONDS; for the `public` version:
- `order:{uuid}`: the order's JSON response body (the seed's key, `version` its last field).
  Written only through `SET_IF_NEWER`, which compares `version`, so a slow reader can never
  overwrite a newer value: the projection writes the new body after each commit (write-through), the
  query service fills on a miss.
- list pages and summaries belong to a *scope* (`customer:{uuid}`, `status:{STATUS}`).
  Each scope has a generation counter `gen:{scope}`; a page is stored under
  `page:{scope}:{generation}:{query}`. The projection increments the generations of every
  scope it touched after each commit, which orphans all older pages at once; a reader that
  filled from an older generation writes a key nobody reads again.
- `order_number:{number}`: the order id of an order number (never changes; plain SET with TTL).
- channel `readside:invalidate`: after each commit the projection publishes the order ids and
  scopes it changed, so query pods drop the same entries from their in-process caches.

Every other version has the same keys behind the prefix `{schema}:`. Messages on the
(single) channel name their version's schema; a swap message tells query pods to re-read the
live pointer at once.
"""

from __future__ import annotations

from typing import Final

import msgspec

from readside_core.read_model_version import PUBLIC_SCHEMA

INVALIDATION_CHANNEL: Final = "readside:invalidate"


class Invalidation(msgspec.Struct, frozen=True):
    """What one projection commit changed: published on INVALIDATION_CHANNEL."""

    orders: list[str]
    scopes: list[str]
    # True when the projection could not keep track of everything it changed (Redis was away
    # too long): pods must drop their whole in-process cache.
    flush: bool = False
    # The read-model version (schema) the change belongs to: pods serving another ignore it.
    schema: str = PUBLIC_SCHEMA
    # True for `readside-projection promote`'s note that the live pointer moved to `schema`:
    # pods re-read the pointer now instead of at their next poll.
    swap: bool = False
    # The next offsets stored with this commit, by topic and partition: what read-after-write
    # requests wait for (readside_query.gating). Sent after every commit, even one that
    # changed no order.
    offsets: dict[str, dict[int, int]] = {}


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

# KEYS[1] = generation key; ARGV = page head (ReadModelVersion.page_head), query, ttl seconds.
# Returns {generation, page or false}.
# Reading refreshes the generation's expiry (twice the TTL): a generation key can only
# lapse, and restart from zero, once every page filled under it has expired.
GET_PAGE: Final = """
local generation = tonumber(redis.call('GET', KEYS[1]) or '0')
if generation > 0 then redis.call('EXPIRE', KEYS[1], 2 * tonumber(ARGV[3])) end
local page = redis.call('GET', ARGV[1] .. generation .. ':' .. ARGV[2])
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
