"""Read-after-write with the real parts: gated reads right after publishing, and 1,000 change
streams on one query process, side by side in one run.

    uv run python services/query/bench/bench_read_after_write.py [--rates 500,2000]

Brings the local stack up (hack/stack), creates its own database and topic, and runs one
projection and one query process as `make up` does.
- gated: generated events are published at each rate; every 20th one is also read back at
  once with `min_offsets` set to its own partition and offset (from the producer's ack). The
  figure is the round trip from the send to the answer, which must hold the event.
- streams: STREAMS idle streams are opened on orders not created yet (RSS before and after
  gives the memory per idle stream); then their events, among others, are published at
  --stream-rate; each event's delivery latency is from its send to its arrival on the
  stream. CPU and RSS are the query process's (Granian's processes together).
Everything, the clients included, shares this machine's cores: figures move with other load.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import time
import uuid
from contextlib import ExitStack
from pathlib import Path
from tempfile import TemporaryDirectory

import httpx
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from readside_projection.generator import generate
from readside_testkit.ports import free_port
from readside_testkit.processes import LocalProcesses
from readside_testkit.stack import fresh_database, stack_env
from readside_testkit.waiting import wait_until

PARTITIONS = 6
PROBE_EVERY = 20


def quantiles(values: list[float]) -> str:
    if len(values) < 2:
        return "n/a"
    cuts = statistics.quantiles(values, n=100)
    return f"p50 {cuts[49] * 1000:7.1f} ms  p99 {cuts[98] * 1000:7.1f} ms  (n={len(values):,})"


def tree_usage(pid: int) -> tuple[float, int]:
    """(CPU seconds, RSS bytes) of a process and its children (Granian's workers)."""
    cpu, rss, pending = 0.0, 0, [pid]
    while pending:
        current = pending.pop()
        try:
            stat = Path(f"/proc/{current}/stat").read_text().rsplit(")", 1)[1].split()
            status = Path(f"/proc/{current}/status").read_text()
            children = Path(f"/proc/{current}/task/{current}/children").read_text().split()
        except FileNotFoundError:
            continue
        cpu += (int(stat[11]) + int(stat[12])) / os.sysconf("SC_CLK_TCK")
        rss += next(int(x.split()[1]) * 1024 for x in status.splitlines() if x[:6] == "VmRSS:")
        pending += [int(child) for child in children]
    return cpu, rss


async def create_topic(brokers: str, topic: str) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=brokers)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, PARTITIONS, 1)])
    finally:
        await admin.close()


async def publish(
    producer: AIOKafkaProducer,
    topic: str,
    messages: list[tuple[bytes, bytes]],
    rate: float,
    on_sent: object = None,
) -> None:
    """Send at `rate`; `on_sent(i, key, started, ack_future)` for each message, if given."""
    started = time.perf_counter()
    in_flight = []
    for i, (key, value) in enumerate(messages):
        sent_at = time.perf_counter()
        ack = await producer.send(topic, value=value, key=key)
        in_flight.append(ack)
        if callable(on_sent):
            on_sent(i, key, sent_at, ack)
        ahead = (i + 1) / rate - (time.perf_counter() - started)
        if ahead > 0.002:
            await asyncio.sleep(ahead)
    await asyncio.gather(*in_flight)


async def gated(brokers: str, topic: str, base: str, rate: float, seconds: float) -> list[float]:
    """Round trips of publish-then-gated-read for every PROBE_EVERY-th event."""
    messages = list(generate(int(rate * seconds / 2.8) + 50, seed=int(rate)))[: int(rate * seconds)]
    trips: list[float] = []
    failures: list[str] = []
    probes: list[asyncio.Task[None]] = []
    producer = AIOKafkaProducer(bootstrap_servers=brokers, acks="all", linger_ms=1)
    await producer.start()
    async with httpx.AsyncClient(base_url=base, timeout=30) as client:

        async def probe(key: bytes, sent_at: float, ack: asyncio.Future[object]) -> None:
            meta = await ack
            gate = f"{meta.partition}:{meta.offset}"  # type: ignore[attr-defined]
            path = f"/api/v1/orders/{key.decode()}?min_offsets={gate}&wait=20"
            answer = await client.get(path)
            if answer.status_code != 200:
                failures.append(f"{answer.status_code} {answer.text[:200]}")
            trips.append(time.perf_counter() - sent_at)

        def on_sent(i: int, key: bytes, sent_at: float, ack: asyncio.Future[object]) -> None:
            if i % PROBE_EVERY == 0:
                probes.append(asyncio.create_task(probe(key, sent_at, ack)))

        try:
            await publish(producer, topic, messages, rate, on_sent)
            await asyncio.gather(*probes)
        finally:
            await producer.stop()
    if failures:
        raise SystemExit(f"{len(failures)} gated reads failed, e.g. {failures[0]}")
    return trips


Arrivals = dict[str, list[tuple[int, float]]]  # order id -> (version, arrival time), in order


def delivered_at(arrived: list[tuple[int, float]], version: int) -> float | None:
    """When the stream first carried this version or a later one (a batch that applied two
    events of the order at once sends only the later state)."""
    return next((at for seen, at in arrived if seen >= version), None)


async def open_stream(base: str, order_id: str, arrivals: Arrivals) -> None:
    """One SSE client on a raw connection (cheap: 1,000 of them share the benchmark's core)."""
    host, port = base.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    writer.write(f"GET /api/v1/orders/{order_id}/stream HTTP/1.1\r\nHost: b\r\n\r\n".encode())
    await writer.drain()
    try:
        while line := await reader.readline():
            if line.startswith(b"data: "):
                body = json.loads(line[6:])
                arrivals[order_id].append((body["version"], time.perf_counter()))
    finally:
        writer.close()


async def streams(
    brokers: str, topic: str, base: str, pid: int, count: int, rate: float
) -> dict[str, object]:
    messages = list(generate(count * 3, seed=7))
    watched = list(dict.fromkeys(key.decode() for key, _ in messages))[:count]
    sends: dict[tuple[str, int], float] = {}
    arrivals: Arrivals = {order: [] for order in watched}
    _, rss_before = tree_usage(pid)
    clients = [asyncio.create_task(open_stream(base, order, arrivals)) for order in watched]
    opened = await open_streams(base, count)
    await asyncio.sleep(2)
    _, rss_idle = tree_usage(pid)
    versions: dict[str, int] = {}

    def on_sent(i: int, key: bytes, sent_at: float, ack: object) -> None:
        order = key.decode()
        versions[order] = versions.get(order, 0) + 1
        sends[order, versions[order]] = sent_at

    producer = AIOKafkaProducer(bootstrap_servers=brokers, acks="all", linger_ms=1)
    await producer.start()
    cpu_before, started = tree_usage(pid)[0], time.perf_counter()
    try:
        await publish(producer, topic, messages, rate, on_sent)
    finally:
        await producer.stop()
    wanted = [k for k in sends if k[0] in arrivals]

    def all_delivered() -> bool:
        return all(delivered_at(arrivals[order], v) is not None for order, v in wanted)

    await asyncio.to_thread(wait_until, all_delivered, 60, "every event on its stream")
    cpu, rss = tree_usage(pid)
    elapsed = time.perf_counter() - started
    for client in clients:
        client.cancel()
    return {
        "opened": opened,
        "per_stream_kib": (rss_idle - rss_before) / max(opened, 1) / 1024,
        "latencies": [delivered_at(arrivals[o], v) - sends[o, v] for o, v in wanted],  # type: ignore[operator]
        "cpu": (cpu - cpu_before) / elapsed,
        "rss_mib": rss / 2**20,
        "events": len(messages),
    }


async def open_streams(base: str, count: int) -> int:
    async with httpx.AsyncClient(base_url=base) as client:
        for _ in range(300):
            metrics = (await client.get("/metrics")).text
            line = next(x for x in metrics.splitlines() if x.startswith("readside_query_open"))
            if float(line.split()[-1]) >= count:
                return count
            await asyncio.sleep(0.1)
    return int(float(line.split()[-1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rates", default="500,2000", help="events/s of the gated runs")
    parser.add_argument("--seconds", type=float, default=15, help="length of each gated run")
    parser.add_argument("--streams", type=int, default=1000)
    parser.add_argument("--stream-rate", type=float, default=1000)
    args = parser.parse_args()
    env = stack_env()
    print(f"cpus: {os.cpu_count()}, load average: {os.getloadavg()[0]:.2f} (1 min)")
    with ExitStack() as stack, TemporaryDirectory() as logs:
        database = stack.enter_context(fresh_database(env["DATABASE_URL"], "readside_raw_bench"))
        topic = f"raw-bench-{uuid.uuid4().hex[:8]}"
        asyncio.run(create_topic(env["KAFKA_BROKERS"], topic))
        port = free_port()
        procs = LocalProcesses(
            {
                **env,
                "DATABASE_URL": database,
                "KAFKA_TOPIC": topic,
                "CONSUMER_GROUP": f"{topic}-group",
                "REDIS_URL": env["REDIS_URL"][:-1] + "13",
                "OPS_PORT": "0",
                "HOST": "127.0.0.1",
                "LOG_LEVEL": "warning",
                "STREAM_MAX": str(args.streams + 10),
                "GATED_MAX_WAITING": "5000",
            },
            Path(logs),
        )
        stack.callback(procs.stop)
        procs.projection("projection")
        query = procs.query("query", port)
        base = f"http://127.0.0.1:{port}"
        wait_until(lambda: _ready(base), 60, "the query service to be ready")
        for rate in (float(r) for r in args.rates.split(",") if r):
            trips = asyncio.run(gated(env["KAFKA_BROKERS"], topic, base, rate, args.seconds))
            print(f"gated read after publish, {rate:6,.0f} events/s: {quantiles(trips)}")
        result = asyncio.run(
            streams(env["KAFKA_BROKERS"], topic, base, query.pid, args.streams, args.stream_rate)
        )
        print(
            f"streams: {result['opened']:,} open; memory per idle stream "
            f"{result['per_stream_kib']:.1f} KiB (target <= 64)"
        )
        print(
            f"stream delivery at {args.stream_rate:,.0f} events/s ({result['events']:,} events): "
            f"{quantiles(result['latencies'])}; query process CPU "
            f"{result['cpu']:.2f} cores, RSS {result['rss_mib']:.0f} MiB"
        )
    print(f"load average at the end: {os.getloadavg()[0]:.2f} (1 min)")


def _ready(base: str) -> bool:
    try:
        return httpx.get(base + "/readyz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


if __name__ == "__main__":
    main()
