"""The feed ranker's prediction: LightGBM's ``Booster.predict`` against the trees compiled to native
code (``xingqu.models.forest``), on a trained model and real feature rows.

    python benchmarks/ranker_predict.py --db sqlite:///STORE.db --models MODELS_DIR [--rounds 15]

Loads the current model version read-only, serves ``--users`` random users' feeds to collect the
ranker's real feature rows (every candidate of each request), checks that both paths give the same
scores on all of them, times the compilation, then prints µs per call for batches of 1, 20, 150 and
500 rows: the median over ``--rounds`` rounds (each the median of ``--calls`` calls on one random
block of rows), both paths interleaved in every round so a noisy machine slows both alike.
"""

from __future__ import annotations

import argparse
import platform
import random
import time

import lightgbm
import numpy as np

from xingqu.pipelines.feed import FeedTrace
from xingqu.runtime import Runtime
from xingqu.services.feed import feed_service

SIZES = (1, 20, 150, 500)


def _per_call_us(predict, x: np.ndarray, calls: int) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(calls):
        t = time.perf_counter_ns()
        predict(x)
        times.append(time.perf_counter_ns() - t)
    return float(np.median(times)) / 1000


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--db", required=True, help="the store's URL (read only)")
    ap.add_argument("--models", required=True, help="the models folder (read only)")
    ap.add_argument("--users", type=int, default=200, help="feeds served to collect feature rows")
    ap.add_argument("--rounds", type=int, default=15)
    ap.add_argument("--calls", type=int, default=50)
    args = ap.parse_args()

    service = feed_service(Runtime(db=args.db, models_dir=args.models))
    model = service.serving().model.feed
    assert model is not None and model.ranker is not None, "the model has no ranker"
    ranker = model.ranker
    ranker.native = False
    users = model.profiles.users.ids.tolist()
    rng = random.Random(0)
    blocks = []
    for _ in range(args.users):
        trace = FeedTrace()
        service.recommend(rng.choice(users), 20, explain=False, trace=trace)
        if trace.features is not None:
            blocks.append(trace.features.reshape(-1, trace.features.shape[-1]))
    x = np.concatenate(blocks)
    lightgbm_scores = ranker.predict(x)

    ranker.native = True
    t = time.perf_counter()
    compiled = ranker.compiled()
    build_s = time.perf_counter() - t
    if compiled is None:
        raise SystemExit("the ranker's trees were not compiled (llvmlite missing or model not supported)")
    same = np.array_equal(compiled.predict(x), ranker.booster.predict(x, num_threads=1))  # type: ignore[attr-defined]
    print(
        f"{platform.processor() or platform.machine()}, Python {platform.python_version()}, "
        f"LightGBM {lightgbm.__version__}; model: {ranker.booster.num_trees()} trees, "  # type: ignore[attr-defined]
        f"{len(ranker.features)} features"
    )
    print(
        f"{len(x)} real feature rows from {len(blocks)} feeds ({np.isnan(x).any(axis=1).sum()} with a NaN): "
        f"float64 scores identical: {same}; float32 scores identical: "
        f"{np.array_equal(ranker.predict(x), lightgbm_scores)}"
    )
    print(f"compile (parse + LLVM + check): {build_s:.2f} s")

    picker = np.random.default_rng(1)
    print(f"{'rows':>5} {'LightGBM µs':>12} {'compiled µs':>12} {'speed-up':>9}")
    for size in SIZES:
        runs: dict[bool, list[float]] = {False: [], True: []}
        for _ in range(args.rounds):
            lo = int(picker.integers(0, len(x) - size + 1))
            block = np.ascontiguousarray(x[lo : lo + size])
            for native in (False, True):
                ranker.native = native
                runs[native].append(_per_call_us(ranker.predict, block, args.calls))
        ranker.native = True
        lgb_us, fast_us = float(np.median(runs[False])), float(np.median(runs[True]))
        print(f"{size:>5} {lgb_us:>12.1f} {fast_us:>12.1f} {lgb_us / fast_us:>8.1f}×")


if __name__ == "__main__":
    main()
