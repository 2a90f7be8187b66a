"""`make bench-projection`: throughput, end-to-end latency and a COPY ceiling, in one run.

1. Publish N generated events (default 200,000) to a fresh topic, then time one projection
   process, and then two in one group, each into a fresh database, until caught up; this
   checkout also runs without its registered read models (bench/without_read_models): the
   cost of the product model. `--separate-databases`: also the same events split by order
   over two topics, one process and one database each (read models spread by key).
2. Publish at a steady rate (default 2,000 events/s) with the projection and the query
   service running, and time publish -> visible in the query API (a gated read) for
   sampled events.
3. COPY the final rows into an empty copy of order_views (same indexes): the ceiling.
Figures are printed; nothing here asserts on time.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import itertools
import os
import statistics
import subprocess
import time
import urllib.request
import uuid
import zlib
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import httpx
import msgspec
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from readside_core.db import plain_database_url
from readside_kafka import topic_partitions
from readside_projection.events_tool import publish
from readside_projection.generator import generate
from readside_testkit.exactness import assert_exact, read_back
from readside_testkit.ports import free_port
from readside_testkit.processes import projection_command, query_command
from readside_testkit.secured import secured_stack
from readside_testkit.stack import REPO, create_database, drop_database, stack_env

CREATED: list[str] = []  # every database of this run, dropped when it ends
GATED_WATCHERS = 2000  # gated reads in flight at most (10,000 events/s, a 20 s tail)


def fresh_database(admin: str) -> str:
    """A new, migrated database, dropped when the benchmark ends (the COPY ceiling reads the
    first one's rows): a full run makes a dozen of them, hundreds of MB each."""
    url = create_database(admin, "readside_bench")
    CREATED.append(url)
    return url


async def stored_total(url: str, group: str) -> int:
    conn = await asyncpg.connect(plain_database_url(url))
    try:
        return int(
            await conn.fetchval(
                "SELECT coalesce(sum(next_offset), 0) FROM consumer_offsets"
                " WHERE consumer_group = $1",
                group,
            )
            or 0
        )
    finally:
        await conn.close()


def start(cmd: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        cmd, env={**os.environ, **env}, stdout=log.open("wb"), stderr=subprocess.STDOUT
    )


def stop_or_kill(process: subprocess.Popen[bytes], logs: Path) -> None:
    """Wait for a terminated projection; one still leaving its group after 60 s (a member
    stopped during a rebalance can wait for the broker's JoinGroup answer) is killed, and said."""
    try:
        process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        print(f"    a projection took over 60 s to stop after SIGTERM: killed (logs: {logs})")
        process.kill()
        process.wait()


def source_path(checkout: Path | None) -> dict[str, str]:
    """PYTHONPATH running another checkout's projection (the same locked dependencies)."""
    if checkout is None:
        return {}
    dirs = ["services/projection/src", "libs/readside-core/src", "libs/readside-kafka/src"]
    return {"PYTHONPATH": os.pathsep.join(str(checkout / d) for d in dirs)}


def cpu_seconds(pid: int) -> float:
    """User + system CPU time the process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def postgres_cpu_seconds() -> float:
    """CPU time of every PostgreSQL process of the local stack (the server's share)."""
    total = 0.0
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip() == "postgres":
                    total += cpu_seconds(int(entry.name))
            except OSError:
                continue  # gone meanwhile
    return total


def peak_rss_mib(pid: int) -> float:
    """The process's peak resident set (VmHWM), read before it exits."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


@dataclass(frozen=True)
class Run:
    """One throughput run: events/s overall and after the first commit, the database, the
    peak RSS of one process, CPU per event (µs) of the projection and of PostgreSQL, and the
    WAL PostgreSQL wrote per event (bytes; the whole server's, so the run's alone)."""

    overall: float
    steady: float
    url: str
    rss: float
    cpu_us: float
    pg_us: float
    wal_bytes: float


async def throughput(
    env: dict[str, str],
    topics: list[str],
    total: int,
    processes: int,
    logs: Path,
    extra: dict[str, str],
) -> Run:
    """`processes` projection processes per topic, each topic into a fresh database of its
    own (the same group name in each), until the `total` events of all topics are stored.
    WAL is the server's, so it counts every database; the Run names the first one."""
    shards = [(topic, fresh_database(env["DATABASE_URL"])) for topic in topics]
    first_url = shards[0][1]
    group = f"bench-{uuid.uuid4().hex[:6]}"
    penv = {**env, "CONSUMER_GROUP": group, "OPS_PORT": "0", "LOG_LEVEL": "WARNING", **extra}
    began = time.perf_counter()
    pg_before = postgres_cpu_seconds()
    wal_before = await wal_position(first_url)
    procs = [
        start(
            projection_command("run"),
            {**penv, "KAFKA_TOPIC": topic, "DATABASE_URL": url},
            logs / f"projection-{processes}-{n}-{i}.log",
        )
        for n, (topic, url) in enumerate(shards)
        for i in range(processes)
    ]
    first = None
    try:
        while (done := sum([await stored_total(url, group) for _, url in shards])) < total:
            if first is None and done > 0:
                first = (time.perf_counter(), done)
            if any(p.poll() is not None for p in procs):
                raise SystemExit(f"a projection process exited; see {logs}")
            await asyncio.sleep(0.05)
        ended = time.perf_counter()
        rss = max(peak_rss_mib(p.pid) for p in procs)
        cpu = sum(cpu_seconds(p.pid) for p in procs)
        pg_cpu = postgres_cpu_seconds() - pg_before
        wal = await wal_position(first_url) - wal_before
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            stop_or_kill(p, logs)
    overall = total / (ended - began)
    t0, n0 = first or (began, 0)
    steady = (total - n0) / (ended - t0)
    return Run(
        overall, steady, first_url, rss, cpu / total * 1e6, pg_cpu / total * 1e6, wal / total
    )


async def wal_position(url: str) -> int:
    """Bytes of WAL the server has written so far."""
    conn = await asyncpg.connect(plain_database_url(url))
    try:
        return int(await conn.fetchval("SELECT pg_current_wal_lsn() - '0/0'::pg_lsn"))
    finally:
        await conn.close()


def median(found: list[Run], of: str) -> float:
    return statistics.median(getattr(r, of) for r in found)


def read_model_costs(runs: dict[tuple[str, int], list[Run]]) -> list[str]:
    """What the registered read models cost: medians of this checkout against the run
    without them, in events/s and in CPU per event (projection + PostgreSQL)."""
    lines = []
    for processes in (1, 2):
        with_models = runs.get(("this checkout", processes), [])
        without = runs.get((WITHOUT_READ_MODELS, processes), [])
        if not with_models or not without:
            continue

        rate = 1 - median(with_models, "steady") / median(without, "steady")
        cpu_with = median(with_models, "cpu_us") + median(with_models, "pg_us")
        cpu_without = median(without, "cpu_us") + median(without, "pg_us")
        lines.append(
            f"\nregistered read models (products), {processes} process(es), medians of "
            f"{len(with_models)} run(s): events/s {-rate:+.1%}, CPU per event "
            f"{cpu_with / cpu_without - 1:+.1%} ({cpu_without:.0f} -> {cpu_with:.0f} µs, "
            "projection + PostgreSQL)"
        )
    return lines


async def create_topic(brokers: str, topic: str, partitions: int = 4) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=brokers)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, partitions, 1)])
        while len(await topic_partitions(admin, topic)) < partitions:  # metadata caught up
            await asyncio.sleep(0.05)
    finally:
        await admin.close()


async def wait_stable(brokers: str, group: str, topic: str) -> None:
    """Until the consumer group has joined and its member owns the topic's partitions."""
    admin = AIOKafkaAdminClient(bootstrap_servers=brokers)
    await admin.start()
    try:
        for _ in range(300):
            described = await admin.describe_consumer_groups([group])
            groups = described[0].groups
            # (error, group, state, protocol type, protocol, members); a member's last field
            # is its assignment, which names the topic once partitions are assigned.
            if (
                groups
                and groups[0][2] == "Stable"
                and any(topic.encode() in member[-1] for member in groups[0][5])
            ):
                return
            await asyncio.sleep(0.1)
        raise SystemExit(f"consumer group {group} never became Stable")
    finally:
        await admin.close()


def get_json(url: str) -> dict[str, object] | None:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return msgspec.json.decode(response.read())  # type: ignore[no-any-return]
    except Exception:
        return None


def stage_quantiles(metrics_text: str, q: float) -> dict[str, float]:
    """Per stage, the upper bound (seconds) of the freshness bucket holding quantile q."""
    buckets: dict[str, list[tuple[float, float]]] = {}
    for line in metrics_text.splitlines():
        if line.startswith("readside_projection_freshness_seconds_bucket{"):
            labels, _, count = line.partition("} ")
            fields = dict(part.split("=") for part in labels.split("{")[1].split(","))
            bound = float(fields["le"].strip('"'))
            buckets.setdefault(fields["stage"].strip('"'), []).append((bound, float(count)))
    found = {}
    for stage, rows in buckets.items():
        rows.sort()
        total = rows[-1][1]
        found[stage] = next((b for b, c in rows if total and c >= q * total), float("nan"))
    return found


@dataclass
class EndToEnd:
    latencies: list[float]
    metrics_text: str
    messages: list[tuple[bytes, bytes]]
    url: str  # the read model's database


async def end_to_end(
    env: dict[str, str],
    rate: float,
    seconds: float,
    logs: Path,
    extra: dict[str, str],
    settle: bool = False,
    watch_by: str = "gated",
) -> EndToEnd:
    """Latency publish -> visible in the query API, for every 100th event at a steady rate.

    `watch_by` "gated": each probe is one gated read, GET /api/v1/orders/{id}?min_version=N,
    which the query service answers as soon as a commit notification lets it read version N
    (a new request only if a 5 s wait ran out); "poll": GET /api/v1/orders/{id} every 10 ms
    until it shows version N (the method of the figures before 2026-12-08: it adds up to 10 ms
    and about 2,000 requests/s of its own at 2,000 events/s). One keep-alive connection pool
    (about 20 orders watched at a time) beside the projection, the broker and the database.
    The topic is created by the projection's own subscription moments before the group
    joins. `settle`: before stopping, wait until every published offset is stored (for a
    comparison with the pure fold).
    """
    url = fresh_database(env["DATABASE_URL"])
    topic = f"bench-e2e-{uuid.uuid4().hex[:6]}"
    port = "18081"
    penv = {
        **env,
        "DATABASE_URL": url,
        "KAFKA_TOPIC": topic,
        "OPS_PORT": str(free_port()),
        "CONSUMER_GROUP": f"bench-e2e-{uuid.uuid4().hex[:6]}",
        "LOG_LEVEL": "WARNING",
        **extra,
    }
    projection = start(projection_command("run"), penv, logs / "projection-e2e.log")
    query_env = {**env, "DATABASE_URL": url, "PORT": port, "GATED_MAX_WAITING": str(GATED_WATCHERS)}
    query = start(query_command(), query_env, logs / "query-e2e.log")
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            if get_json(f"{base}/livez") is not None:
                break
            await asyncio.sleep(0.1)
        await wait_stable(env["KAFKA_BROKERS"], penv["CONSUMER_GROUP"], topic)  # steady state only
        # A fresh seed: order ids never seen before, so no cache entry from an earlier run answers.
        seed = uuid.uuid4().int % 1_000_000
        messages = list(generate(int(rate * seconds / 2.6) + 1, seed=seed))[: int(rate * seconds)]
        versions: Counter[bytes] = Counter()
        probes: list[tuple[str, int, int]] = []
        for n, (key, _) in enumerate(messages):
            versions[key] += 1
            if n % 100 == 0:
                probes.append((key.decode(), versions[key], n))
        latencies: list[float] = []
        sent_at: dict[int, float] = {}
        published = {index: asyncio.Event() for _, _, index in probes}

        # Many watchers at high rates: they queue for a connection instead of failing. A gated
        # read holds its connection while it waits: one each, or the queue would be timed.
        client = httpx.AsyncClient(
            base_url=base,
            timeout=httpx.Timeout(10, pool=None),
            limits=httpx.Limits(max_connections=32 if watch_by == "poll" else GATED_WATCHERS),
        )

        async def watch(order_id: str, version: int, index: int) -> None:
            await published[index].wait()
            gate = {"min_version": version} if watch_by == "gated" else {}
            while True:
                response = await client.get(f"/api/v1/orders/{order_id}", params=gate)
                if response.status_code == 200 and response.json()["version"] >= version:
                    latencies.append(time.perf_counter() - sent_at[index])
                    return
                if not (gate and response.status_code == 412):  # 412: the wait ran out
                    await asyncio.sleep(0.01)

        def stamped():  # type: ignore[no-untyped-def]
            for n, message in enumerate(messages):
                sent_at[n] = time.perf_counter()
                if n in published:
                    published[n].set()
                yield message

        watchers = [asyncio.create_task(watch(*p)) for p in probes]
        # This process times the events: a full collection of its own heap (the messages)
        # would stall its loop and count as latency. No collection while it measures.
        gc.collect()
        gc.freeze()
        gc.disable()
        try:
            await publish(stamped(), brokers=env["KAFKA_BROKERS"], topic=topic, rate=rate)
            await asyncio.wait_for(asyncio.gather(*watchers), timeout=120)
        finally:
            gc.enable()
            gc.unfreeze()
        metrics_text = (await client.get(f"http://127.0.0.1:{penv['OPS_PORT']}/metrics")).text
        await client.aclose()
        while settle and await stored_total(url, penv["CONSUMER_GROUP"]) < len(messages):
            await asyncio.sleep(0.2)
        return EndToEnd(latencies, metrics_text, messages, url)
    finally:
        for p in (projection, query):
            p.terminate()
            p.wait(timeout=30)


async def latency_runs(env: dict[str, str], args: argparse.Namespace, logs: Path) -> list[str]:
    """Publish -> visible at each rate for each variant, `--repeat` rounds interleaved: every
    run's row, then (more than one round) the medians of its p50 and p99."""
    lines: list[str] = []
    runs: dict[tuple[str, float], list[tuple[float, float]]] = {}
    for _ in range(args.repeat):
        for rate, (name, extra), watch_by in itertools.product(
            (float(r) for r in args.rates.split(",") if r),
            variants(args).items(),
            args.watch.split(","),
        ):
            if watch_by != "gated":
                name = f"{name}, watched by {watch_by}"
            e2e = await end_to_end(env, rate, args.seconds, logs, extra, watch_by=watch_by)
            samples = e2e.latencies
            stages = {q: stage_quantiles(e2e.metrics_text, q) for q in (0.5, 0.99)}
            shown = [
                f"{s} p50<={stages[0.5][s] * 1000:g} p99<={stages[0.99][s] * 1000:g}"
                for s in ("folded", "committed", "published")
                if s in stages[0.5]
            ]
            print("    projection stages (oldest record of a batch, ms):", ", ".join(shown))
            p50, p99 = percentile(samples, 50) * 1000, percentile(samples, 99) * 1000
            runs.setdefault((name, rate), []).append((p50, p99))
            line = (
                f"| {name} | {rate:,.0f} | {len(samples)} | {p50:.1f} | {p99:.1f} "
                f"| {max(samples) * 1000:.1f} |"
            )
            print(line, f"(load {load_average()})", flush=True)
            lines.append(line)
    if args.repeat > 1:
        for (name, rate), found in runs.items():
            p50 = statistics.median(r[0] for r in found)
            p99 = statistics.median(r[1] for r in found)
            lines.append(
                f"| {name}, median of {len(found)} | {rate:,.0f} | | {p50:.1f} | {p99:.1f} | |"
            )
    return lines


async def exactness_loop(
    env: dict[str, str], rate: float, seconds: float, logs: Path, rounds: int
) -> None:
    """The end-to-end mode (a topic the subscription creates moments before the group joins,
    events at a steady rate, the query API read) `rounds` times, each read model compared with
    the pure fold of what was published: every order, summary and product."""
    failed = 0
    for n in range(1, rounds + 1):
        run = await end_to_end(env, rate, seconds, logs, {}, settle=True)
        model = await read_back(run.url)
        try:
            assert_exact(model, run.messages)
            verdict = "exact"
        except AssertionError as exc:
            failed += 1
            verdict = f"NOT EXACT: {str(exc)[:300]}"
        print(
            f"round {n}/{rounds}: {len(run.messages):,} events, {len(model.orders):,} orders, "
            f"{len(model.summaries):,} summaries, {len(model.products):,} products: {verdict} "
            f"(load {load_average()})",
            flush=True,
        )
    print(f"\n{rounds - failed} of {rounds} rounds exact")
    if failed:
        raise SystemExit(1)


async def copy_ceiling(source_url: str) -> tuple[int, float]:
    """Seconds to COPY the final order_views rows into an empty, indexed copy of the table."""
    conn = await asyncpg.connect(plain_database_url(source_url))
    try:
        rows = await conn.fetch("SELECT * FROM order_views")
        await conn.execute("CREATE TABLE copy_ceiling (LIKE order_views INCLUDING ALL)")
        started = time.perf_counter()
        await conn.copy_records_to_table("copy_ceiling", records=rows, columns=list(rows[0].keys()))
        return len(rows), time.perf_counter() - started
    finally:
        await conn.close()


def percentile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[int(q) - 1] if len(values) > 1 else values[0]


def load_average() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


WITHOUT_READ_MODELS = "this checkout, no registered read model (no products)"
SEPARATE_DATABASES = "this checkout, two databases, one process and topic of 2 partitions each"


def throughput_row(name: str, processes: int, run: Run) -> str:
    line = (
        f"| {name} | {processes} | {run.steady:,.0f} | {run.overall:,.0f} | {run.rss:,.0f} "
        f"| {run.cpu_us:.0f} | {run.pg_us:.0f} | {run.wal_bytes:,.0f} |"
    )
    print(line, f"(load {load_average()})", flush=True)
    return line


async def publish_halves(
    brokers: str, topic: str, messages: list[tuple[bytes, bytes]]
) -> list[str]:
    """The same events split by order over two topics of 2 partitions each: the read models
    spread over two databases by key (docs/capacity.md), each half projected on its own."""
    halves = [f"{topic}-half{n}" for n in (0, 1)]
    for half in halves:
        await create_topic(brokers, half, partitions=2)
    for n, half in enumerate(halves):
        mine = [m for m in messages if zlib.crc32(m[0]) % 2 == n]
        await publish(mine, brokers=brokers, topic=half)
    return halves


def variants(args: argparse.Namespace) -> dict[str, dict[str, str]]:
    """What runs side by side: this checkout (synchronous commit on and off, and without the
    registered read models: what the product model costs; or with --sasl-ssl plaintext and
    SASL_SSL) and, with --compare, another checkout's projection on the same topic and
    machine."""
    if args.sasl_ssl:
        # The same broker and topic through the stack's SASL_SSL listener (hack/stack --secure).
        over_tls = secured_stack().kafka_env("sasl_ssl", "SCRAM-SHA-512")
        found = {"this checkout, PLAINTEXT": {}, "this checkout, SASL_SSL SCRAM-SHA-512": over_tls}
    else:
        found = {
            "this checkout": {},
            WITHOUT_READ_MODELS: {"PYTHONPATH": str(Path(__file__).parent / "without_read_models")},
        }
        if not args.read_model_cost:
            found["this checkout, PG_SYNCHRONOUS_COMMIT=off"] = {"PG_SYNCHRONOUS_COMMIT": "off"}
    for held in args.view_cache:
        found[f"this checkout, VIEW_CACHE_ORDERS={held}"] = {"VIEW_CACHE_ORDERS": str(held)}
    if args.compare:
        found[f"{args.compare.name} (--compare)"] = source_path(args.compare.resolve())
    return found


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument(
        "--rates", default="2000,10000", help='end-to-end rates, events/s ("": none)'
    )
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="rounds of each measure, the variants interleaved (medians printed)",
    )
    parser.add_argument(
        "--read-model-cost",
        action="store_true",
        help="only this checkout with and without its registered read models",
    )
    parser.add_argument("--latency-only", action="store_true", help="skip throughput and COPY")
    parser.add_argument(
        "--watch",
        default="gated",
        help='how probes see an event: "gated" (min_version reads), "poll" (every 10 ms), or both',
    )
    parser.add_argument("--compare", type=Path, help="another checkout, run side by side")
    parser.add_argument(
        "--separate-databases",
        action="store_true",
        help="also two processes on two databases, the events split by order (capacity check)",
    )
    parser.add_argument(
        "--view-cache",
        type=int,
        action="append",
        default=[],
        help="also this checkout with VIEW_CACHE_ORDERS=N (peak RSS against lookups); repeatable",
    )
    parser.add_argument(
        "--exactness",
        type=int,
        default=0,
        help="only loop the end-to-end mode N times, each read model against the pure fold",
    )
    parser.add_argument(
        "--sasl-ssl",
        action="store_true",
        help="plaintext beside SASL_SSL (SCRAM-SHA-512) instead of synchronous commit on/off",
    )
    args = parser.parse_args()
    if not set(args.watch.split(",")) <= {"gated", "poll"}:
        parser.error(f'--watch takes "gated", "poll" or "gated,poll", not {args.watch!r}')
    env = stack_env()
    # Once the stack's secured mode is on, PostgreSQL offers TLS on its port, and asyncpg's
    # default (prefer) would take it: keep the transport these figures have always measured.
    env["PGSSLMODE"] = os.environ.get("PGSSLMODE", "disable")
    logs = REPO / ".local" / "bench"
    logs.mkdir(parents=True, exist_ok=True)
    print(f"load average at the start: {load_average()}", flush=True)
    if args.exactness:
        rate = float(args.rates.split(",")[0] or 2000)
        await exactness_loop(env, rate, args.seconds, logs, args.exactness)
        return
    rows: list[str] = []
    costs: list[str] = []
    copy_row: tuple[str, float] | None = None
    if not args.latency_only:
        topic = f"bench-{uuid.uuid4().hex[:6]}"
        orders = int(args.events / 2.6) + 1
        messages = list(generate(orders, seed=uuid.uuid4().int % 1_000_000))[: args.events]
        print(f"publishing {len(messages):,} events ({orders:,} orders) to {topic} ...", flush=True)
        await publish(messages, brokers=env["KAFKA_BROKERS"], topic=topic)
        if args.separate_databases:
            halves = await publish_halves(env["KAFKA_BROKERS"], topic, messages)
        runs: dict[tuple[str, int], list[Run]] = {}
        for _ in range(args.repeat):  # variants interleaved: a drift in load hits them all
            for name, extra in variants(args).items():
                for processes in (1, 2):
                    run = await throughput(env, [topic], len(messages), processes, logs, extra)
                    runs.setdefault((name, processes), []).append(run)
                    rows.append(throughput_row(name, processes, run))
                    if copy_row is None:
                        copy_row = (run.url, len(messages) / run.steady)
            if args.separate_databases:
                run = await throughput(env, halves, len(messages), 1, logs, {})
                rows.append(throughput_row(SEPARATE_DATABASES, 2, run))
        costs = read_model_costs(runs)
    latencies = await latency_runs(env, args, logs)

    print("\n## Projection benchmark")
    print(f"machine: {os.cpu_count()} cores; broker, PostgreSQL and Redis on the same machine")
    print(f"load average at the end: {load_average()}\n")
    if rows:
        print(
            f"{args.events:,} events from one topic of 4 partitions, until every offset is stored\n"
        )
        print(
            "| projection | processes | events/s after the first commit "
            "| events/s incl. start-up | peak RSS MiB | projection CPU µs/event "
            "| PostgreSQL CPU µs/event | WAL bytes/event |"
        )
        print("|---|---:|---:|---:|---:|---:|---:|---:|")
        print("\n".join(rows))
        print("\n".join(costs))
    if copy_row is not None:
        copied, copy_seconds = await copy_ceiling(copy_row[0])
        print(
            f"\nCOPY of the final {copied:,} rows into an indexed copy of order_views: "
            f"{copy_seconds:.2f} s; the first projection above took {copy_row[1]:.2f} s "
            f"({copy_row[1] / copy_seconds:.1f}x the COPY)"
        )
    print("\n| projection | events/s | samples | p50 ms | p99 ms | max ms |")
    print("|---|---:|---:|---:|---:|---:|")
    print("\n".join(latencies))


def run() -> None:
    try:
        asyncio.run(main())
    finally:
        admin = stack_env()["DATABASE_URL"]
        for url in CREATED:
            drop_database(admin, url)


if __name__ == "__main__":
    run()
