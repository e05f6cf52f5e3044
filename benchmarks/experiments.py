"""Simulation study of the online experiments' statistics (``xingqu.experiments``).

    python benchmarks/experiments.py [--worlds 4] [--users 5000] [--runs 300] [--srm-runs 1000]

Each world is a small simulated marketplace (``tiny`` preset at ``--users`` users): a warm-up of
organic traffic, then a test week run twice in closed loop, once with every feed from the trained feed
policy and once from most-popular. That gives every active user's outcome under either feed (their
impressions, clicks, paid, refunded and violating amounts, orders) and their pre-period (the warm-up's
last 14 days). Each run is then an experiment on those users: a fresh hash salt assigns them to two
arms by ``xingqu.experiments.assign.units`` and the report's analysis (``analyse``) is computed:

- A/A: both arms take the same feed's outcomes; a run "flags a difference" when the primary metric's
  95 % lift interval (with CUPED, as the report gives it) excludes zero. Calibrated: 5 % ± 2 %.
- A/B, feed vs most-popular: the planned sample is the users per arm that detect a 50 % lift with 80 %
  power, from the variance of the first world's most-popular arm (a pilot); each run is analysed on
  its first planned users per arm (in a random arrival order) and counts when the verdict is "winner".
- CUPED: the ratio of the lift interval's width with CUPED to without (median over the A/B runs).
- Sequential (mSPRT, ``analysis: sequential``) under continuous monitoring: in each run users arrive
  in a random order and the always-valid p-value of the plain quality GMV per 1,000 impressions is read
  at ``--looks`` looks up to every user; A/A counts runs that ever cross α = 0.05 (and, as contrast, runs
  where the fixed-horizon test read at every look ever does), A/B runs that cross by the last look.
- SRM: assignment of ``--srm-users`` ids over 50/50 arms with 10 % of one arm's users lost (a logging
  fault); counts as caught when the χ² check reports a mismatch (p < 0.001). Also at the worlds' size.
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from pathlib import Path

import numpy as np
from scipy import stats

from xingqu.experiments.analysis import ArmData, analyse, ratio, srm, users_needed
from xingqu.experiments.assign import units
from xingqu.experiments.sequential import DEFAULT_TAU2, always_valid_p, ratio_looks
from xingqu.sim.ab import BUILTIN, run_seed
from xingqu.sim.config import preset

OUTCOMES = ("impressions", "clicks", "paid", "refunded", "violating", "orders", "new_orders")
PRE = ("pre_impressions", "pre_clicks", "pre_paid", "pre_quality")


def world(
    seed: int, users: int, warmup: int, days: int, cache: Path | None = None
) -> tuple[list[str], dict[str, dict[str, np.ndarray]]]:
    """Active users' ids and per-user outcomes under each feed (and the pre-period) for one world
    (kept in ``cache`` when given, so that the statistics can be re-run without re-simulating)."""
    per_user: dict[str, dict[str, np.ndarray]] = {}
    saved = None if cache is None else cache / f"world-{seed}-{users}-{warmup}-{days}.npz"
    if saved is not None and saved.exists():
        with np.load(saved) as f:
            for key in f.files:
                policy, column = key.split("__")
                per_user.setdefault(policy, {})[column] = f[key]
    else:
        cfg = preset("tiny", users=users, products=users // 5, creators=40, seed=seed)
        run_seed(cfg, seed, {a: BUILTIN[a] for a in ("popular", "feed")}, warmup, days, per_user=per_user)
        if saved is not None:
            saved.parent.mkdir(parents=True, exist_ok=True)
            np.savez(saved, **{f"{p}__{c}": v for p, cols in per_user.items() for c, v in cols.items()})
    active = np.flatnonzero(per_user["feed"]["impressions"] > 0)
    ids = [f"w{seed}-u{i}" for i in active]
    out = {name: {k: v[active] for k, v in cols.items()} for name, cols in per_user.items()}
    return ids, out


def arm(name: str, data: dict[str, dict[str, np.ndarray]], policy: str, rows: np.ndarray) -> ArmData:
    cols = {c: data[policy][c][rows] for c in OUTCOMES}
    cols.update({c: data["pre"][c][rows] for c in PRE})
    return ArmData(name, 0.5, cols)


def monitored(
    a: ArmData, b: ArmData, looks: int, tau2: float = DEFAULT_TAU2
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The always-valid p and the fixed horizon's p of B against A at ``looks`` looks as users arrive
    (their order in the arm), and the users per arm at each look."""
    n = min(a.users, b.users)
    sizes = np.unique(np.linspace(min(30, n), n, looks).astype(int))
    (ra, va), (rb, vb) = (
        ratio_looks(
            (x.columns["paid"] - x.columns["refunded"] - x.columns["violating"]) * 10,
            x.columns["impressions"],
            sizes,
        )
        for x in (a, b)
    )
    d, v = rb - ra, va + vb
    with np.errstate(divide="ignore", invalid="ignore"):  # no purchase yet at the first looks
        fixed = 2 * stats.norm.sf(np.abs(d) / np.sqrt(v))
    return always_valid_p(d, v, tau2 * ra**2), fixed, sizes


def flagged(lift: dict[str, float | None]) -> bool:
    low, high = lift["low"], lift["high"]
    return low is not None and high is not None and (low > 0 or high < 0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--worlds", type=int, default=4)
    ap.add_argument("--users", type=int, default=5000)
    ap.add_argument("--warmup", type=int, default=7, help="organic days before the test week")
    ap.add_argument("--days", type=int, default=7, help="days of the test period")
    ap.add_argument("--runs", type=int, default=300, help="experiments (salts) per world and study")
    ap.add_argument("--looks", type=int, default=100, help="looks per run of the sequential study")
    ap.add_argument("--srm-runs", type=int, default=1000)
    ap.add_argument("--srm-users", type=int, default=20_000)
    ap.add_argument("--mde", type=float, default=0.5, help="relative lift the planned sample is sized for")
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--cache", type=Path, default=None, help="keep the worlds' outcomes in this folder")
    args = ap.parse_args()
    t0 = time.perf_counter()
    worlds = []
    for k in range(args.worlds):
        worlds.append(world(args.seed + k, args.users, args.warmup, args.days, args.cache))
        print(
            f"  world {k + 1}/{args.worlds}: {len(worlds[-1][0]):,} active users "
            f"({time.perf_counter() - t0:.0f} s)",
            flush=True,
        )
    # the planned sample, from a pilot: the first world's most-popular arm (its per-user variance)
    data0 = worlds[0][1]
    pilot = ratio(
        (data0["popular"]["paid"] - data0["popular"]["refunded"] - data0["popular"]["violating"]) * 10,
        data0["popular"]["impressions"],
    )
    planned = users_needed(pilot, args.mde) or 0
    lifts = []
    for _, data in worlds:
        q = {
            p: (
                (data[p]["paid"] - data[p]["refunded"] - data[p]["violating"]).sum()
                * 10
                / data[p]["impressions"].sum()
            )
            for p in ("feed", "popular")
        }
        lifts.append(q["feed"] / q["popular"] - 1)

    aa = aa_plain = 0
    aa_runs = 0
    ab_hits = ab_runs = 0
    widths, aa_widths, ctr_widths, mdes = [], [], [], []
    capped = 0
    seq_aa = peek_aa = 0
    seq_ab = {DEFAULT_TAU2: 0, args.mde**2: 0}
    seq_at: dict[float, list[int]] = {t: [] for t in seq_ab}
    for w, (ids, data) in enumerate(worlds):
        n = len(ids)
        for s in range(args.runs):
            point = units(f"bench-{w}-{s}", ids)
            in_b = point >= 0.5
            for policy in ("feed", "popular"):
                r = analyse(
                    [
                        arm("A", data, policy, np.flatnonzero(~in_b)),
                        arm("A2", data, policy, np.flatnonzero(in_b)),
                    ],
                    planned_users=10,
                )
                p = r["arms"][1]["primary"]
                aa += flagged(p["lift"])
                aa_plain += flagged(p["lift_without_cuped"])
                aa_widths.append(p["cuped_width_ratio"])
                aa_runs += 1
            # A/B at the planned sample: users arrive in a random order; the first planned of each arm
            order = np.argsort(units(f"arrival-{w}-{s}", ids))
            take = min(planned, int(min(in_b.sum(), n - in_b.sum())))
            capped += take < planned
            a_rows = order[~in_b[order]][:take]
            b_rows = order[in_b[order]][:take]
            # continuous monitoring of every user in arrival order (not only the planned sample)
            a_all, b_all = order[~in_b[order]], order[in_b[order]]
            always, fixed, _ = monitored(
                arm("A", data, "feed", a_all), arm("A2", data, "feed", b_all), args.looks
            )
            seq_aa += bool((always < 0.05).any())
            peek_aa += bool((fixed < 0.05).any())
            pair = (arm("popular", data, "popular", a_all), arm("feed", data, "feed", b_all))
            for tau2 in seq_ab:
                always, _, sizes = monitored(*pair, args.looks, tau2)
                if (always < 0.05).any():
                    seq_ab[tau2] += 1
                    seq_at[tau2].append(int(sizes[np.argmax(always < 0.05)]))
            r = analyse(
                [arm("popular", data, "popular", a_rows), arm("feed", data, "feed", b_rows)],
                planned_users=take,
            )
            ab_runs += 1
            ab_hits += r["verdict"]["code"] == "winner"
            p = r["arms"][1]["primary"]
            widths.append(p["cuped_width_ratio"])
            mdes.append(p["mde"])
            pair = [arm("popular", data, "popular", a_rows), arm("feed", data, "feed", b_rows)]
            ctr = analyse(pair, primary="ctr", planned_users=take)
            ctr_widths.append(ctr["arms"][1]["primary"]["cuped_width_ratio"])

    # SRM: 50/50 arms, 10 % of arm B's users lost
    rng = np.random.default_rng(args.seed)
    caught = 0
    for s in range(args.srm_runs):
        ids = [f"s{s}-{i}" for i in range(args.srm_users)]
        b = units(f"srm-{s}", ids) >= 0.5
        kept_b = int((rng.random(int(b.sum())) >= 0.10).sum())
        caught += srm([int((~b).sum()), kept_b], [0.5, 0.5])["mismatch"]
    small = 0
    n_small = len(worlds[0][0])
    for s in range(args.srm_runs):
        b = units(f"srm-small-{s}", worlds[0][0]) >= 0.5
        kept_b = int((rng.random(int(b.sum())) >= 0.10).sum())
        small += srm([int((~b).sum()), kept_b], [0.5, 0.5])["mismatch"]

    busy = os.getloadavg()[0]
    print(
        f"\nmachine: {platform.machine()}, Python {platform.python_version()}, load average {busy:.1f} "
        f"({os.cpu_count()} cores; shared)"
    )
    print(
        f"{args.worlds} worlds of {args.users:,} users "
        f"({', '.join(f'{len(i):,}' for i, _ in worlds)} active in the {args.days}-day test), "
        f"{args.runs} salts each; {time.perf_counter() - t0:.0f} s"
    )
    print(
        f"true lift of feed over most-popular in quality GMV per 1,000 impressions, per world: "
        f"{', '.join(f'{x:+.0%}' for x in lifts)}"
    )
    print(
        f"A/A false-positive rate (95 % level, CUPED as reported): {aa / aa_runs:.1%} of {aa_runs} runs "
        f"(without CUPED: {aa_plain / aa_runs:.1%})"
    )
    print(
        f"planned sample: {planned:,} users per arm (a {args.mde:.0%} lift at 80 % power from the pilot)"
        + (f"; {capped} of {ab_runs} runs had fewer in an arm and used them all" if capped else "")
    )
    print(
        "A/B feed vs most-popular detected (verdict 'winner') at the planned sample: "
        f"{ab_hits / ab_runs:.1%} of {ab_runs} runs; median MDE {np.median(mdes):.0%}"
    )
    print(
        f"CUPED interval-width ratio (with ÷ without), median: A/B {np.median(widths):.3f}, "
        f"A/A {np.median(aa_widths):.3f}; with CTR as the primary metric {np.median(ctr_widths):.3f}"
    )
    detected = "; ".join(
        f"τ² = {t:g}: {seq_ab[t] / ab_runs:.1%}, median "
        f"{np.median(seq_at[t]) if seq_at[t] else float('nan'):,.0f} users per arm at detection"
        for t in seq_ab
    )
    print(
        f"sequential (mSPRT) read at {args.looks} looks up to every user: A/A false-positive rate "
        f"{seq_aa / ab_runs:.1%} of {ab_runs} runs at τ² = {DEFAULT_TAU2:g} (the fixed-horizon test read "
        f"at every look: {peek_aa / ab_runs:.1%}); feed vs most-popular detected with {detected}"
    )
    print(
        f"SRM check (χ² p < 0.001) catches 10 % of one arm's users lost: {caught / args.srm_runs:.1%} of "
        f"{args.srm_runs} runs at {args.srm_users:,} users; {small / args.srm_runs:.1%} at a world's "
        f"{n_small:,} users"
    )


if __name__ == "__main__":
    main()
