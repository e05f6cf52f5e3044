"""Start-up: how long ``xingqu --version`` and ``xingqu --help`` take, and what importing the command line
costs (``python -X importtime``); commands import their heavy libraries only when they run.

    python benchmarks/startup.py [--runs 11]

Target: ``xingqu --version`` ≤ 0.3 s and ``import xingqu.cli.app`` under 300 ms on this machine kind.

Measured as an installed program runs: with Python's bytecode cache (``__pycache__``) in use, after one
warm-up run that writes it. ``PYTHONDONTWRITEBYTECODE`` in the environment would make every start compile
every module from source until a cache exists; that figure (no cache read or written) is printed too.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

CACHED = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
#: No bytecode read or written: the cache is looked for in an empty folder.
UNCACHED = {
    **CACHED,
    "PYTHONDONTWRITEBYTECODE": "1",
    "PYTHONPYCACHEPREFIX": tempfile.mkdtemp(prefix="xingqu-nocache-"),
}


def wall(cmd: list[str], runs: int, env: dict[str, str] = CACHED) -> float:
    """Median wall time of a command, in seconds (after one warm-up run)."""
    subprocess.run(cmd, check=True, capture_output=True, env=env)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True, env=env)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def import_ms(module: str, runs: int) -> float:
    """Median cumulative import time of ``module`` reported by ``-X importtime``, in ms."""
    found = []
    for _ in range(runs):
        err = subprocess.run(
            [sys.executable, "-X", "importtime", "-c", f"import {module}"],
            capture_output=True,
            text=True,
            env=CACHED,
        ).stderr
        line = [x for x in err.splitlines() if re.search(rf"\|\s*{re.escape(module)}$", x)][-1]
        found.append(int(line.split("|")[1]) / 1000)
    return statistics.median(found)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=11)
    args = ap.parse_args()
    exe = shutil.which("xingqu") or sys.executable
    base = [exe] if exe != sys.executable else [sys.executable, "-m", "xingqu"]
    python = wall([sys.executable, "-c", "pass"], args.runs)
    print(f"machine: {platform.machine()}, Python {platform.python_version()}; medians of {args.runs} runs")
    print(f"python -c pass (baseline): {python * 1000:.0f} ms")
    cli = import_ms("xingqu.cli.app", args.runs)
    print(f"import xingqu.cli.app: {cli:.0f} ms (cumulative, -X importtime)")
    for flag in ("--version", "--help"):
        cached = wall([*base, flag], args.runs)
        ratio = cached / python
        print(f"xingqu {flag}: {cached * 1000:.0f} ms wall ({ratio:.1f}× python -c pass)")
    uncached = wall([*base, "--version"], args.runs, UNCACHED)
    print(f"xingqu --version compiling every module (no bytecode cache): {uncached * 1000:.0f} ms")


if __name__ == "__main__":
    main()
