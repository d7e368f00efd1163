"""Kaplan-Meier estimation with explicit methods (SAR_SPEC 6), matching R ``survival``.

- Survival: product-limit; Greenwood variance; ``std_err`` is the standard error of the
  cumulative hazard / log survival, sqrt(sum d / (n (n - d))), as R's ``survfit`` reports it.
- Pointwise CI transform ``conf_type``: ``"plain"`` (S +/- z se S, clipped to [0, 1]),
  ``"log"`` (S exp(+/- z se); R's default) or ``"log-log"`` (exp(-exp(log(-log S) +/- z se /
  log S)); SAS LIFETEST's default and the SAR's). Undefined at S = 1 (log-log) or S = 0.
- Quantiles (median, quartiles) and their CIs: Brookmeyer-Crowley, i.e. the same quantile rule
  applied to the lower and upper pointwise bands -- a port of R's ``quantile.survfit``
  (``findq``): where the curve is flat exactly at the target the midpoint of the flat stretch is
  taken. A bound the band never reaches is ``NaN`` ("NE", not estimable).
- Landmark rates: S(t) and its CI at a time t (step function, right-continuous), with the
  number at risk at t defined as R's ``summary(survfit, times = t)$n.risk``: subjects whose
  time is >= t (so a subject with an event or censoring exactly at t is still at risk at t).
- Median follow-up: reverse Kaplan-Meier (censorings as events).
- At scale: the estimate depends on the data only through the events and censorings at each
  distinct time (:func:`event_counts`); counts of partitions of a cohort are summed
  (:func:`sum_event_counts`) and :func:`kaplan_meier_from_counts` gives the one-shot estimate
  exactly (one code path: :func:`kaplan_meier` is that function on its own counts). Written
  here rather than taken from lifelines so that one estimator -- the one tested against R
  ``survfit`` to 1e-6, with R's ``findq`` quantile rule -- serves the notebooks and the
  partitioned run alike.
- Symmetric "median +/- 1.96 SE" CI as SPSS prints it, with SE from Collett's density
  estimate; used only to compare with the publication's symmetric CIs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import pandas as pd
from scipy.stats import norm

from .status import event_indicator

CONF_TYPES = ("plain", "log", "log-log")
TOLERANCE = np.sqrt(np.finfo(float).eps)


@dataclass
class KaplanMeier:
    time: np.ndarray        # every distinct time (events and censorings), ascending
    n_risk: np.ndarray
    n_event: np.ndarray
    n_censor: np.ndarray
    surv: np.ndarray
    std_err: np.ndarray     # SE of log S (R's survfit std.err)
    lower: np.ndarray
    upper: np.ndarray
    conf_type: str
    conf_level: float
    n: int

    @property
    def events(self) -> int:
        return int(self.n_event.sum())

    def to_frame(self) -> pd.DataFrame:
        """One row per distinct time, as R's ``summary(survfit, censored = TRUE)``."""
        return pd.DataFrame({"time": self.time, "n_risk": self.n_risk, "n_event": self.n_event.astype(int),
                             "n_censor": self.n_censor.astype(int), "surv": self.surv, "std_err": self.std_err,
                             "lower": self.lower, "upper": self.upper})

    def summary(self, times) -> pd.DataFrame:
        """S(t), its CI and the number at risk (time >= t) at each of ``times``, as R's
        ``summary(survfit, times = ..., extend = TRUE)``."""
        rows = [survival_at(self, t) for t in np.atleast_1d(times)]
        return pd.DataFrame(rows, columns=list(Landmark._fields)).assign(time=np.atleast_1d(times).astype(float)) \
            [["time", "n_risk", "surv", "lower", "upper"]]

    def __repr__(self) -> str:
        med = quantile(self, 0.5)
        return (f"Kaplan-Meier ({self.conf_type} {self.conf_level:.0%} CI): n = {self.n}, events = {self.events}, "
                f"median = {med.estimate:.4g} ({med.lower:.4g}, {med.upper:.4g})")


def kaplan_meier(time, event, conf_type: str = "log-log", conf_level: float = 0.95,
                 event_value=None) -> KaplanMeier:
    """time: follow-up times (>= 0); event: 1 (or True) = event, 0 (or False) = censored; any
    other code is an error unless ``event_value`` names the event code (R-style 1/2: 2)."""
    if conf_type not in CONF_TYPES:
        raise ValueError(f"conf_type must be one of {CONF_TYPES}, not {conf_type!r}")
    t = np.asarray(time, dtype=float)
    e = event_indicator(event, event_value, name="event").astype(int)
    if t.shape != e.shape or t.ndim != 1:
        raise ValueError("time and event must be 1-d arrays of equal length")
    if len(t) == 0:
        raise ValueError("no observations")
    if np.any(np.isnan(t)) or np.any(t < 0):
        raise ValueError("times must be non-negative and not missing")
    c = event_counts(t, e)
    return kaplan_meier_from_counts(c.time, c.n_event, c.n_censor, conf_type, conf_level)


def event_counts(time, event) -> pd.DataFrame:
    """Events and censorings at each distinct time (ascending): the sufficient statistics of
    the Kaplan-Meier estimate. Counts of disjoint sets of patients (partitions of a cohort) add
    up, time by time (:func:`sum_event_counts`), to the counts of their union, so a KM of 10^6
    patients needs only these per partition, never the patients together."""
    t = np.asarray(time, dtype=float)
    e = np.asarray(event).astype(int)
    ut = np.unique(t)
    idx = np.searchsorted(ut, t)
    d = np.bincount(idx, weights=e, minlength=len(ut))
    c = np.bincount(idx, weights=1 - e, minlength=len(ut))
    return pd.DataFrame({"time": ut, "n_event": d, "n_censor": c})


def sum_event_counts(parts) -> pd.DataFrame:
    """The counts of several :func:`event_counts` frames added time by time (ascending times)."""
    parts = [p for p in parts if len(p)]
    if not parts:
        return pd.DataFrame({"time": np.zeros(0), "n_event": np.zeros(0), "n_censor": np.zeros(0)})
    s = pd.concat(parts, ignore_index=True).groupby("time", sort=True)[["n_event", "n_censor"]].sum()
    return s.reset_index()


def kaplan_meier_from_counts(time, n_event, n_censor, conf_type: str = "log-log",
                             conf_level: float = 0.95) -> KaplanMeier:
    """The Kaplan-Meier estimate (module docstring) from the events and censorings at each
    distinct time: ``time`` strictly ascending, counts >= 0 (from :func:`event_counts`, or
    their sum over partitions, :func:`sum_event_counts`). :func:`kaplan_meier` is this on the
    counts of its data, so both give the same numbers to the last bit."""
    if conf_type not in CONF_TYPES:
        raise ValueError(f"conf_type must be one of {CONF_TYPES}, not {conf_type!r}")
    ut = np.asarray(time, dtype=float)
    d = np.asarray(n_event, dtype=float)
    c = np.asarray(n_censor, dtype=float)
    if not (ut.shape == d.shape == c.shape) or ut.ndim != 1:
        raise ValueError("time, n_event and n_censor must be 1-d arrays of equal length")
    if len(ut) == 0:
        raise ValueError("no observations")
    if np.any(np.isnan(ut)) or np.any(ut < 0) or np.any(np.diff(ut) <= 0):
        raise ValueError("times must be non-negative, not missing and strictly ascending")
    if np.any(d < 0) or np.any(c < 0) or np.any(d != np.round(d)) or np.any(c != np.round(c)):
        raise ValueError("counts must be non-negative whole numbers")
    tot = np.rint(d + c).astype(np.int64)
    n_total = int(tot.sum())
    n = n_total - np.concatenate([[0], np.cumsum(tot)[:-1]])
    s = np.cumprod(1 - d / n)
    with np.errstate(divide="ignore", invalid="ignore"):
        inc = np.where(n > d, d / (n * (n - d)), np.where(d > 0, np.inf, 0.0))
    se = np.sqrt(np.cumsum(inc))
    lo, hi = _bands(s, se, conf_type, conf_level)
    return KaplanMeier(ut, n, d, c, s, se, lo, hi, conf_type, conf_level, n_total)


def _bands(s, se, conf_type, conf_level):
    z = norm.ppf(1 - (1 - conf_level) / 2)
    with np.errstate(divide="ignore", invalid="ignore"):
        if conf_type == "plain":
            lo, hi = np.clip(s - z * se * s, 0, 1), np.clip(s + z * se * s, 0, 1)
        elif conf_type == "log":
            lo, hi = s * np.exp(-z * se), np.minimum(s * np.exp(z * se), 1)
            lo = np.where(s > 0, lo, np.nan)
            hi = np.where(s > 0, hi, np.nan)
        else:
            xx = np.where((s > 0) & (s < 1), np.log(-np.log(s)), np.nan)
            a = np.exp(-np.exp(xx + z * se / np.log(s)))
            b = np.exp(-np.exp(xx - z * se / np.log(s)))
            lo, hi = np.minimum(a, b), np.maximum(a, b)
    lo = np.where(np.isinf(se), np.nan, lo)
    hi = np.where(np.isinf(se), np.nan, hi)
    return lo, hi


def _approx_constant_right(xs: np.ndarray, ys: np.ndarray, v: float) -> float:
    """R ``approx(xs, ys, v, method = "constant", f = 1)$y`` for one point: NA pairs dropped,
    points ordered by ``xs``; outside the range NA; on a point its value; between two points the
    right-hand value. (A confidence band need not be monotone, so the order matters.)"""
    ok = ~(np.isnan(xs) | np.isnan(ys))
    xs, ys = xs[ok], ys[ok]
    if len(xs) == 0:
        return np.nan
    order = np.argsort(xs, kind="stable")
    xs, ys = xs[order], ys[order]
    if v < xs[0] or v > xs[-1]:
        return np.nan
    j = int(np.searchsorted(xs, v, side="left"))
    if xs[j] == v:
        return float(ys[j])
    return float(ys[j])          # xs[j - 1] < v < xs[j]: f = 1 takes the right-hand value


def _findq(x: np.ndarray, y: np.ndarray, p: float, tol: float = TOLERANCE) -> float:
    """R survival:::findq for one probability: x times (with the origin first), y = 1 - S or
    1 - a confidence band (which may be NA, and need not be monotone)."""
    if np.all(np.isnan(y)) or np.nanmax(y) < p:
        return np.nan
    xmax = x[-1]
    # R's duplicated(): any repeat of an earlier value (NA repeats NA) is dropped
    _, first = np.unique(np.where(np.isnan(y), np.inf, y), return_index=True)
    keep = np.zeros(len(y), dtype=bool)
    keep[first] = True
    x, y = x[keep], y[keep]
    n = len(y)
    pos = np.arange(n, dtype=float)
    i1 = _approx_constant_right(y + tol, pos, p)
    i2 = _approx_constant_right(y - tol, pos, p)
    q = (x[int(i1)] + x[int(i2)]) / 2 if not (np.isnan(i1) or np.isnan(i2)) else np.nan
    if p == 0:
        q = x[0]
    if not np.isnan(y[n - 1]) and abs(p - y[n - 1]) < tol:   # the curve ends exactly at the target
        q = (x[int(i1)] + xmax) / 2 if not np.isnan(i1) else np.nan
    return float(q)


class QuantileCI(NamedTuple):
    estimate: float
    lower: float
    upper: float


class Landmark(NamedTuple):
    surv: float
    lower: float
    upper: float
    n_risk: int


def quantile(km: KaplanMeier, p=0.5):
    """The time by which a fraction p has had the event (p = 0.5: the median), with its
    Brookmeyer-Crowley CI; NaN where not reached. A single p gives a ``QuantileCI``
    (estimate, lower, upper); several give a DataFrame indexed by p with those columns, as
    R's ``quantile(survfit, probs)``."""
    if np.ndim(p) == 0:
        return _quantile1(km, float(p))
    probs = [float(q) for q in p]
    return pd.DataFrame([_quantile1(km, q) for q in probs], index=pd.Index(probs, name="p"))


def _quantile1(km: KaplanMeier, p: float) -> QuantileCI:
    if not 0 <= p <= 1:
        raise ValueError(f"quantile probability must be in [0, 1], not {p}")
    x = np.concatenate([[0.0], km.time])
    est = _findq(x, np.concatenate([[0.0], 1 - km.surv]), p)
    lo = _findq(x, np.concatenate([[0.0], 1 - km.lower]), p)   # lower band reaches it first
    hi = _findq(x, np.concatenate([[0.0], 1 - km.upper]), p)
    return QuantileCI(est, lo, hi)


def survival_at(km: KaplanMeier, t: float) -> Landmark:
    """S(t) with its pointwise CI (landmark rate) and the number at risk at t, defined as R's
    ``summary(survfit, times = t)$n.risk``: subjects with time >= t."""
    i = np.searchsorted(km.time, t, side="right") - 1
    at_risk = int(number_at_risk(km, [t])[0])
    if i < 0:
        return Landmark(1.0, 1.0, 1.0, at_risk)
    # past the last time R (summary.survfit, extend = TRUE) carries the last values forward;
    # tables print such a rate only with the number at risk (0) beside it
    return Landmark(float(km.surv[i]), float(km.lower[i]), float(km.upper[i]), at_risk)


def number_at_risk(km: KaplanMeier, times) -> np.ndarray:
    """Patients still at risk at each time (time >= t), as printed under a KM plot and as R's
    ``summary(survfit, times)$n.risk``."""
    out = []
    for t in times:
        i = np.searchsorted(km.time, t, side="left")
        out.append(int(km.n_risk[i]) if i < len(km.time) else 0)
    return np.array(out)


def reverse_km_median_followup(time, event, conf_type: str = "log-log", event_value=None) -> QuantileCI:
    """Median follow-up by reverse Kaplan-Meier (Schemper & Smith): censoring is the 'event'."""
    e = event_indicator(event, event_value, name="event")
    km = kaplan_meier(time, ~e, conf_type)
    return quantile(km, 0.5)


def spss_median_ci(km: KaplanMeier, conf_level: float = 0.95) -> tuple[float, float, float, float]:
    """Median with a symmetric CI, median +/- z SE (the form SPSS prints).

    SE(median) = SE(S(median)) / f, with the Greenwood SE on the survival scale and the density
    f estimated from the event times u and l around the median with S(u) >= 0.55 (largest such
    u) and S(l) <= 0.45 (smallest such l): f = (S(u) - S(l)) / (l - u) (Collett 2015, 2.4.1).
    SPSS's own algorithm is not published; this is the textbook form. Returns (median, SE,
    lower, upper); NaN where not estimable.
    """
    med = quantile(km, 0.5)[0]
    if np.isnan(med):
        return np.nan, np.nan, np.nan, np.nan
    ev = km.n_event > 0
    t, s = km.time[ev], km.surv[ev]
    i = np.searchsorted(km.time, med, side="right") - 1
    with np.errstate(invalid="ignore"):     # S = 0 at the median: Greenwood SE 0 x inf, not estimable (NaN)
        se_s = km.surv[i] * km.std_err[i]
    up = np.flatnonzero(s >= 0.55)
    low = np.flatnonzero(s <= 0.45)
    u = t[up[-1]] if len(up) else 0.0
    su = s[up[-1]] if len(up) else 1.0
    if not len(low):
        return med, np.nan, np.nan, np.nan
    lt, sl = t[low[0]], s[low[0]]
    f = (su - sl) / (lt - u)
    se = se_s / f
    z = norm.ppf(1 - (1 - conf_level) / 2)
    return med, se, med - z * se, med + z * se
