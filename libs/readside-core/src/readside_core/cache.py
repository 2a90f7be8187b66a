"""The cache protocol shared by the query service (reads, fills) and the projection (updates).

The keys themselves belong to a read-model version (readside_core.read_model_version). In
Redis every entry expires after CACHE_TTL_SECONDS; for the `public` version:
- `order:{uuid}`: the order's JSON response body (the seed's key, `version` its last field),
  or a *mark* `{"version":N}`: the order changed to version N and nobody has read it since.
  Bodies are written only through `SET_IF_NEWER`, which compares `version`, so a slow reader
  can never overwrite a newer value. After each commit the projection sends the changed
  orders' versions (`MARK_OR_FIND`): an order Redis holds a body of (somebody read it) gets its
  new body written through, every other one a mark. The query service takes a mark for a miss,
  reads PostgreSQL and fills over it (a body replaces a mark of the same version). So nothing
  is encoded or stored for the orders nobody reads (a rebuild, a backlog), and a reader that
  read the row before the commit cannot fill over a newer mark.
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

from collections.abc import Iterable, Sequence
from typing import Final

import msgspec
import redis.asyncio as aioredis

from readside_core.read_model_version import PUBLIC_SCHEMA, ReadModelVersion
from readside_core.views import OrderView, json_encoder, order_to_json

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

MARK_HEAD: Final = b'{"version":'  # an order body starts with `{"order_id":`


def mark(version: int) -> bytes:
    """The mark of an order changed to `version` that nobody has read since."""
    return MARK_HEAD + str(version).encode() + b"}"


def is_mark(cached: bytes) -> bool:
    return cached.startswith(MARK_HEAD)


# KEYS = order keys; ARGV = ttl seconds, then a version and a body per key.
# Writes each body unless the cached entry has a newer `version` (the last field of a body or
# a mark, read without decoding the JSON), or the same one in a body. Returns how many were
# written.
SET_IF_NEWER: Final = """
local ttl = ARGV[1]
local written = 0
for i, key in ipairs(KEYS) do
  local version = tonumber(ARGV[2 * i])
  local current = redis.call('GET', key)
  local cached = current and tonumber(string.match(current, '"version":(%d+)}$'))
  local marked = cached == version and string.sub(current, 1, 11) == '{"version":'
  if not cached or cached < version or marked then
    redis.call('SET', key, ARGV[2 * i + 1], 'EX', ttl)
    written = written + 1
  end
end
return written
"""

# KEYS = order keys; ARGV = ttl seconds, then the new version of each (a projection's commit).
# A key holding an older body is left as it is and its index (from 1) returned: the caller
# writes the new body with SET_IF_NEWER. A key absent or holding an older mark gets the new
# mark. A key at the version or newer is left alone.
MARK_OR_FIND: Final = """
local ttl = ARGV[1]
local found = {}
for i, key in ipairs(KEYS) do
  local version = tonumber(ARGV[i + 1])
  local current = redis.call('GET', key)
  local cached = current and tonumber(string.match(current, '"version":(%d+)}$'))
  if not cached or cached < version then
    if current and string.sub(current, 1, 11) ~= '{"version":' then
      found[#found + 1] = i
    else
      redis.call('SET', key, '{"version":' .. version .. '}', 'EX', ttl)
    end
  end
end
return found
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


class ChangeSender:
    """The projection's side of the protocol, after each commit: the changed orders (bodies
    written through where Redis holds one, marks elsewhere), then in one pipeline the bodies,
    the generations of the touched scopes and the Invalidation message."""

    def __init__(self, client: aioredis.Redis, version: ReadModelVersion, ttl_seconds: int):
        self._client = client
        self._version = version
        self._ttl = ttl_seconds
        self._mark_or_find = client.register_script(MARK_OR_FIND)
        self._set_if_newer = client.register_script(SET_IF_NEWER)
        self._bump = client.register_script(BUMP_GENERATIONS)

    async def send(
        self,
        orders: Sequence[OrderView],
        scopes: Iterable[str],
        *,
        flush: bool = False,
        offsets: dict[str, dict[int, int]] | None = None,
    ) -> None:
        keys = [self._version.order_key(view.order_id) for view in orders]
        held: list[int] = []
        if orders:
            versions = [view.version for view in orders]
            held = await self._mark_or_find(keys=keys, args=[self._ttl, *versions])
        scopes = sorted(scopes)
        async with self._client.pipeline(transaction=False) as pipe:
            if held:
                args: list[bytes | int] = [self._ttl]
                for index in held:
                    view = orders[index - 1]
                    args += [view.version, json_encoder.encode(order_to_json(view))]
                found_keys = [keys[index - 1] for index in held]
                await self._set_if_newer(keys=found_keys, args=args, client=pipe)
            if scopes:
                generations = [self._version.generation_key(scope) for scope in scopes]
                await self._bump(keys=generations, args=[self._ttl], client=pipe)
            message = Invalidation(
                orders=[str(view.order_id) for view in orders],
                scopes=scopes,
                flush=flush,
                schema=self._version.schema,
                offsets=offsets or {},
            )
            pipe.publish(INVALIDATION_CHANNEL, invalidation_encoder.encode(message))
            await pipe.execute()
