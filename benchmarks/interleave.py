"""Run one benchmark against two source trees in turns (A, B, A, B, …), so that both meet the same
machine, and print the median of every figure each printed.

    python benchmarks/interleave.py --tree before=/path/to/old/src --tree after=src --rounds 3 -- \\
        python benchmarks/feed_latency.py --cache /tmp/feedcache --runs 1 --requests 2000

A figure is a number followed by a unit on a line that says what it is (``p50 6.37 ms``,
``465 users/s``); the line's text before it names it."""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
from collections import defaultdict

FIGURE = re.compile(r"(?:([A-Za-z][\w ]*?)\s+)?(\d[\d,]*(?:\.\d+)?)\s*(ms|users/s|req/s|/s|s)(?![\w/])")


def figures(text: str) -> dict[str, float]:
    """Every ``name number unit`` of ``text``, keyed by the line's first words and the name."""
    out: dict[str, float] = {}
    for line in text.splitlines():
        head, _, rest = line.rpartition(":") if ":" in line.split("(")[0] else ("", "", line)
        head = head.strip()
        for name, number, unit in FIGURE.findall(rest):
            key = " ".join(p for p in (f"{head}:" if head else "", name.strip(), f"({unit})") if p)
            out.setdefault(key, float(number.replace(",", "")))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tree", action="append", required=True, help="NAME=path of a source tree (PYTHONPATH)")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("command", nargs=argparse.REMAINDER, help="-- then the benchmark command")
    args = ap.parse_args()
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    trees = [t.split("=", 1) for t in args.tree]
    seen: dict[str, dict[str, list[float]]] = {name: defaultdict(list) for name, _ in trees}
    for r in range(args.rounds):
        for name, path in trees:
            env = {**os.environ, "PYTHONPATH": os.path.abspath(path)}
            out = subprocess.run(command, env=env, capture_output=True, text=True, check=True).stdout
            print(f"== {name}, round {r + 1}", flush=True)
            for key, value in figures(out).items():
                seen[name][key].append(value)
                print(f"  {key}: {value:g}")
    print(f"\nmedians of {args.rounds} rounds:", file=sys.stdout)
    keys = [k for k in seen[trees[0][0]] if all(k in seen[n] for n, _ in trees)]
    for key in keys:
        meds = {n: statistics.median(seen[n][key]) for n, _ in trees}
        first = meds[trees[0][0]]
        ratio = f"  (× {meds[trees[-1][0]] / first:.2f})" if first else ""
        print(f"  {key}: " + ", ".join(f"{n} {v:g}" for n, v in meds.items()) + ratio)


if __name__ == "__main__":
    main()
