"""The HTTP API under load: ``xingqu serve`` on the demo preset, driven over loopback by an async Python
client in this process, and in the feed-alone phase by wrk when it is installed (Debian's ``wrk``: a
client in C, whose small share leaves the cores to the server). Both run on the same cores as the
server: their CPU share is reported beside the server's.

    python benchmarks/service_load.py [--folder DIR] [--duration 60] [--runs 3] [--events 1000000]
                                      [--concurrency 16] [--mixed-concurrency 8,16]
                                      [--client wrk|python] [--kill]

Phases, each bounded in time and count and stopping by itself:

1. mixed traffic for ``--duration`` seconds, ``--runs`` times (medians reported) at each level of
   requests in flight (``--mixed-concurrency``: a closed loop past saturation only queues, so the
   tail is reported where the throughput target is met and at saturation): feeds 70 %, event batches
   25 %, other reads 5 % (similar products, content feeds, the current model); throughput, p50 / p99
   per route, errors and 5xx;
2. the feed alone against ``xingqu serve --workers 2``, and the same feed called in this process
   beside it (one thread, the same users), so that the HTTP overhead is a ratio;
3. ``--events`` events posted in batches of 1,000 while feeds are served: events accepted per second,
   and the stored count against the sent count (none lost, none doubled); with ``--kill`` the server
   is killed with SIGKILL at a random moment and restarted, and the client sends again every batch
   not acknowledged.

The world (simulated, imported into a SQLite store and trained) is built once in ``--folder`` and
reused by later runs; every run (and each mixed run, with a server of its own) starts from a fresh copy
of its store, so that what one run posts does not weigh on the next. Targets: ≥ 300 feed requests/s
with p99 ≤ 50 ms and no 5xx in the mix; ≥ 20,000 events/s accepted.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
#: No phase runs longer than this many seconds past its own budget, whatever happens.
GRACE_S = 120.0


# -- the world ------------------------------------------------------------------------------------


def prepare(folder: Path, name: str = "demo") -> dict[str, str]:
    """A world of preset ``name`` in ``folder`` (simulated, imported, trained), built once; its settings."""
    from xingqu.ingest import import_path
    from xingqu.runtime import Runtime
    from xingqu.sim.config import preset
    from xingqu.sim.run import simulate
    from xingqu.training import train

    env = {"XINGQU_DB": f"sqlite:///{folder / 'store.db'}", "XINGQU_MODELS_DIR": str(folder / "models")}
    runtime = Runtime(db=env["XINGQU_DB"], models_dir=env["XINGQU_MODELS_DIR"])
    if not (folder / "ready").exists():  # a world of another preset needs another folder
        folder.mkdir(parents=True, exist_ok=True)
        print(f"building the {name} preset's world in {folder} (once)…", flush=True)
        simulate(preset(name, seed=42), folder / "market")
        import_path(runtime.store, folder / "market")
        train(runtime.store, runtime.models_dir)
        (folder / "ready").write_text("ok")
    return env


def fresh(env: dict[str, str], name: str) -> dict[str, str]:
    """The settings of a copy of the world's store (SQLite's backup), for one run: what a run posts
    (tens of thousands of events since training) would make every later run's feeds dearer."""
    import sqlite3

    source = Path(env["XINGQU_DB"].removeprefix("sqlite:///"))
    copy = source.with_name(f"run-{name}.db")
    for old in source.parent.glob(f"{copy.name}*"):
        old.unlink()
    with sqlite3.connect(source) as src, sqlite3.connect(copy) as dst:
        src.backup(dst)
    return {**env, "XINGQU_DB": f"sqlite:///{copy}"}


def ids(env: dict[str, str]) -> tuple[list[str], list[str], str, str]:
    """Users known to the model, servable products, an admin key and an app key."""
    from xingqu.runtime import Runtime
    from xingqu.services.feed import feed_service
    from xingqu.services.keys import create_key

    runtime = Runtime(db=env["XINGQU_DB"], models_dir=env["XINGQU_MODELS_DIR"])
    model = feed_service(runtime).serving().model
    assert model.feed is not None
    users = model.feed.profiles.users.ids.tolist()
    products = sorted(runtime.store.catalogue.servable_products(runtime.store.catalogue.product_ids()))
    admin = create_key(runtime, "admin", name="load benchmark")[0]
    app = create_key(runtime, "app", name="load benchmark", rate_per_s=1_000_000)[0]
    runtime.store.close()
    return users, products, admin, app


# -- the server -----------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    """``xingqu serve`` as a child process (in a session of its own, so its workers go with it)."""

    env: dict[str, str]
    workers: int = 1
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        command = [sys.executable, "-m", "xingqu.cli.app", "serve", "--port", str(self.port)]
        command += ["--workers", str(self.workers)]
        env = {**os.environ, **self.env, "PYTHONPATH": str(ROOT / "src")}
        self.process = subprocess.Popen(
            command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
        )
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"xingqu serve exited with {self.process.returncode}")
            try:
                if httpx.get(f"{self.url}/readyz", timeout=5).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise RuntimeError("xingqu serve was not ready within 180 s")

    def kill(self) -> None:
        """SIGKILL the server and its workers at once (no shutdown of any kind)."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()

    def cpu_s(self) -> float:
        """CPU seconds used so far by the server and every process below it."""
        return tree_cpu_s(self.process.pid) if self.process is not None else 0.0


def tree_cpu_s(root: int) -> float:
    """CPU seconds (user + system) of ``root`` and its descendants, from /proc."""
    tick = os.sysconf("SC_CLK_TCK")
    stats: dict[int, tuple[int, float]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        stats[int(entry.name)] = (int(fields[1]), (int(fields[11]) + int(fields[12])) / tick)
    total, todo = 0.0, [root]
    while todo:
        pid = todo.pop()
        total += stats.get(pid, (0, 0.0))[1]
        todo += [p for p, (parent, _) in stats.items() if parent == pid]
    return total


# -- load -----------------------------------------------------------------------------------------


@dataclass
class Tally:
    """Latencies (ms) and statuses per route of one phase."""

    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    statuses: dict[str, dict[int, int]] = field(default_factory=lambda: defaultdict(lambda: defaultdict(int)))

    def add(self, route: str, ms: float, status: int) -> None:
        self.latencies[route].append(ms)
        self.statuses[route][status] += 1

    def summary(self, seconds: float) -> dict[str, dict[str, float]]:
        out = {}
        for route, ms in self.latencies.items():
            s = self.statuses[route]
            out[route] = {
                "requests": len(ms),
                "per_s": len(ms) / seconds,
                "p50_ms": float(np.percentile(ms, 50)),
                "p99_ms": float(np.percentile(ms, 99)),
                "errors": sum(n for code, n in s.items() if code >= 400),
                "5xx": sum(n for code, n in s.items() if code >= 500),
            }
        return out


def event_batch(users: list[str], products: list[str], size: int, tag: str) -> list[dict[str, object]]:
    now = datetime.now(UTC).isoformat()
    return [
        {
            "event_id": f"{tag}-{uuid.uuid4().hex}",
            "event_type": "click",
            "ts": now,
            "user_id": random.choice(users),
            "product_id": random.choice(products),
            "surface": "feed",
        }
        for _ in range(size)
    ]


class Http:
    """One keep-alive HTTP/1.1 connection, a request at a time (a closed-loop client): requests written
    and responses read by hand on asyncio streams, so that the load generator's own CPU stays a small
    share of the 2 cores it shares with the server (an httpx request costs about 1 ms of CPU)."""

    def __init__(self, url: str, key: str) -> None:
        host, port = url.removeprefix("http://").split(":")
        self.host, self.port = host, int(port)
        self.auth = f"Authorization: Bearer {key}\r\nHost: {host}\r\n"
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def call(self, method: str, target: str, body: bytes = b"") -> int:
        """The response's status (599 when the connection failed); the body is read and dropped."""
        try:
            if self.writer is None:
                self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
            assert self.reader is not None
            head = f"{method} {target} HTTP/1.1\r\n{self.auth}"
            if body:
                head += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
            self.writer.write(head.encode() + b"\r\n" + body)
            status = int((await self.reader.readuntil(b"\r\n")).split()[1])
            length, chunked, close = 0, False, False
            while (line := await self.reader.readuntil(b"\r\n")) != b"\r\n":
                name, _, value = line.decode("latin-1").partition(":")
                name, value = name.strip().lower(), value.strip().lower()
                if name == "content-length":
                    length = int(value)
                elif name == "transfer-encoding":
                    chunked = "chunked" in value
                elif name == "connection":
                    close = value == "close"
            if chunked:
                while size := int((await self.reader.readuntil(b"\r\n")).split(b";")[0], 16):
                    await self.reader.readexactly(size + 2)
                await self.reader.readuntil(b"\r\n")
            else:
                await self.reader.readexactly(length)
            if close:
                self.close()
            return status
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError, IndexError):
            self.close()
            return 599  # no answer

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


async def drive(
    url: str,
    key: str,
    seconds: float,
    concurrency: int,
    pick: list[tuple[float, str]],
    users: list[str],
    products: list[str],
    stop: asyncio.Event | None = None,
) -> Tally:
    """``concurrency`` closed-loop workers for ``seconds`` (or until ``stop`` is set), each on a
    keep-alive connection of its own, each request's route drawn by weight."""
    tally = Tally()
    weights = [w for w, _ in pick]
    routes = [r for _, r in pick]
    end = time.monotonic() + seconds

    async def worker() -> None:
        http = Http(url, key)
        try:
            while time.monotonic() < end and not (stop is not None and stop.is_set()):
                route = random.choices(routes, weights)[0]
                user = random.choice(users)
                t = time.perf_counter()
                if route == "feed":
                    status = await http.call("GET", f"/v1/users/{quote(user)}/feed?n=20")
                elif route == "events":
                    batch = event_batch(users, products, 20, "mix")
                    status = await http.call("POST", "/v1/events", json.dumps({"events": batch}).encode())
                elif route == "similar":
                    product = quote(random.choice(products))
                    status = await http.call("GET", f"/v1/products/{product}/similar?n=10")
                elif route == "content":
                    status = await http.call("GET", f"/v1/users/{quote(user)}/content?n=10")
                else:
                    status = await http.call("GET", "/v1/models/current")
                tally.add(route, (time.perf_counter() - t) * 1000, status)
        finally:
            http.close()

    async with asyncio.timeout(seconds + GRACE_S), asyncio.TaskGroup() as group:
        for _ in range(concurrency):
            group.create_task(worker())
    return tally


MIX = [(0.70, "feed"), (0.25, "events"), (0.02, "similar"), (0.02, "content"), (0.01, "model")]


def measured(
    server: Server, phase: str, load: Callable[[], Coroutine[Any, Any, Tally]]
) -> tuple[Tally, dict[str, float]]:
    """Run a load phase; the wall time and the CPU shares of the load generator and the server."""
    cpu0, srv0, t0 = time.process_time(), server.cpu_s(), time.perf_counter()
    tally = asyncio.run(load())
    wall = time.perf_counter() - t0
    cores = os.cpu_count() or 1
    shares = {
        "seconds": wall,
        "client_cpu_share": (time.process_time() - cpu0) / wall / cores,
        "server_cpu_share": (server.cpu_s() - srv0) / wall / cores,
    }
    print(
        f"  {phase}: {wall:.1f} s, client CPU {shares['client_cpu_share']:.0%} of the machine, "
        f"server {shares['server_cpu_share']:.0%}",
        flush=True,
    )
    return tally, shares


def print_table(title: str, rows: dict[str, dict[str, float]]) -> None:
    print(f"\n{title}")
    print(f"  {'route':<10}{'requests':>10}{'req/s':>10}{'p50 ms':>9}{'p99 ms':>9}{'errors':>8}{'5xx':>6}")
    for route, r in sorted(rows.items(), key=lambda kv: -kv[1]["requests"]):
        print(
            f"  {route:<10}{r['requests']:>10,.0f}{r['per_s']:>10,.1f}{r['p50_ms']:>9.1f}{r['p99_ms']:>9.1f}"
            f"{r['errors']:>8,.0f}{r['5xx']:>6,.0f}"
        )


def medians(runs: list[dict[str, dict[str, float]]]) -> dict[str, dict[str, float]]:
    routes = {r for run in runs for r in run}
    return {
        route: {k: statistics.median(run[route][k] for run in runs if route in run) for k in runs[0][route]}
        for route in routes
        if all(route in run for run in runs)
    }


# -- phases ---------------------------------------------------------------------------------------


def mixed(env: dict[str, str], args: argparse.Namespace) -> None:
    """The mixed traffic at each level of requests in flight: a closed loop's latency grows with what
    is in flight once the server is saturated, so each level's throughput and tail are reported."""
    for level in args.mixed_concurrency:
        mixed_at(env, args, level)


def mixed_at(env: dict[str, str], args: argparse.Namespace, level: int) -> None:
    runs, shares = [], []
    for k in range(args.runs):  # each run on a fresh copy of the world, its own server
        run_env = fresh(env, f"mixed-{k}")
        users, products, _, key = ids(run_env)
        server = Server(run_env, workers=args.workers)
        server.start()
        try:
            tally, share = measured(
                server,
                f"mixed run {k + 1}, {level} in flight",
                partial(drive, server.url, key, args.duration, level, MIX, users, products),
            )
        finally:
            server.stop()
        runs.append(tally.summary(share["seconds"]))
        shares.append(share)
    table = medians(runs)
    title = (
        f"Mixed traffic, --workers {args.workers}, {level} requests in flight, "
        f"medians of {args.runs} run(s) of {args.duration:.0f} s"
    )
    print_table(title, table)
    total = sum(r["per_s"] for r in table.values())
    client = statistics.median(s["client_cpu_share"] for s in shares)
    served = statistics.median(s["server_cpu_share"] for s in shares)
    print(f"  all routes {total:,.1f} req/s; CPU of the machine: client {client:.0%}, server {served:.0%}")
    feed = table.get("feed", {})
    ok = (
        feed.get("per_s", 0) >= 300
        and feed.get("p99_ms", 1e9) <= 50
        and all(r["5xx"] == 0 for r in table.values())
    )
    print(f"  target (≥ 300 feeds/s, p99 ≤ 50 ms, no 5xx) at {level} in flight: {'met' if ok else 'NOT met'}")


def feed_alone(env: dict[str, str], args: argparse.Namespace) -> None:
    from threadpoolctl import threadpool_limits

    from xingqu.runtime import Runtime
    from xingqu.services.feed import feed_service

    env = fresh(env, "feed")
    users, products, _, key = ids(env)
    server = Server(env, workers=2)
    server.start()
    try:
        if args.client == "wrk":
            http = wrk_feed(server, key, users, args)
        else:
            tally, share = measured(
                server,
                "feed alone, --workers 2",
                lambda: drive(
                    server.url, key, args.duration, args.concurrency, [(1.0, "feed")], users, products
                ),
            )
            http = tally.summary(share["seconds"])["feed"]
    finally:
        server.stop()
    runtime = Runtime(db=env["XINGQU_DB"], models_dir=env["XINGQU_MODELS_DIR"])
    service = feed_service(runtime)
    service.recommend(users[0], 20)
    times = []
    end = time.monotonic() + min(args.duration, 30)
    with threadpool_limits(1):
        while time.monotonic() < end and len(times) < 100_000:
            t = time.perf_counter()
            service.recommend(random.choice(users), 20)
            times.append((time.perf_counter() - t) * 1000)
    runtime.store.close()  # no connection of this process stays open on the store the server writes
    direct = {
        "requests": len(times),
        "per_s": 1000 / float(np.mean(times)),
        "p50_ms": float(np.percentile(times, 50)),
        "p99_ms": float(np.percentile(times, 99)),
        "errors": 0,
        "5xx": 0,
    }
    print_table(
        "The feed alone: over HTTP (2 workers) and called in process (1 thread)",
        {"http": http, "in-process": direct},
    )
    p50, p99 = http["p50_ms"] / direct["p50_ms"], http["p99_ms"] / direct["p99_ms"]
    rate = http["per_s"] / direct["per_s"]
    print(f"  HTTP / in-process: p50 × {p50:.2f}, p99 × {p99:.2f}; throughput {rate:.2f} × one thread's")


WRK_SCRIPT = """
local users = {%s}
local key = "%s"
math.randomseed(%d)
request = function()
  local u = users[math.random(#users)]
  return wrk.format("GET", "/v1/users/" .. u .. "/feed?n=20", {["Authorization"] = "Bearer " .. key})
end
done = function(summary, latency, requests)
  io.write(string.format("WRK %%d %%d %%d %%d %%.3f %%.3f\\n", summary.requests, summary.duration,
    summary.errors.status, summary.errors.connect + summary.errors.read + summary.errors.write
    + summary.errors.timeout, latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
"""


def wrk_feed(server: Server, key: str, users: list[str], args: argparse.Namespace) -> dict[str, float]:
    """The feed alone driven by wrk (one thread, ``--concurrency`` connections, random users): a load
    generator in C, so that the server has the cores to itself but for wrk's small share."""
    script = Path(tempfile.mkdtemp(prefix="xingqu-wrk-")) / "feed.lua"
    script.write_text(WRK_SCRIPT % (", ".join(f'"{u}"' for u in users), key, random.randrange(1 << 30)))
    cpu0, srv0, t0 = os.times(), server.cpu_s(), time.perf_counter()
    command = ["wrk", "-t1", f"-c{args.concurrency}", f"-d{int(args.duration)}s", "--timeout", "10s"]
    out = subprocess.run(
        [*command, "-s", str(script), server.url],
        capture_output=True,
        text=True,
        timeout=args.duration + GRACE_S,
    )
    wall = time.perf_counter() - t0
    cpu1 = os.times()
    line = next((x for x in out.stdout.splitlines() if x.startswith("WRK ")), None)
    if line is None:
        raise RuntimeError(f"wrk said: {out.stdout} {out.stderr}")
    requests, micros, bad_status, failed, p50, p99 = line.split()[1:]
    cores = os.cpu_count() or 1
    client = (cpu1.children_user + cpu1.children_system - cpu0.children_user - cpu0.children_system) / wall
    print(
        f"  feed alone, --workers 2, wrk: {wall:.1f} s, client CPU {client / cores:.0%} of the machine, "
        f"server {(server.cpu_s() - srv0) / wall / cores:.0%}",
        flush=True,
    )
    return {
        "requests": int(requests),
        "per_s": int(requests) / (int(micros) / 1e6),
        "p50_ms": float(p50),
        "p99_ms": float(p99),
        "errors": int(bad_status) + int(failed),
        "5xx": int(bad_status),  # wrk counts every non-2xx/3xx answer here
    }


async def post_all(
    url: str, key: str, batches: list[list[dict[str, object]]], senders: int, acked: set[int], deadline: float
) -> None:
    """Post every batch not acknowledged yet, ``senders`` at a time, retrying what gets no answer."""
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(len(batches)):
        if i not in acked:
            queue.put_nowait(i)
    async with httpx.AsyncClient(
        base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=60
    ) as http:

        async def sender() -> None:
            while not queue.empty() and time.monotonic() < deadline:
                i = queue.get_nowait()
                try:
                    r = await http.post("/v1/events", json={"events": batches[i]})
                    if r.status_code == 200:
                        acked.add(i)
                        continue
                except httpx.HTTPError:
                    pass
                queue.put_nowait(i)  # not acknowledged: sent again
                await asyncio.sleep(0.2)

        async with asyncio.TaskGroup() as group:
            for _ in range(senders):
                group.create_task(sender())


def ingest(env: dict[str, str], args: argparse.Namespace) -> None:
    from xingqu.runtime import Runtime

    env = fresh(env, "ingest")
    users, products, _, key = ids(env)
    tag = f"load-{uuid.uuid4().hex[:8]}"
    n_batches = max(1, args.events // 1_000)
    print(f"\npreparing {n_batches * 1_000:,} events…", flush=True)
    batches = [event_batch(users, products, 1_000, f"{tag}-{i}") for i in range(n_batches)]
    server = Server(env, workers=args.workers)
    server.start()
    acked: set[int] = set()
    killed_at = None
    budget = args.events / 2_000 + 120  # bounded even at a tenth of the target rate
    deadline = time.monotonic() + budget
    t0, cpu0, srv0 = time.perf_counter(), time.process_time(), server.cpu_s()
    tally = Tally()

    async def run_with_feeds() -> Tally:
        """Every batch not acknowledged yet posted, with feeds served beside until they are."""
        done = asyncio.Event()
        seconds = max(0.0, deadline - time.monotonic())
        feeds = asyncio.create_task(
            drive(server.url, key, seconds, 2, [(1.0, "feed")], users, products, done)
        )
        try:
            await post_all(server.url, key, batches, args.senders, acked, deadline)
        finally:
            done.set()
        return await feeds

    async def killed_midway(after: int) -> float:
        """Post with feeds beside until ``after`` batches are acknowledged, then SIGKILL the server with
        requests in flight (what they carried is acknowledged by no one and sent again later); the
        server's CPU seconds until then."""
        posting = asyncio.create_task(run_with_feeds())
        while len(acked) < after and not posting.done():
            await asyncio.sleep(0.01)
        used = server.cpu_s() - srv0
        server.kill()
        posting.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await posting
        return used

    cpu_before_kill = 0.0
    try:
        if args.kill:  # a random moment: after 10–90 % of the batches, whatever the rate
            after = random.randint(max(1, n_batches // 10), max(1, n_batches * 9 // 10))
            cpu_before_kill = asyncio.run(killed_midway(after))
            killed_at = len(acked)
            print(f"  SIGKILL after {killed_at:,} batches acknowledged; restarting", flush=True)
            server.start()
            srv0 = 0.0  # the new server's CPU counts from its start
        tally = asyncio.run(run_with_feeds())
    finally:
        wall = time.perf_counter() - t0
        cores = os.cpu_count() or 1
        client_share = (time.process_time() - cpu0) / wall / cores
        server_share = (cpu_before_kill + server.cpu_s() - srv0) / wall / cores
        server.stop()
    runtime = Runtime(db=env["XINGQU_DB"], models_dir=env["XINGQU_MODELS_DIR"])
    with runtime.store.reading() as conn:
        stored, distinct = conn.exec_driver_sql(
            "SELECT count(*), count(DISTINCT event_id) FROM events WHERE event_id LIKE ?", (f"{tag}-%",)
        ).one()
    sent = len(acked) * 1_000
    feed = tally.summary(wall).get("feed", {})
    rate = sent / wall
    print(f"\nEvents: {sent:,} acknowledged of {n_batches * 1_000:,} in {wall:.1f} s: {rate:,.0f} accepted/s")
    feeds, p99 = feed.get("per_s", 0.0), feed.get("p99_ms", 0.0)
    print(f"  (target ≥ 20,000/s) beside {feeds:,.0f} feeds/s, p99 {p99:.0f} ms")
    print(
        f"  stored {stored:,} ({distinct:,} distinct) for {sent:,} acknowledged: "
        f"{'none lost, none doubled' if stored == distinct == sent else 'MISMATCH'}"
        + (f"; killed with SIGKILL once, after {killed_at:,} batches" if killed_at is not None else "")
    )
    print(f"  client CPU {client_share:.0%}, server CPU {server_share:.0%} of the machine")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--folder", type=Path, help="world and store (built once, reused); default: a temp folder"
    )
    ap.add_argument("--preset", default="demo", help="simulator preset of the world (tiny for a smoke run)")
    ap.add_argument("--duration", type=float, default=60.0, help="seconds of each load run")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--concurrency", type=int, default=16, help="requests in flight, feed alone")
    ap.add_argument(
        "--mixed-concurrency",
        type=lambda v: [int(x) for x in v.split(",")],
        default=[8, 16],
        help="requests in flight of the mixed phase, comma-separated levels (each --runs times)",
    )
    ap.add_argument("--workers", type=int, default=2, help="server processes of the mixed and ingest phases")
    ap.add_argument("--events", type=int, default=1_000_000, help="events of the ingest phase")
    ap.add_argument("--senders", type=int, default=4, help="event batches in flight")
    ap.add_argument(
        "--client",
        choices=("wrk", "python"),
        default="wrk" if shutil.which("wrk") else "python",
        help="load generator of the feed-alone phase (wrk when installed: Debian's package 'wrk')",
    )
    ap.add_argument("--kill", action="store_true", help="SIGKILL the server once during the ingest phase")
    ap.add_argument("--phases", default="mixed,feed,ingest", help="which phases, comma-separated")
    args = ap.parse_args()
    folder = args.folder or Path(tempfile.mkdtemp(prefix="xingqu-load-"))
    env = prepare(folder, args.preset)
    print(
        f"the {args.preset} preset's world; {os.cpu_count()} cores; load from this process "
        "(asyncio); each run on a fresh copy of the store",
        flush=True,
    )
    phases = set(args.phases.split(","))
    if "mixed" in phases:
        mixed(env, args)
    if "feed" in phases:
        feed_alone(env, args)
    if "ingest" in phases:
        ingest(env, args)


if __name__ == "__main__":
    main()
