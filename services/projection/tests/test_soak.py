"""The chaos soak: everything that can happen to a projection at once, then the exact fold.

For SOAK_SECONDS (60 in `make test`, 600 in `make soak-projection`): 2 to 4 projection
processes join and leave the group every few seconds, some by kill -9; the broker restarts
once and PostgreSQL once; a producer with retries (a failed chunk is sent again: real
duplicates at new offsets, besides the generator's own re-published events) publishes at a
varying rate into a topic created moments before the group joins. At the end every order
and every customer summary must equal the pure fold of everything published.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import time
from collections import Counter
from typing import Any

import pytest
from aiokafka.errors import KafkaError

from readside_projection.generator import generate

pytestmark = pytest.mark.integration
SOAK_SECONDS = float(os.environ.get("SOAK_SECONDS", "60"))
SEED = int(os.environ.get("SOAK_SEED", "20261206"))
PUBLISH_DEADLINE = 120  # seconds for a chunk: aiokafka's own request timeouts are 40 s
RESTART_DEADLINE = 300  # seconds for a server restart: stack.sh waits 120 s to stop, 120 to start


async def _publish_with_retries(
    harness: Any, messages: list[Any], rng: random.Random, until: float, did: Counter[str]
) -> list[Any]:
    """Publish chunks at a varying rate until `until`; a chunk that fails is sent again."""
    sent: list[Any] = []
    position = 0
    while time.monotonic() < until and position < len(messages):
        chunk = messages[position : position + rng.randint(200, 1500)]
        while True:
            try:
                async with asyncio.timeout(PUBLISH_DEADLINE):
                    await harness.publish(chunk)
                break
            except (KafkaError, TimeoutError) as exc:  # the broker restarting: send it again
                did["publish retries"] += 1
                print(f"publish retry after {exc!r}")
                await asyncio.sleep(0.5)
        sent += chunk
        position += len(chunk)
        did["events published"] = len(sent)
        await asyncio.sleep(rng.uniform(0.0, 1.0))  # the rate varies chunk by chunk
    return sent


async def _churn(
    harness: Any, stack_ctl: Any, rng: random.Random, until: float, did: Counter[str]
) -> None:
    """Members join, leave and die; the broker and PostgreSQL restart once each."""
    members = [harness.projection(), harness.projection()]
    restarts = {"kafka": time.monotonic() + SOAK_SECONDS / 3}
    restarts["postgres"] = time.monotonic() + 2 * SOAK_SECONDS / 3
    while time.monotonic() < until:
        await asyncio.sleep(rng.uniform(2.0, 5.0))
        for server, at in list(restarts.items()):
            if time.monotonic() >= at:
                del restarts[server]
                async with asyncio.timeout(RESTART_DEADLINE):
                    await asyncio.to_thread(stack_ctl, "restart", server)
                did[f"{server} restarts"] += 1
        members = [m for m in members if m.alive()]
        action = rng.choice(["join", "leave", "kill"])
        if action == "join" and len(members) < 4:
            members.append(harness.projection())
            did["joins"] += 1
        elif action in ("leave", "kill") and len(members) > 2:
            leaving = members.pop(rng.randrange(len(members)))
            leaving.kill(signal.SIGKILL if action == "kill" else signal.SIGTERM)
            did["kill -9" if action == "kill" else "leaves"] += 1
        elif action == "kill":  # at 2 members: kill one and start a fresh one
            members.pop(rng.randrange(len(members))).kill(signal.SIGKILL)
            members.append(harness.projection())
            did["kill -9"] += 1
            did["joins"] += 1
    while len([m for m in members if m.alive()]) < 2:
        members.append(harness.projection())


async def test_the_chaos_soak_ends_with_the_exact_fold(
    harness: Any, assert_exact: Any, stack_ctl: Any
) -> None:
    rng = random.Random(SEED)
    messages = list(generate(max(int(SOAK_SECONDS * 400), 2000), seed=SEED, duplicate_rate=0.05))
    did: Counter[str] = Counter()
    await harness.create_topic(4)  # moments before the group joins
    until = time.monotonic() + SOAK_SECONDS
    started = time.monotonic()
    churn = asyncio.create_task(_churn(harness, stack_ctl, rng, until, did))
    sent = await _publish_with_retries(harness, messages, rng, until, did)
    await churn
    await harness.wait_caught_up(within=300)
    print(
        f"\nsoak: {SOAK_SECONDS:.0f} s of chaos, caught up after {time.monotonic() - started:.0f}"
        f" s; {dict(sorted(did.items()))}; {len(sent)} of {len(messages)} generated events sent"
    )
    await assert_exact(sent)
    print("soak verdict: the read model equals the pure fold (0 lost, 0 applied twice)")
