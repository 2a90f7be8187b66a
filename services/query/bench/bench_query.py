"""Benchmark the query service with wrk, beside a bare Granian endpoint, in one run.

    uv run python services/query/bench/bench_query.py [--duration 10] [--connections 64]

Brings the local stack up (hack/stack), creates its own database, loads 10,000 orders of
1,000 customers (generated events, folded), starts the real `readside-query` Granian process
and drives wrk at it; then serves the same order body from bare Granian apps (ASGI and
RSGI) and prints the ratio. Redis database 14 is the benchmark's own and is flushed.
Everything, wrk included, shares this machine's cores: figures move with other load.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import redis
from dataset import generate  # this directory: the script's own, first on sys.path

from readside_core.db import create_engine
from readside_core.views import OrderView
from readside_testkit.processes import query_command, running_server
from readside_testkit.read_model import write_views
from readside_testkit.stack import fresh_database, stack_env

HERE = Path(__file__).resolve().parent

BENCH_REDIS_DB = 14
HOT_SET = 100


@dataclass
class Result:
    scenario: str
    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    failures: int

    @property
    def rate(self) -> float:
        return self.requests / self.seconds


async def load(url: str, views: list[OrderView]) -> None:
    engine = create_engine(url)
    try:
        await write_views(engine, views)
    finally:
        await engine.dispose()


def query_service(
    database_url: str,
    redis_url: str,
    workers: int = 1,
    local_cache_size: int = 50_000,
    source: Path | None = None,
) -> AbstractContextManager[str]:
    """The real query service; with `source`, that checkout's code (same dependencies)."""
    env = {
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "WORKERS": str(workers),
        "LOCAL_CACHE_SIZE": str(local_cache_size),
        "LOG_LEVEL": "warning",
    }
    if source is not None:
        dirs = ("services/query/src", "libs/readside-core/src")
        env["PYTHONPATH"] = os.pathsep.join(str(source / d) for d in dirs)
    return running_server(query_command(), env, "/readyz")


def bare_granian(interface: str, body_file: Path, workers: int = 1) -> AbstractContextManager[str]:
    command = [
        *(sys.executable, "-m", "granian", "--interface", interface, "--loop", "uvloop"),
        *("--host", "127.0.0.1", "--port", "{port}", "--workers", str(workers)),
        *("--log-level", "warning", "--http", "1", f"bare_app:{interface}_app"),
    ]
    return running_server(command, {"BARE_BODY_FILE": str(body_file)}, "/", cwd=HERE)


def wrk(
    scenario: str,
    base: str,
    paths: list[str],
    *,
    mode: str = "cycle",
    duration: float,
    connections: int,
    threads: int = 2,
) -> Result:
    with tempfile.TemporaryDirectory() as scratch:
        listing = Path(scratch) / "paths.txt"
        listing.write_text("\n".join(paths) + "\n")
        done_prefix = f"{scratch}/done-"
        command = [
            *("wrk", f"-t{threads}", f"-c{connections}", f"-d{round(duration)}s", "--latency"),
            *("-s", str(HERE / "wrk_paths.lua"), base, "--", str(listing), mode, str(threads)),
            done_prefix,
        ]
        process = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        if mode == "once":  # wrk would sleep out -d: interrupt it once every thread is done
            done = [Path(f"{done_prefix}{n}") for n in range(1, threads + 1)]
            while process.poll() is None and not all(p.exists() for p in done):
                time.sleep(0.05)
            process.send_signal(signal.SIGINT)
        out, err = process.communicate()
    if process.returncode != 0:
        raise RuntimeError(f"wrk failed: {out}\n{err}")
    line = next(line for line in out.splitlines() if line.startswith("WRK_JSON "))
    data = json.loads(line[len("WRK_JSON ") :])
    return Result(
        scenario=scenario,
        requests=data["requests"],
        seconds=data["duration_us"] / 1e6,
        p50_ms=data["p50_us"] / 1000,
        p99_ms=data["p99_us"] / 1000,
        failures=data["errors"] + data["non_2xx_3xx"],
    )


def measure(scenario: str, base: str, paths: list[str], args: argparse.Namespace) -> Result:
    """A warm-up run, then the measured one."""
    wrk("warm-up", base, paths, duration=args.warmup, connections=args.connections)
    result = wrk(scenario, base, paths, duration=args.duration, connections=args.connections)
    print(f"  {scenario}: {result.rate:,.0f} req/s", flush=True)
    return result


def once(scenario: str, base: str, paths: list[str], args: argparse.Namespace) -> Result:
    """Each path about once (no warm-up): what a cold cache costs."""
    result = wrk(
        scenario,
        base,
        paths,
        mode="once",
        duration=max(args.duration, 60),
        connections=args.connections,
    )
    print(f"  {scenario}: {result.rate:,.0f} req/s", flush=True)
    return result


@contextmanager
def busy_machine() -> Iterator[int]:
    """A CPU-bound process on every core for the duration: the neighbours a pod shares its
    node with. Yields how many were started."""
    burners = [
        subprocess.Popen([sys.executable, "-c", "while True: pass"])
        for _ in range(os.cpu_count() or 1)
    ]
    try:
        yield len(burners)
    finally:
        for burner in burners:
            burner.kill()
            burner.wait()


def cold_side_by_side(
    database_url: str, redis_url: str, cold: list[str], args: argparse.Namespace
) -> list[Result]:
    """Cold by id from another checkout and from this one, in turn, Redis flushed before
    each and a new process each (an empty local cache)."""
    found = []
    for label, source in ((args.compare.name, args.compare.resolve()), ("this checkout", None)):
        redis.Redis.from_url(redis_url).flushdb()
        with query_service(database_url, redis_url, source=source) as base:
            found.append(once(f"by id, cold: {label}", base, cold, args))
    return found


def print_table(results: list[Result]) -> None:
    print()
    print(f"{'scenario':<52} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'failed':>7}")
    print("-" * 88)
    for r in results:
        print(f"{r.scenario:<52} {r.rate:>9,.0f} {r.p50_ms:>8.2f} {r.p99_ms:>8.2f} {r.failures:>7}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=10, help="seconds per measured run")
    parser.add_argument("--warmup", type=int, default=3, help="seconds of warm-up per run")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--orders", type=int, default=10_000)
    parser.add_argument("--customers", type=int, default=1_000)
    parser.add_argument(
        "--compare",
        type=Path,
        help="another checkout: the cold scenarios again, it and this one in turn",
    )
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed (apt-get install wrk)")

    env = stack_env()
    redis_url = f"{env['REDIS_URL'].rpartition('/')[0]}/{BENCH_REDIS_DB}"
    views = generate(args.orders, args.customers)
    ids = [f"/api/v1/orders/{v.order_id}" for v in views]
    hot, cold = ids[:HOT_SET], ids[HOT_SET:]
    customers = sorted({f"/api/v1/customers/{v.customer_id}/orders" for v in views})
    print(f"cpus: {os.cpu_count()}, load average: {os.getloadavg()[0]:.2f} (1 min)")
    print(
        f"dataset: {len(views):,} orders, {len(customers):,} customers; wrk: 2 threads, "
        f"{args.connections} connections, {args.duration:g}s after {args.warmup:g}s warm-up"
    )

    results: list[Result] = []
    with fresh_database(env["DATABASE_URL"], "readside_query_bench") as database_url:
        asyncio.run(load(database_url, views))
        redis.Redis.from_url(redis_url).flushdb()
        body_file = Path(tempfile.mkstemp(suffix=".json")[1])
        try:
            with query_service(database_url, redis_url) as base:
                body_file.write_bytes(httpx.get(base + hot[0]).content)
                results.append(
                    measure("by id, cache warm (100 hot ids, local hits)", base, hot, args)
                )
                with busy_machine() as burners:
                    results.append(
                        measure(f"by id, cache warm, {burners} CPU burners busy", base, hot, args)
                    )
                results.append(once(f"by id, cold ({len(cold):,} ids once each)", base, cold, args))
                results.append(
                    once(
                        f"list by customer, cold ({len(customers):,} once each)",
                        base,
                        customers,
                        args,
                    )
                )
                results.append(
                    measure("list by customer, limit 20, cache warm", base, customers, args)
                )
            with query_service(database_url, redis_url, local_cache_size=0) as base:
                results.append(measure("by id, local cache off (Redis hits)", base, ids, args))
            redis.Redis.from_url(redis_url).flushdb()
            with query_service(database_url, redis_url, workers=2) as base:
                results.append(once("by id, cold, WORKERS=2", base, cold, args))
                results.append(measure("by id, cache warm, WORKERS=2", base, hot, args))
            if args.compare:
                results += cold_side_by_side(database_url, redis_url, cold, args)
            bare: dict[str, Result] = {}
            for interface in ("asgi", "rsgi"):
                with bare_granian(interface, body_file) as base:
                    bare[interface] = measure(
                        f"bare Granian {interface.upper()}, same bytes", base, ["/"], args
                    )
            with bare_granian("rsgi", body_file, workers=2) as base:
                bare2 = measure("bare Granian RSGI, same bytes, 2 workers", base, ["/"], args)
            results += [*bare.values(), bare2]
        finally:
            body_file.unlink(missing_ok=True)

    print_table(results)
    warm = results[0]
    best = max(bare.values(), key=lambda r: r.rate)
    print()
    print(
        f"by id warm / bare Granian ({best.scenario.split(',')[0][13:]}): "
        f"{warm.rate / best.rate:.2f}x; / bare ASGI: {warm.rate / bare['asgi'].rate:.2f}x"
    )
    print(
        f"cold = never requested before, Redis database {BENCH_REDIS_DB} flushed at the start: "
        "every request misses both caches, reads PostgreSQL and fills both; the run ends when "
        "each path was answered once (at most one repeat per connection at the very end). "
        "warm = after a warm-up over the same paths: in-process cache hits; busy = the same "
        "while a CPU-bound process runs on every core (a busy node). Redis hits = a "
        "second server with LOCAL_CACHE_SIZE=0 over all ids, all in Redis by then."
    )


if __name__ == "__main__":
    main()
