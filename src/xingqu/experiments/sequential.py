"""An always-valid test of the primary metric: the mixture sequential probability ratio test (mSPRT) of
Johari, Koomen, Pekelis and Walsh, "Always valid inference" (Operations Research, 2022), with a
normal mixture over the effect.

The effect is the difference of the arms' ratio metrics, θ = R_t − R_c, estimated by Δ = R̂_t − R̂_c
with the delta-method variance V = Var R̂_t + Var R̂_c (users are the unit). Mixing the likelihood
ratio of N(θ, V) against N(0, V) over θ ~ N(0, τ²) gives

    Λ = √(V / (V + τ²)) · exp(τ² Δ² / (2 V (V + τ²)))

which under "no effect" is a martingale as users arrive, so by Ville's inequality
P(Λ ever reaches 1/α) ≤ α: p = min(1, 1/Λ) may be read at every look and the experiment stopped as
soon as p < α, with no peeking penalty. The values of θ that the same test does not reject form a
confidence sequence (an interval valid at every look at once):

    Δ ± √( V (V + τ²) / τ² · (2 log(1/α) + log((V + τ²) / V)) )

τ² is given relative to the control's metric (0.01: effects of about ±10 %), so that one default
fits metrics of any unit; the test detects effects near √τ² soonest and stays valid for any τ².
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from xingqu.experiments.analysis import Ratio

#: Mixture variance of the relative effect by default: effects of about ±10 % of the control.
DEFAULT_TAU2 = 0.01


def log_lambda(delta: np.ndarray | float, var: np.ndarray | float, tau2: np.ndarray | float) -> np.ndarray:
    """log Λ of the normal-mixture SPRT for an estimate ``delta`` with variance ``var`` and mixture
    variance ``tau2`` (all in the effect's units; arrays broadcast, one entry per look)."""
    d, v, t = (np.asarray(x, dtype=np.float64) for x in (delta, var, tau2))
    return 0.5 * np.log(v / (v + t)) + t * d**2 / (2 * v * (v + t))


def always_valid_p(
    delta: np.ndarray | float, var: np.ndarray | float, tau2: np.ndarray | float
) -> np.ndarray:
    """min(1, 1/Λ): a p-value that may be read at every look (nan where the variance is not positive)."""
    v = np.asarray(var, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = np.minimum(1.0, np.exp(-log_lambda(delta, var, tau2)))
    return np.where(v > 0, p, np.nan)


def ratio_looks(x: np.ndarray, y: np.ndarray, sizes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Σx / Σy of the first m users and its delta-method variance (``analysis.ratio``'s) at every look
    m of ``sizes`` at once, from cumulative sums: how a stream of arriving users is monitored."""
    m = np.asarray(sizes, dtype=np.int64)
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    sx, sy = np.cumsum(x)[m - 1], np.cumsum(y)[m - 1]
    sxx, sxy, syy = (np.cumsum(a * b)[m - 1] for a, b in ((x, x), (x, y), (y, y)))
    with np.errstate(divide="ignore", invalid="ignore"):
        r = sx / sy
        var = (sxx - 2 * r * sxy + r * r * syy) / ((m - 1) * (sy / m) ** 2) / m
    return r, var


def radius(var: float, tau2: float, alpha: float) -> float:
    """Half-width of the confidence sequence around the estimate (nan when the variance is not positive)."""
    if not var > 0 or not tau2 > 0:
        return math.nan
    return math.sqrt(var * (var + tau2) / tau2 * (2 * math.log(1 / alpha) + math.log((var + tau2) / var)))


@dataclass(frozen=True)
class Sequential:
    """An arm against the control under the mSPRT: the difference, its confidence sequence, the same as
    a relative lift (divided by the control's metric) and the always-valid p-value."""

    difference: float
    low: float
    high: float
    lift_low: float
    lift_high: float
    p: float
    tau2: float

    def to_dict(self) -> dict[str, float | None]:
        def num(x: float) -> float | None:
            return None if x != x or math.isinf(x) else float(x)

        return {k: num(getattr(self, k)) for k in self.__dataclass_fields__}


def sequential(t: Ratio, c: Ratio, alpha: float, tau2: float = DEFAULT_TAU2) -> Sequential:
    """The mSPRT of arm ``t`` against the control ``c`` at this look, at level ``alpha`` (``tau2``
    relative to the control's metric); nan figures when either ratio or the control's value is
    undefined or zero."""
    nan = math.nan
    var = t.var + c.var
    if not (t.value == t.value and c.value == c.value and var == var) or c.value == 0:
        return Sequential(nan, nan, nan, nan, nan, nan, tau2)
    diff = t.value - c.value
    t2 = tau2 * c.value**2
    p = float(always_valid_p(diff, var, t2))
    h = radius(var, t2, alpha)
    scale = abs(c.value)
    return Sequential(diff, diff - h, diff + h, (diff - h) / scale, (diff + h) / scale, p, tau2)
