"""The statistics of an experiment's report, over per-user sums (the user is the unit of analysis, not
the impression: a user's impressions are correlated, so an impression-level interval would be too
narrow).

- Ratio metrics (GMV per 1,000 impressions, CTR, refund rate…) are ratios of sums, Σx / Σy over an
  arm's users; their variance comes from the delta method: Var(R) ≈ Var(x − R·y) / (n · ȳ²).
- The relative lift of an arm over the control, R_t / R_c − 1, gets its interval by the delta method
  on the log scale: Var(log R_t/R_c) ≈ Var R_t / R_t² + Var R_c / R_c², mapped back (asymmetric).
- CUPED: in each arm the linearised per-user metric is regressed on the user's pre-period activity —
  the same metric's numerator and denominator, and for money metrics the clicks and the other GMV too
  (a week's purchases are sparse; clicks say more about the next week's) — centred on their mean over
  all arms (the pre-period being untouched by the experiment); the adjusted estimate keeps its mean and
  loses the variance the pre-period explains.
- Sample ratio mismatch: χ² of the users per arm against the arms' shares; p < 0.001 is a mismatch.
- The decision rule is the experiment's choice. A fixed horizon (the default): one two-sided test at
  α = 0.05 once every arm has the planned number of users; before that, the report shows estimates and
  intervals but calls no winner. Sequential: the always-valid mSPRT (``xingqu.experiments.sequential``)
  of the primary metric, read at every look; a winner (or loser) is called as soon as its always-valid
  p-value is below α, and "no detectable difference" once the planned sample is reached without that.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import stats

from xingqu.experiments.model import HIGHER_IS_BETTER, METRICS, Guardrail
from xingqu.experiments.sequential import DEFAULT_TAU2, sequential

ALPHA = 0.05
POWER = 0.80
#: Below this p-value the users per arm are said not to match the arms' shares.
SRM_P = 0.001
_COMMON = (
    "95 % intervals by the delta method with the user as the unit; CUPED with the pre-period's metric "
    "and activity"
)
#: The report's description of each decision rule (``ExperimentSpec.analysis``).
METHODS = {
    "fixed_horizon": "fixed horizon: one two-sided test at α = 0.05 once every arm has its planned users; "
    + _COMMON,
    "sequential": "sequential (always valid): mixture SPRT (mSPRT, normal mixture, τ² = {tau2:g} of the "
    "control's metric squared) on the difference of the primary metric, read at every look, a winner "
    "called as soon as its always-valid p < α = 0.05; " + _COMMON + "; guardrails by fixed intervals",
}
METHOD = METHODS["fixed_horizon"]

#: Per-user columns each ratio metric is the ratio of (numerator, denominator), and the pre-period
#: columns CUPED adjusts it with (the same ratio's first; None: no pre-period form).
RATIOS: dict[str, tuple[str, str, tuple[str, ...] | None]] = {
    "quality_gpm": (
        "quality_x10",
        "impressions",
        ("pre_quality_x10", "pre_impressions", "pre_clicks", "pre_paid_x10"),
    ),
    "gpm": ("paid_x10", "impressions", ("pre_paid_x10", "pre_impressions", "pre_clicks", "pre_quality_x10")),
    "ctr": ("clicks", "impressions", ("pre_clicks", "pre_impressions")),
    "refund_rate": ("refunded", "paid", None),
    "new_customer_share": ("new_orders", "orders", None),
}
#: The per-user columns an arm's data must hold.
COLUMNS = (
    "impressions",
    "clicks",
    "paid",
    "refunded",
    "violating",
    "orders",
    "new_orders",
    "pre_impressions",
    "pre_clicks",
    "pre_paid",
    "pre_quality",
)


def derived(cols: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The columns with the scaled ones metrics read (fen × 10 per impression = yuan per 1,000)."""
    out = {k: np.asarray(v, dtype=np.float64) for k, v in cols.items()}
    out["quality_x10"] = (out["paid"] - out["refunded"] - out["violating"]) * 10.0
    out["paid_x10"] = out["paid"] * 10.0
    out["pre_quality_x10"] = out["pre_quality"] * 10.0
    out["pre_paid_x10"] = out["pre_paid"] * 10.0
    return out


@dataclass
class ArmData:
    """One arm's users: per-user sums (``COLUMNS``) and the feed's response times (ms)."""

    name: str
    share: float
    columns: dict[str, np.ndarray]
    latencies_ms: np.ndarray = field(default_factory=lambda: np.zeros(0))

    @property
    def users(self) -> int:
        return len(self.columns["impressions"])


@dataclass(frozen=True)
class Ratio:
    """An arm's ratio of sums, its delta-method variance and the per-user linearisation behind it."""

    value: float
    var: float
    n: int
    lin: np.ndarray  # (x − R·y) / ȳ per user: Var(R) = Var(lin) / n

    def interval(self, alpha: float = ALPHA) -> tuple[float, float]:
        h = stats.norm.ppf(1 - alpha / 2) * math.sqrt(self.var)
        return self.value - h, self.value + h


def ratio(x: np.ndarray, y: np.ndarray) -> Ratio:
    """Σx / Σy with its delta-method variance (nan when the denominator is zero or n < 2)."""
    n = len(x)
    sy = float(np.sum(y))
    if n < 2 or sy <= 0:
        return Ratio(math.nan, math.nan, n, np.zeros(n))
    r = float(np.sum(x)) / sy
    lin = (x - r * y) / (sy / n)
    return Ratio(r, float(np.var(lin, ddof=1)) / n, n, lin)


def cuped_theta(lin: np.ndarray, cov: np.ndarray) -> np.ndarray:
    """θ of CUPED in one arm: the least-squares coefficients of the metric's per-user linearisation on
    the pre-period covariates, both centred (zeros when the covariates do not vary)."""
    if len(lin) < 3:
        return np.zeros(cov.shape[1])
    d = cov - cov.mean(axis=0)
    xtx = d.T @ d
    if not np.any(np.diag(xtx) > 0):
        return np.zeros(cov.shape[1])
    return np.linalg.lstsq(xtx, d.T @ (lin - lin.mean()), rcond=None)[0]


def cuped(
    arms: Sequence[Mapping[str, np.ndarray]], metric: str
) -> tuple[list[Ratio], list[list[float]]] | None:
    """Each arm's ratio adjusted by CUPED with the pre-period covariates of ``metric`` (``RATIOS``: its
    numerator and denominator summed over the pre-period per user, and for money metrics the user's
    pre-period clicks and other GMV) and each arm's θ (None when the metric has no pre-period form or
    no user had pre-period activity).

    The covariates are centred on their mean over all arms (the pre-period is the same population
    before any arm acted on it), so each adjusted estimate keeps the plain one's expectation; θ is
    fitted in each arm (regression adjustment with the arm's own slope, which is never less precise
    than one pooled slope when the arms' metrics differ in scale), and the variance is that of the
    linearisation minus what the covariates explain."""
    num, den, pre = RATIOS[metric]
    if pre is None:
        return None
    covs = [np.column_stack([a[c] for c in pre]).astype(np.float64) for a in arms]
    pooled = np.concatenate(covs)
    if len(pooled) < 3 or not np.any(pooled > 0):
        return None
    scale = pooled.std(axis=0)
    scale[scale == 0] = 1.0
    centre = pooled.mean(axis=0)
    covs = [(c - centre) / scale for c in covs]
    out, thetas = [], []
    for a, c in zip(arms, covs, strict=True):
        r = ratio(a[num], a[den])
        if math.isnan(r.value):
            out.append(r)
            thetas.append([0.0] * len(pre))
            continue
        theta = cuped_theta(r.lin, c)
        shift = c @ theta
        adj = r.lin - shift
        out.append(Ratio(r.value - float(shift.mean()), float(np.var(adj, ddof=1)) / r.n, r.n, adj))
        thetas.append([float(t) for t in theta / scale])
    return out, thetas


@dataclass(frozen=True)
class Lift:
    """Relative lift of an arm over the control with its delta-method interval and p-value."""

    value: float
    se: float
    low: float
    high: float
    p: float

    def to_dict(self) -> dict[str, float | None]:
        return {k: _num(getattr(self, k)) for k in ("value", "se", "low", "high", "p")}


def lift(t: Ratio, c: Ratio, alpha: float = ALPHA) -> Lift:
    """R_t / R_c − 1 with its interval (nan when either ratio is undefined or the control's is zero).

    When both ratios are positive the interval is the delta method's on the log scale,
    log(R_t / R_c) ± z·√(Var R_t / R_t² + Var R_c / R_c²), mapped back: asymmetric, as a ratio's
    uncertainty is, and better calibrated for skewed money metrics than the linear form (which is
    used when a ratio is zero or negative); ``se`` is the linear form's in either case."""
    if not (t.value == t.value and c.value == c.value) or c.value == 0:
        nan = math.nan
        return Lift(nan, nan, nan, nan, nan)
    q = t.value / c.value
    rel_t = t.var / t.value**2 if t.value != 0 else 0.0
    se = abs(q) * math.sqrt(rel_t + c.var / c.value**2)
    if t.value == 0:  # the treatment's own variance in absolute terms
        se = math.sqrt(t.var) / abs(c.value)
    z = stats.norm.ppf(1 - alpha / 2)
    if t.value > 0 and c.value > 0:
        log_se = math.sqrt(rel_t + c.var / c.value**2)
        if log_se > 0:
            p = 2 * stats.norm.sf(abs(math.log(q)) / log_se)
            low, high = q * math.exp(-z * log_se) - 1, q * math.exp(z * log_se) - 1
            return Lift(q - 1, se, low, high, float(p))
    p = 2 * stats.norm.sf(abs(q - 1) / se) if se > 0 else (1.0 if q == 1 else 0.0)
    return Lift(q - 1, se, q - 1 - z * se, q - 1 + z * se, float(p))


def mde(t: Ratio, c: Ratio, alpha: float = ALPHA, power: float = POWER) -> float:
    """The smallest relative lift this traffic detects with ``power`` at ``alpha`` (two-sided)."""
    if not (t.var == t.var and c.var == c.var) or not c.value:
        return math.nan
    k = stats.norm.ppf(1 - alpha / 2) + stats.norm.ppf(power)
    return float(k * math.sqrt(t.var + c.var) / abs(c.value))


def users_needed(c: Ratio, relative_mde: float, alpha: float = ALPHA, power: float = POWER) -> int | None:
    """Users per arm (two equal arms) to detect ``relative_mde`` with ``power``, from the per-user
    variance seen in the control."""
    if not c.value or c.var != c.var or relative_mde <= 0:
        return None
    k = stats.norm.ppf(1 - alpha / 2) + stats.norm.ppf(power)
    per_user = c.var * c.n
    return math.ceil(2 * per_user * (k / (relative_mde * abs(c.value))) ** 2)


def srm(counts: Sequence[int], shares: Sequence[float]) -> dict[str, Any]:
    """χ² goodness of fit of users per arm against the arms' shares."""
    obs = np.asarray(counts, dtype=np.float64)
    total = obs.sum()
    if total == 0:
        return {"chi2": None, "p": None, "mismatch": False, "expected": [0.0] * len(counts)}
    exp = np.asarray(shares, dtype=np.float64) / float(np.sum(shares)) * total
    chi2, p = stats.chisquare(obs, exp)
    return {
        "chi2": float(chi2),
        "p": float(p),
        "mismatch": bool(p < SRM_P),
        "expected": [round(float(e), 1) for e in exp],
    }


def quantile_interval(values: np.ndarray, q: float, alpha: float = ALPHA) -> tuple[float, float, float]:
    """The ``q`` quantile and its distribution-free interval (order statistics of a binomial)."""
    n = len(values)
    if n == 0:
        return math.nan, math.nan, math.nan
    v = np.sort(values)
    lo = int(stats.binom.ppf(alpha / 2, n, q))
    hi = int(stats.binom.ppf(1 - alpha / 2, n, q)) + 1
    return float(np.quantile(v, q)), float(v[max(lo - 1, 0)]), float(v[min(hi - 1, n - 1)])


def _num(x: float) -> float | None:
    return None if x is None or x != x or math.isinf(x) else float(x)


def _guardrail_status(g: Guardrail, lf: Lift) -> str:
    """ok (harm ruled out beyond the tolerance), breached (harm beyond the tolerance and significant)
    or inconclusive."""
    if lf.value != lf.value:
        return "inconclusive"
    sign = 1.0 if HIGHER_IS_BETTER[g.metric] else -1.0
    harm, harm_bound = -sign * lf.value, max(-sign * lf.low, -sign * lf.high)
    significant = (lf.high < 0) if sign > 0 else (lf.low > 0)
    if significant and harm > g.tolerance:
        return "breached"
    return "ok" if harm_bound <= g.tolerance else "inconclusive"


def analyse(
    arms: Sequence[ArmData],
    *,
    primary: str = "quality_gpm",
    guardrails: Sequence[Guardrail] = (),
    planned_users: int = 1000,
    alpha: float = ALPHA,
    analysis: str = "fixed_horizon",
    tau2: float = DEFAULT_TAU2,
) -> dict[str, Any]:
    """The report's figures: per arm the primary metric and guardrails with intervals, lifts over the
    control (the first arm), CUPED, MDE, the SRM check and a plain-words verdict under the decision
    rule ``analysis`` (fixed_horizon, or sequential: the mSPRT with mixture variance ``tau2``)."""
    if analysis not in METHODS:
        raise ValueError(f"unknown analysis {analysis!r}; known: {', '.join(METHODS)}")
    cols = [derived(a.columns) for a in arms]
    control = arms[0].name
    plain = {m: [ratio(c[RATIOS[m][0]], c[RATIOS[m][1]]) for c in cols] for m in RATIOS}
    adjusted = cuped(cols, primary)
    chosen = adjusted[0] if adjusted is not None else plain[primary]
    check = srm([a.users for a in arms], [a.share for a in arms])
    p99 = [quantile_interval(a.latencies_ms, 0.99, alpha) for a in arms]
    out_arms: list[dict[str, Any]] = []
    for i, a in enumerate(arms):
        metrics: dict[str, Any] = {}
        for m in RATIOS:
            r = plain[m][i]
            lo, hi = r.interval(alpha)
            entry: dict[str, Any] = {"value": _num(r.value), "low": _num(lo), "high": _num(hi)}
            if i > 0:
                entry["lift"] = lift(r, plain[m][0], alpha).to_dict()
            metrics[m] = entry
        v, lo, hi = p99[i]
        metrics["latency_p99_ms"] = {"value": _num(v), "low": _num(lo), "high": _num(hi)}
        if i > 0 and p99[0][0] and p99[0][0] == p99[0][0]:
            metrics["latency_p99_ms"]["lift"] = {
                "value": _num(v / p99[0][0] - 1),
                "low": _num(lo / p99[0][2] - 1) if p99[0][2] else None,
                "high": _num(hi / p99[0][1] - 1) if p99[0][1] else None,
            }
        row: dict[str, Any] = {
            "arm": a.name,
            "share": a.share,
            "users": a.users,
            "impressions": int(cols[i]["impressions"].sum()),
            "responses": len(a.latencies_ms),
            "metrics": metrics,
        }
        r_cv = chosen[i]
        lo, hi = r_cv.interval(alpha)
        row["primary"] = {"metric": primary, "value": _num(r_cv.value), "low": _num(lo), "high": _num(hi)}
        if i > 0:
            lf = lift(r_cv, chosen[0], alpha)
            plain_lift = lift(plain[primary][i], plain[primary][0], alpha)
            width = (lf.high - lf.low) / (plain_lift.high - plain_lift.low) if plain_lift.se else math.nan
            row["primary"]["lift"] = lf.to_dict()
            row["primary"]["lift_without_cuped"] = plain_lift.to_dict()
            row["primary"]["cuped_width_ratio"] = _num(width)
            row["primary"]["mde"] = _num(mde(r_cv, chosen[0], alpha))
            row["guardrails"] = [_guardrail(g, metrics) for g in guardrails]
            if analysis == "sequential":
                row["primary"]["sequential"] = sequential(r_cv, chosen[0], alpha, tau2).to_dict()
        out_arms.append(row)
    reached = min(a.users for a in arms) >= planned_users
    verdict = _verdict(out_arms, check, reached, planned_users, primary, control, analysis, alpha)
    return {
        "method": METHODS[analysis].format(tau2=tau2),
        "analysis": analysis,
        "alpha": alpha,
        "primary_metric": primary,
        "primary_metric_means": METRICS[primary],
        "control": control,
        "planned_users": planned_users,
        "planned_reached": reached,
        "cuped": {
            "applied": adjusted is not None,
            "covariates": list(RATIOS[primary][2] or ()),
            "theta": adjusted[1] if adjusted else None,
        },
        "srm": check,
        "arms": out_arms,
        "verdict": verdict,
    }


def _guardrail(g: Guardrail, metrics: Mapping[str, Any]) -> dict[str, Any]:
    raw = metrics[g.metric].get("lift")
    if raw is None or raw.get("value") is None:
        return {"metric": g.metric, "tolerance": g.tolerance, "lift": None, "status": "inconclusive"}
    nan = math.nan
    lf = Lift(
        raw["value"],
        raw.get("se") if raw.get("se") is not None else nan,
        raw["low"] if raw.get("low") is not None else nan,
        raw["high"] if raw.get("high") is not None else nan,
        raw.get("p") if raw.get("p") is not None else nan,
    )
    return {"metric": g.metric, "tolerance": g.tolerance, "lift": raw, "status": _guardrail_status(g, lf)}


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{x:+.1%}"


def _below(p: float | None, alpha: float) -> bool:
    return p is not None and p < alpha


def _p(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.3g}"


def _verdict(
    arms: list[dict[str, Any]],
    check: dict[str, Any],
    reached: bool,
    planned: int,
    primary: str,
    control: str,
    analysis: str = "fixed_horizon",
    alpha: float = ALPHA,
) -> dict[str, Any]:
    """The decision in plain words, and a short code for scripts."""
    if check["mismatch"]:
        users = ", ".join(f"{a['arm']} {a['users']:,}" for a in arms)
        text = (
            f"SAMPLE RATIO MISMATCH (χ² p = {check['p']:.2g}): users per arm ({users}) do not match the "
            "arms' shares. Assignment, exposure logging or filtering is broken; do not trust any figure "
            "of this report until the cause is found."
        )
        return {"code": "srm", "text": text}
    fewest = min(a["users"] for a in arms)
    seq = analysis == "sequential"
    crossed = seq and any(_below(a["primary"]["sequential"]["p"], alpha) for a in arms[1:])
    if seq and not reached and not crossed:
        ps = ", ".join(f"{a['arm']} {_p(a['primary']['sequential']['p'])}" for a in arms[1:])
        text = (
            f"Monitoring (sequential): no arm differs from {control} yet (always-valid p: {ps}); "
            f"{fewest:,} of the {planned:,} planned users per arm. A winner is called as soon as an "
            f"always-valid p falls below {alpha:g}; looking now and again is allowed."
        )
        return {"code": "collecting", "text": text}
    if not reached and not seq:
        text = (
            f"Collecting: {fewest:,} of the {planned:,} planned users per arm ({fewest / planned:.0%}). "
            "No winner is called before the planned sample (fixed horizon); the intervals below are "
            "for information only."
        )
        return {"code": "collecting", "text": text}
    parts: list[str] = []
    code = "no_difference"
    for a in arms[1:]:
        p = a["primary"]
        lf = dict(p["lift"])
        kind = "95 % interval"
        if seq:
            s = p["sequential"]
            lf.update(low=s["lift_low"], high=s["lift_high"])
            kind = f"always-valid p = {_p(s['p'])}, 95 % confidence sequence"
        broken = [g for g in a["guardrails"] if g["status"] == "breached"]
        interval = f"{_pct(lf['low'])} to {_pct(lf['high'])}"
        if broken:
            names = ", ".join(f"{g['metric']} ({_pct(g['lift']['value'])})" for g in broken)
            parts.append(f"{a['arm']} breaks guardrail(s) {names}: do not ship it.")
            code = "guardrail_breached"
        elif lf["low"] is not None and lf["low"] > 0:
            parts.append(f"{a['arm']} beats {control} on {primary}: {_pct(lf['value'])} ({kind} {interval}).")
            code = "winner" if code == "no_difference" else code
        elif lf["high"] is not None and lf["high"] < 0:
            parts.append(
                f"{a['arm']} is worse than {control} on {primary}: {_pct(lf['value'])} ({kind} {interval})."
            )
            code = "loser" if code == "no_difference" else code
        elif seq and not reached:
            parts.append(
                f"{a['arm']}: not different from {control} on {primary} yet ({kind} {interval}); "
                "keep collecting."
            )
        else:
            mde_text = "n/a" if p.get("mde") is None else f"{p['mde']:.1%}"
            parts.append(
                f"{a['arm']}: no detectable difference from {control} on {primary} (interval "
                f"{interval} includes zero; this traffic detects lifts of about {mde_text})."
            )
    return {"code": code, "text": " ".join(parts)}
