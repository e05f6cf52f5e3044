"""Child processes for the benchmarks that time whole ``xingqu`` commands: wall time and the peak
resident memory of a process tree (the JVM and Python workers included), sampled from /proc."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable


def tree_rss(roots: Iterable[int]) -> int:
    """Resident bytes of the processes ``roots`` and every descendant, from /proc."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    page = os.sysconf("SC_PAGE_SIZE")
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        pid, ppid = int(entry), int(fields[1])
        children.setdefault(ppid, []).append(pid)
        rss[pid] = int(fields[21]) * page
    total, todo, seen = 0, list(roots), set()
    while todo:
        pid = todo.pop()
        if pid in seen:
            continue
        seen.add(pid)
        total += rss.get(pid, 0)
        todo.extend(children.get(pid, []))
    return total


def run(
    cmd: list[str], env: dict[str, str], also: Callable[[], Iterable[int]] = tuple
) -> tuple[float, int, str]:
    """Run ``xingqu cmd``: (seconds, peak bytes of its process tree, standard output). ``also`` names
    more processes to count with it (a Spark cluster's master and workers, whose executors run the
    command's tasks); their memory before the command started is included."""
    start = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "xingqu.cli.app", *cmd],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    peak = 0
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, tree_rss([proc.pid, *also()]))
            done.wait(0.2)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    out, err = proc.communicate()
    done.set()
    sampler.join()
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"xingqu {' '.join(cmd)} failed ({proc.returncode}):\n{err[-3000:]}")
    return seconds, peak, out
