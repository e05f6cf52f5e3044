"""Online experiments without a server: assignment (deterministic, uniform, sticky across processes and
restarts, layers independent), attribution of events to arms, the report's statistics against a plain
bootstrap, the SRM check, the fixed-horizon verdict, definitions and the CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from xingqu.cli.app import run
from xingqu.domain.arrow import arrow_schema
from xingqu.errors import ConflictError, UserError
from xingqu.experiments import ArmData, Exposure, analyse, assign, assign_many, credit, parse_spec, unit
from xingqu.experiments.analysis import COLUMNS, ratio, srm
from xingqu.experiments.assign import units
from xingqu.experiments.model import Experiment
from xingqu.experiments.sequential import always_valid_p, ratio_looks, sequential
from xingqu.runtime import Runtime
from xingqu.services import experiments as service
from xingqu.services.experiments import now_ms

ROOT = Path(__file__).resolve().parents[1]


def _experiment(
    name: str = "e", layer: str = "default", shares: tuple[float, ...] = (0.5, 0.5), **pop: object
) -> Experiment:
    spec = parse_spec(
        {
            "name": name,
            "layer": layer,
            "arms": [{"name": f"a{i}", "share": s} for i, s in enumerate(shares)],
            "population": pop or {},
        }
    )
    share = float(pop.get("share", 1.0))  # type: ignore[arg-type]
    return Experiment(
        spec=spec,
        salt=f"{name}:salt",
        range_lo=0.0,
        range_hi=share,
        start_ms=0,
        end_ms=None,
        created_ms=0,
        created_by="t",
    )


# -- assignment ---------------------------------------------------------------------------------------


def test_assignment_is_deterministic_and_uniform_over_a_million_ids() -> None:
    exp = _experiment(shares=(0.5, 0.25, 0.25))
    ids = [f"u{i}" for i in range(1_000_000)]
    arms = assign_many(exp, ids)
    counts = np.array([arms.count(a) for a in ("a0", "a1", "a2")])
    assert counts.sum() == len(ids)
    chi2, p = stats.chisquare(counts, np.array([0.5, 0.25, 0.25]) * len(ids))
    assert p > 0.001, (counts, chi2)
    # the hash points themselves are uniform over 100 bins
    points = units(exp.salt, ids)
    assert stats.chisquare(np.bincount((points * 100).astype(int), minlength=100)).pvalue > 0.001
    # batch scoring and one-by-one serving agree; the same id always gets the same arm
    sample = ids[::997]
    assert [assign(exp, u) for u in sample] == [arms[i] for i in range(0, len(ids), 997)]
    assert [assign(exp, u) for u in sample] == [assign(exp, u) for u in sample]
    assert unit(exp.salt, "u1") == points[1]


def test_a_share_population_and_a_segment_take_only_their_users() -> None:
    exp = _experiment(share=0.2)
    ids = [f"u{i}" for i in range(50_000)]
    inside = sum(a is not None for a in assign_many(exp, ids))
    assert abs(inside / len(ids) - 0.2) < 0.01
    seg = _experiment(segment={"crowd": "gen_z"})
    assert assign(seg, "u1", {"crowd": "gen_z"}) is not None
    assert assign(seg, "u1", {"crowd": "urban_silver"}) is None
    assert assign(seg, "u1", None) is None


def test_layers_are_independent_and_a_layer_is_exclusive() -> None:
    a = _experiment("a", layer="ranking")
    b = _experiment("b", layer="pricing")
    ids = [f"u{i}" for i in range(200_000)]
    table = np.zeros((2, 2))
    for x, y in zip(assign_many(a, ids), assign_many(b, ids), strict=True):
        table[int(x[1]), int(y[1])] += 1
    assert stats.chi2_contingency(table).pvalue > 0.001, table
    # two experiments of one layer take disjoint slices: no user is in both
    c = Experiment(
        **{**_experiment("c", layer="ranking", share=0.5).__dict__, "range_lo": 0.0, "range_hi": 0.5}
    )
    d = Experiment(
        **{**_experiment("d", layer="ranking", share=0.5).__dict__, "range_lo": 0.5, "range_hi": 1.0}
    )
    both = [u for u, x, y in zip(ids, assign_many(c, ids), assign_many(d, ids), strict=True) if x and y]
    assert both == []
    assert sum(x is not None for x in assign_many(c, ids)) + sum(
        y is not None for y in assign_many(d, ids)
    ) == len(ids)


def _store(tmp_path: Path) -> Runtime:
    runtime = Runtime(db=f"sqlite:///{tmp_path / 's.db'}", models_dir=str(tmp_path / "models"))
    runtime.store.init()
    return runtime


def _definition(name: str, **extra: object) -> dict[str, object]:
    arms = [{"name": "control", "share": 0.5}, {"name": "treatment", "share": 0.5, "feed": "blend"}]
    return {"name": name, "arms": arms, **extra}


_PRINT_ARMS = """
import json, sys
from xingqu.runtime import Runtime
from xingqu.services.experiments import router
r = Runtime(db=sys.argv[1])
print(json.dumps({u: [a.name for _, a in router(r).route(u, 2**50)] for u in sys.argv[2:]}))
"""


def test_assignment_is_sticky_across_processes_and_restarts(tmp_path: Path) -> None:
    runtime = _store(tmp_path)
    service.create_experiment(runtime, _definition("sticky", start_ms=0), "test")
    users = [f"u{i:05d}" for i in range(300)]
    here = {u: [a.name for _, a in service.router(runtime).route(u, 2**50)] for u in users}
    assert {tuple(v) for v in here.values()} == {("control",), ("treatment",)}
    runtime.store.close()
    restarted = Runtime(db=runtime.settings.db)  # a restart: a new runtime over the same store
    assert {u: [a.name for _, a in service.router(restarted).route(u, 2**50)] for u in users} == here
    for seed in ("0", "12345"):  # other processes, with other string hashing
        env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "PYTHONHASHSEED": seed}
        out = subprocess.run(
            [sys.executable, "-c", _PRINT_ARMS, runtime.settings.db, *users],
            capture_output=True,
            text=True,
            env=env,
            check=True,
        )
        assert json.loads(out.stdout) == here


def test_definitions_are_audited_and_running_ones_cannot_be_edited(tmp_path: Path) -> None:
    runtime = _store(tmp_path)
    created = service.create_experiment(
        runtime, _definition("a", layer="l", population={"share": 0.7}), "ops"
    )
    assert created["layer_range"] == [0.0, 0.7] and created["status"] == "running"
    with pytest.raises(ConflictError, match="layer 'l' has 30%"):
        service.create_experiment(runtime, _definition("b", layer="l", population={"share": 0.5}), "ops")
    b = service.create_experiment(runtime, _definition("b", layer="l", population={"share": 0.3}), "ops")
    assert b["layer_range"][0] == pytest.approx(0.7)
    with pytest.raises(ConflictError, match="only stopped"):
        service.edit_experiment(runtime, "a", _definition("a"), "ops")
    later = service.create_experiment(runtime, _definition("later", layer="m", start_ms=2**50), "ops")
    assert later["status"] == "scheduled"
    edited = service.edit_experiment(
        runtime, "later", _definition("later", layer="m", start_ms=2**50, planned_users=50), "ops"
    )
    assert edited["planned_users"] == 50 and edited["salt"] == later["salt"]
    service.stop_experiment(runtime, "a", "enough", "ops")
    c = service.create_experiment(runtime, _definition("c", layer="l", population={"share": 0.5}), "ops")
    assert c["layer_range"] == [0.0, 0.5]  # a stopped experiment's slice is free again
    trail = [(e["action"], e["subject_id"]) for e in runtime.store.audit_entries(limit=20)]
    assert ("experiment_create", "a") in trail and ("experiment_stop", "a") in trail
    assert ("experiment_edit", "later") in trail
    assert all(r.ok for r in runtime.store.verify_chains())
    with pytest.raises(UserError, match=r"arms\.control\.model"):
        service.create_experiment(
            runtime,
            {
                **_definition("d"),
                "arms": [{"name": "control", "share": 0.5, "model": "v9"}, {"name": "t", "share": 0.5}],
            },
            "ops",
        )


# -- definitions --------------------------------------------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(
    shares=st.lists(
        st.one_of(st.floats(min_value=-1, max_value=2), st.just(float("nan")), st.sampled_from([0.5, 0.25])),
        min_size=0,
        max_size=4,
    ),
    name=st.text(max_size=80),
    feed=st.sampled_from(["default", "popular", "blend", "nope", ""]),
)
def test_a_definition_is_accepted_whole_or_refused_naming_its_field(
    shares: list[float], name: str, feed: str
) -> None:
    data = {"name": name, "arms": [{"name": f"a{i}", "share": s, "feed": feed} for i, s in enumerate(shares)]}
    try:
        spec = parse_spec(data)
    except UserError as exc:
        assert str(exc).startswith("invalid experiment: ")
        return
    assert abs(sum(a.share for a in spec.arms) - 1) < 1e-6 and len(spec.arms) >= 2


# -- attribution --------------------------------------------------------------------------------------

H = 3_600_000


def _events(rows: list[dict[str, object]]) -> pa.Table:
    schema = arrow_schema("events")
    full = [{f.name: r.get(f.name) for f in schema} for r in rows]
    for k, r in enumerate(full):
        r["event_id"] = r["event_id"] or f"e{k:03d}"
        r["ts"] = pa.scalar(int(r["ts"]), type=pa.int64()).cast(schema.field("ts").type).as_py()  # type: ignore[call-overload]
    return pa.Table.from_pylist(full, schema=schema)


def test_events_are_credited_by_request_id_window_and_order() -> None:
    start = 100 * H
    exposures = [Exposure("r1", "u1", "a0", start + H, 5.0), Exposure("r2", "u2", "a1", start + H, 7.0)]
    ev = _events(
        [
            {
                "event_type": "impression",
                "ts": start - 2 * H,
                "user_id": "u1",
                "product_id": "p1",
            },  # pre-period
            {
                "event_type": "pay",
                "ts": start - H,
                "user_id": "u1",
                "product_id": "p1",
                "order_id": "o0",
                "amount": 500,
                "shop_id": "s1",
            },
            {
                "event_type": "impression",
                "ts": start + H,
                "user_id": "u1",
                "product_id": "p1",
                "request_id": "r1",
            },
            {
                "event_type": "impression",
                "ts": start + H,
                "user_id": "u1",
                "product_id": "p9",
            },  # no request: not ours
            {
                "event_type": "click",
                "ts": start + 2 * H,
                "user_id": "u1",
                "product_id": "p1",
            },  # in the window
            {
                "event_type": "order",
                "ts": start + 3 * H,
                "user_id": "u1",
                "product_id": "p1",
                "order_id": "o1",
                "amount": 1000,
            },
            {
                "event_type": "pay",
                "ts": start + 3 * H,
                "user_id": "u1",
                "product_id": "p1",
                "order_id": "o1",
                "amount": 1000,
                "shop_id": "s1",
            },
            {
                "event_type": "refund",
                "ts": start + 200 * H,
                "user_id": "u1",
                "product_id": "p1",
                "order_id": "o1",
                "amount": 400,
                "refund_reason": "quality",
            },
            {
                "event_type": "pay",
                "ts": start + 100 * H,
                "user_id": "u1",
                "product_id": "p2",
                "order_id": "o2",
                "amount": 900,
                "shop_id": "s2",
            },  # past the window
            {
                "event_type": "impression",
                "ts": start + H,
                "user_id": "u2",
                "product_id": "p3",
                "request_id": "r1",
            },  # another user's request
            {
                "event_type": "impression",
                "ts": start + H,
                "user_id": "u2",
                "product_id": "p3",
                "request_id": "r2",
            },
            {
                "event_type": "pay",
                "ts": start + 2 * H,
                "user_id": "u2",
                "product_id": "p3",
                "order_id": "o3",
                "amount": 300,
                "request_id": "r2",
                "shop_id": "s3",
            },
        ]
    )
    arms = credit(
        [("a0", 0.5), ("a1", 0.5)],
        exposures,
        ev,
        start_ms=start,
        until_ms=start + 50 * H,
        window_ms=24 * H,
        violating={"p3"},
    )
    a0, a1 = arms
    assert a0.users == 1 and a1.users == 1
    c0 = {k: float(v[0]) for k, v in a0.columns.items()}
    assert c0["impressions"] == 1 and c0["clicks"] == 1
    assert c0["paid"] == 1000 and c0["refunded"] == 400 and c0["orders"] == 1
    assert c0["new_orders"] == 0  # u1 had bought at s1 before
    assert c0["pre_impressions"] == 1 and c0["pre_paid"] == 500
    c1 = {k: float(v[0]) for k, v in a1.columns.items()}
    assert c1["impressions"] == 1 and c1["paid"] == 300 and c1["new_orders"] == 1 and c1["violating"] == 300
    assert list(a0.latencies_ms) == [5.0] and list(a1.latencies_ms) == [7.0]


# -- statistics ---------------------------------------------------------------------------------------


def _arm(name: str, rng: np.random.Generator, n: int, lift: float = 0.0, share: float = 0.5) -> ArmData:
    pre_imp = rng.poisson(20, n).astype(float)
    skill = rng.lognormal(0, 1, n)
    imp = rng.poisson(20, n).astype(float) + 1
    habit = rng.beta(1, 2, n)  # users keep their buying habits from one period to the next
    buy = rng.random(n) < habit
    paid = np.where(buy, skill * 3000 * (1 + lift), 0.0)
    pre_paid = np.where(rng.random(n) < habit, skill * 3000, 0.0)
    cols = {c: np.zeros(n) for c in COLUMNS}
    cols.update(
        impressions=imp,
        clicks=rng.binomial(imp.astype(int), 0.1).astype(float),
        paid=paid,
        refunded=np.where(rng.random(n) < 0.1, paid * 0.5, 0),
        orders=buy.astype(float),
        new_orders=(buy & (rng.random(n) < 0.5)).astype(float),
        pre_impressions=pre_imp,
        pre_paid=pre_paid,
        pre_quality=pre_paid,
    )
    return ArmData(name, share, cols, rng.gamma(2, 20, n))


def test_the_reports_intervals_equal_a_plain_bootstrap() -> None:
    rng = np.random.default_rng(7)
    arms = [_arm("control", rng, 3000), _arm("treatment", rng, 3000, lift=0.1)]
    r = analyse(arms, primary="quality_gpm", planned_users=1000)
    boot = np.random.default_rng(8)
    qx = [(a.columns["paid"] - a.columns["refunded"] - a.columns["violating"]) * 10 for a in arms]
    ys = [a.columns["impressions"] for a in arms]
    ratios, lifts = [[], []], []
    for _ in range(2000):
        est = []
        for i in range(2):
            k = boot.integers(0, len(ys[i]), len(ys[i]))
            est.append(qx[i][k].sum() / ys[i][k].sum())
            ratios[i].append(est[-1])
        lifts.append(est[1] / est[0] - 1)
    for i in range(2):
        m = r["arms"][i]["metrics"]["quality_gpm"]
        lo, hi = np.percentile(ratios[i], [2.5, 97.5])
        width = hi - lo
        assert abs(m["low"] - lo) < 0.08 * width and abs(m["high"] - hi) < 0.08 * width
    lf = r["arms"][1]["primary"]["lift_without_cuped"]
    lo, hi = np.percentile(lifts, [2.5, 97.5])
    assert abs((lf["high"] - lf["low"]) / (hi - lo) - 1) < 0.08
    assert abs(lf["low"] - lo) < 0.1 * (hi - lo) and abs(lf["high"] - hi) < 0.1 * (hi - lo)
    # CUPED keeps the estimate and narrows the interval when the pre-period predicts the metric
    cuped = r["arms"][1]["primary"]
    assert r["cuped"]["applied"] and cuped["cuped_width_ratio"] < 0.95
    assert abs(cuped["lift"]["value"] - lf["value"]) < 0.5 * (lf["high"] - lf["low"])


def test_srm_flags_an_imbalance_and_the_verdict_says_so() -> None:
    assert srm([1000, 1010], [0.5, 0.5])["mismatch"] is False
    assert srm([1000, 800], [0.5, 0.5])["mismatch"] is True
    rng = np.random.default_rng(1)
    r = analyse([_arm("c", rng, 2000), _arm("t", rng, 1700)], planned_users=100)
    assert r["srm"]["mismatch"] and r["verdict"]["code"] == "srm"
    assert "SAMPLE RATIO MISMATCH" in r["verdict"]["text"]


def test_no_winner_is_called_before_the_planned_sample() -> None:
    rng = np.random.default_rng(2)
    arms = [_arm("c", rng, 800), _arm("t", rng, 800, lift=1.0)]
    early = analyse(arms, planned_users=5000)
    assert early["verdict"]["code"] == "collecting" and "No winner" in early["verdict"]["text"]
    assert early["arms"][1]["primary"]["lift"]["low"] > 0  # the interval shows it, the verdict waits
    done = analyse(arms, planned_users=800)
    assert done["verdict"]["code"] == "winner" and "beats c" in done["verdict"]["text"]
    assert "fixed horizon" in done["method"]


def test_an_arm_without_users_gives_a_report_not_an_error() -> None:
    empty = ArmData("t", 0.5, {c: np.zeros(0) for c in COLUMNS})
    r = analyse([_arm("c", np.random.default_rng(3), 50), empty], planned_users=10)
    assert r["arms"][1]["users"] == 0 and r["arms"][1]["primary"]["value"] is None
    assert ratio(np.zeros(1), np.zeros(1)).value != ratio(np.zeros(1), np.zeros(1)).value  # nan


# -- sequential (mSPRT) -------------------------------------------------------------------------------


@settings(max_examples=150, deadline=None)
@given(
    analysis=st.one_of(st.text(max_size=20), st.sampled_from(["fixed_horizon", "sequential"])),
    tau2=st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.sampled_from([0.01, 1.0])),
)
def test_the_analysis_method_is_checked_naming_its_field(analysis: str, tau2: float) -> None:
    data = {"name": "m", "arms": [{"name": "a", "share": 0.5}, {"name": "b", "share": 0.5}]}
    good_method = analysis in ("fixed_horizon", "sequential")
    good_tau = tau2 == tau2 and 0 < tau2 <= 100
    try:
        spec = parse_spec({**data, "analysis": analysis, "sequential_tau2": tau2})
    except UserError as exc:
        assert not (good_method and good_tau)
        assert ("analysis:" in str(exc)) == (not good_method)
        assert ("sequential_tau2:" in str(exc)) == (not good_tau)
        return
    assert good_method and good_tau and spec.analysis == analysis and spec.sequential_tau2 == tau2
    default = parse_spec(data)
    assert default.analysis == "fixed_horizon" and default.sequential_tau2 == 0.01


def _stream(rng: np.random.Generator, n: int, lift: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Users of one arm in arrival order: GMV (x10, heavy-tailed, mostly zero) and impressions."""
    imp = rng.poisson(20, n) + 1
    buys = rng.binomial(imp, 0.02 * (1 + lift))
    return buys * rng.lognormal(5, 0.8, n) * 10, imp.astype(float)


def _monitor(rng: np.random.Generator, n: int, looks: int, lift: float) -> tuple[np.ndarray, np.ndarray]:
    """One stream looked at ``looks`` times: the always-valid p and the fixed horizon's p at each."""
    m = np.linspace(30, n, looks).astype(int)
    (xc, yc), (xt, yt) = _stream(rng, n), _stream(rng, n, lift)
    (rc, vc), (rt, vt) = ratio_looks(xc, yc, m), ratio_looks(xt, yt, m)
    d, v = rt - rc, vt + vc
    return always_valid_p(d, v, 0.01 * rc**2), 2 * stats.norm.sf(np.abs(d) / np.sqrt(v))


def test_the_looks_are_the_reports_ratios_and_msprt() -> None:
    rng = np.random.default_rng(5)
    (xc, yc), (xt, yt) = _stream(rng, 2000), _stream(rng, 2000, 0.3)
    m = np.array([50, 400, 1200, 2000])
    (rc, vc), (rt, vt) = ratio_looks(xc, yc, m), ratio_looks(xt, yt, m)
    p = always_valid_p(rt - rc, vt + vc, 0.01 * rc**2)
    for k, size in enumerate(m):
        c, t = ratio(xc[:size], yc[:size]), ratio(xt[:size], yt[:size])
        assert c.value == pytest.approx(rc[k]) and c.var == pytest.approx(vc[k], rel=1e-9)
        seq = sequential(t, c, 0.05, 0.01)
        assert seq.p == pytest.approx(p[k], rel=1e-9)
        # the confidence sequence excludes zero exactly when the always-valid p is below α
        assert (seq.p < 0.05) == (seq.low > 0 or seq.high < 0)
        assert seq.low < seq.difference < seq.high


def test_msprt_keeps_its_level_under_continuous_peeking_where_the_fixed_test_does_not() -> None:
    rng = np.random.default_rng(11)
    streams, looks = 400, 200
    seq_fp = fixed_fp = 0
    for _ in range(streams):
        always, fixed = _monitor(rng, 3000, looks, 0.0)
        seq_fp += bool((always < 0.05).any())
        fixed_fp += bool((fixed < 0.05).any())
    assert seq_fp / streams <= 0.07
    assert fixed_fp / streams > 0.15  # the peeking problem: a fixed-horizon test read at every look


def test_msprt_rejects_a_real_effect_eventually() -> None:
    rng = np.random.default_rng(12)
    stops = []
    for _ in range(100):
        always, _ = _monitor(rng, 6000, 200, 0.3)
        crossed = np.flatnonzero(always < 0.05)
        stops.append(crossed[0] if len(crossed) else None)
    assert sum(s is not None for s in stops) >= 95
    assert np.median([s for s in stops if s is not None]) < 150  # most well before the last look


def test_a_sequential_experiment_calls_a_winner_before_the_planned_sample() -> None:
    rng = np.random.default_rng(2)
    arms = [_arm("c", rng, 800), _arm("t", rng, 800, lift=1.0)]
    fixed = analyse(arms, planned_users=5000)
    assert fixed["verdict"]["code"] == "collecting" and fixed["analysis"] == "fixed_horizon"
    assert "sequential" not in fixed["arms"][1]["primary"]
    # the mixture sized for large effects (τ² = 0.25: about ±50 %) detects this one early; one sized
    # for small effects is slower to cross (it is valid whatever τ², but less powerful far from it)
    small = analyse(arms, planned_users=5000, analysis="sequential", tau2=0.01)
    assert small["arms"][1]["primary"]["sequential"]["p"] > 0.05 and small["verdict"]["code"] == "collecting"
    seq = analyse(arms, planned_users=5000, analysis="sequential", tau2=0.25)
    s = seq["arms"][1]["primary"]["sequential"]
    assert seq["analysis"] == "sequential" and "mSPRT" in seq["method"] and "τ² = 0.25" in seq["method"]
    assert s["p"] < 0.05 and s["lift_low"] > 0 and s["lift_low"] < seq["arms"][1]["primary"]["lift"]["low"]
    assert seq["verdict"]["code"] == "winner" and "always-valid p" in seq["verdict"]["text"]
    # without an effect the sequential report keeps monitoring, and says looking is allowed
    aa = analyse([_arm("c", rng, 800), _arm("t", rng, 800)], planned_users=5000, analysis="sequential")
    assert aa["verdict"]["code"] == "collecting" and "Monitoring" in aa["verdict"]["text"]
    assert aa["arms"][1]["primary"]["sequential"]["p"] >= 0.05
    done = analyse([_arm("c", rng, 800), _arm("t", rng, 800)], planned_users=800, analysis="sequential")
    assert done["verdict"]["code"] == "no_difference"


# -- CLI ----------------------------------------------------------------------------------------------


def test_the_cli_creates_lists_shows_stops_and_reports(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = f"sqlite:///{tmp_path / 's.db'}"
    assert run(["init", "--db", db]) == 0
    capsys.readouterr()
    create = ["experiments", "create", "feed-vs-pop", "--db", db, "--arm", "control:0.5"]
    create += ["--arm", "popular:0.5:feed=popular", "--layer", "ranking", "--share", "0.5"]
    create += ["--guardrail", "refund_rate:0.1", "--planned-users", "500", "--json"]
    code = run(create)
    assert code == 0
    made = json.loads(capsys.readouterr().out)
    assert made["layer_range"] == [0.0, 0.5] and made["guardrails"] == [
        {"metric": "refund_rate", "tolerance": 0.1}
    ]
    assert run(["experiments", "list", "--db", db, "--json"]) == 0
    assert [e["name"] for e in json.loads(capsys.readouterr().out)] == ["feed-vs-pop"]
    assert run(["experiments", "show", "feed-vs-pop", "--db", db]) == 0
    assert "popular 50%" in capsys.readouterr().out
    assert run(["experiments", "report", "feed-vs-pop", "--db", db]) == 0
    text = capsys.readouterr().out
    assert "Verdict (collecting)" in text and "fixed horizon" in text
    assert run(["experiments", "stop", "feed-vs-pop", "--reason", "done", "--db", db]) == 0
    assert run(["experiments", "stop", "feed-vs-pop", "--reason", "again", "--db", db]) == 1
    assert "stopped already" in capsys.readouterr().err
    assert run(["experiments", "create", "x", "--db", db, "--arm", "a:0.6", "--arm", "b:0.6"]) == 1
    assert "add up to 1.2" in capsys.readouterr().err
    assert run(["experiments", "create", "x", "--db", db, "--arm", "a:half"]) == 1
    assert "not a number" in capsys.readouterr().err
    assert run(["experiments", "report", "nope", "--db", db]) == 1
    seq = ["experiments", "create", "watched", "--db", db, "--arm", "a:0.5", "--arm", "b:0.5:feed=blend"]
    assert run([*seq, "--layer", "seq", "--analysis", "sequential", "--tau2", "0.04", "--json"]) == 0
    made = json.loads(capsys.readouterr().out)
    assert made["analysis"] == "sequential" and made["sequential_tau2"] == 0.04
    assert run(["experiments", "report", "watched", "--db", db, "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["analysis"] == "sequential" and "τ² = 0.04" in report["method"]
    assert run(["experiments", "report", "watched", "--db", db]) == 0
    assert "sequential (always valid)" in capsys.readouterr().out
    assert run([*seq[:2], "w2", *seq[3:], "--layer", "s2", "--analysis", "bayes"]) == 1
    assert "analysis: Input should be 'fixed_horizon' or 'sequential'" in capsys.readouterr().err


def test_a_version_10_store_is_migrated_to_experiments(tmp_path: Path) -> None:
    runtime = _store(tmp_path)
    store = runtime.store
    with store.writing() as conn:  # back to version 10: no experiment tables, events without request_id
        conn.exec_driver_sql("DROP TABLE experiments")
        conn.exec_driver_sql("DROP TABLE exposures")
        conn.exec_driver_sql("ALTER TABLE events DROP COLUMN request_id")
        conn.exec_driver_sql("UPDATE xingqu_meta SET value = '10' WHERE key = 'schema_version'")
    assert store.schema_version() == 10
    assert store.init() == 12  # and on to the servability change log (12)
    service.create_experiment(runtime, _definition("after", start_ms=0), "test")
    assert [e["name"] for e in service.list_experiments(runtime)] == ["after"]
    with store.reading() as conn:
        columns = [r[1] for r in conn.exec_driver_sql("PRAGMA table_info(events)")]
    assert "request_id" in columns


def test_experiments_are_stored_served_and_reported_on_every_backend(store_url: str, tmp_path: Path) -> None:
    runtime = Runtime(db=store_url, models_dir=str(tmp_path / "models"))
    runtime.store.init()
    service.create_experiment(runtime, _definition("both", start_ms=0, planned_users=10), "test")
    users = [f"u{i}" for i in range(20)]
    routed = {u: service.router(runtime).route(u, 2**50) for u in users}
    runtime.store.experiments.log_exposures(
        [
            {
                "request_id": f"r{u}",
                "experiment": e.name,
                "arm": a.name,
                "user_id": u,
                "ts": 1,
                "latency_ms": 3.0,
            }
            for u, pairs in routed.items()
            for e, a in pairs
        ]
        * 2  # a repeated response is kept once
    )
    shown = service.show_experiment(runtime, "both")
    assert sum(x["users"] for x in shown["exposure"]) == 20
    assert sum(x["responses"] for x in shown["exposure"]) == 20
    report = service.report(runtime, "both")
    assert sum(a["users"] for a in report["arms"]) == 20 and report["verdict"]["code"] in {
        "collecting",
        "no_difference",
    }
    service.stop_experiment(runtime, "both", "done", "test")
    assert service.router(runtime).route("u1", now_ms()) == []
    assert all(r.ok for r in runtime.store.verify_chains())
    runtime.store.close()
