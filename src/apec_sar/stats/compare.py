"""Comparisons of survival curves: Kaplan-Meier by group with numbers at risk, and the
log-rank test (optionally stratified, optionally the Harrington-Fleming G-rho family), as R
``survival::survdiff``.

Log-rank (Mantel 1966; Peto & Peto 1972; R ``survdiff``, survdiff2.c). Within each stratum, at
each distinct event time t_k with n_k at risk and d_k events, n_gk at risk and O_gk events in
group g, and weight w_k = S(t_k-)^rho (S the pooled, left-continuous Kaplan-Meier of the stratum;
rho = 0: log-rank, rho = 1: Peto & Peto's modification of the Gehan-Wilcoxon test):

    O_g = sum_k w_k O_gk,   E_g = sum_k w_k d_k n_gk / n_k,
    V_gh = sum_k w_k^2 d_k (n_k - d_k) / (n_k (n_k - 1)) * n_gk (delta_gh - n_hk / n_k).

O, E and V are summed over strata (stratified test). The statistic is
(O - E)' V^- (O - E) over the groups with E > 0, dropping the first, on (groups - 1) df.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.stats import chi2

from . import km as K
from .status import event_indicator


def _levels(values: pd.Series) -> list:
    """Group order: the categories of a pandas Categorical, else sorted values (R's factor())."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        return [c for c in values.cat.categories if (values == c).any()]
    return sorted(values.dropna().unique().tolist())


def km_by_group(df: pd.DataFrame, time: str, event: str, group: str, conf_type: str = "log-log",
                conf_level: float = 0.95, event_value=None) -> dict:
    """Kaplan-Meier curve per level of ``group`` (R: ``survfit(Surv(time, event) ~ group)``),
    in the group order of :func:`_levels`. Records with a missing group are an error."""
    if df[group].isna().any():
        raise ValueError(f"group column {group!r}: {int(df[group].isna().sum())} missing value(s)")
    e = pd.Series(event_indicator(df[event], event_value, name=event), index=df.index)
    return {lev: K.kaplan_meier(df.loc[df[group] == lev, time], e[df[group] == lev].astype(int), conf_type, conf_level)
            for lev in _levels(df[group])}


def number_at_risk_table(curves: dict, times) -> pd.DataFrame:
    """Number at risk (time >= t) of each curve at each time: rows = times, columns = curves."""
    times = np.asarray(times, dtype=float)
    return pd.DataFrame({label: K.number_at_risk(km, times) for label, km in curves.items()},
                        index=pd.Index(times, name="time"))


def km_summary_table(curves: dict, probs=(0.5,)) -> pd.DataFrame:
    """Per curve: n, events, and each requested quantile with its CI (tidy, one row a curve)."""
    rows = []
    for label, km in curves.items():
        row = {"group": label, "n": km.n, "events": km.events}
        for p in probs:
            q = K.quantile(km, p)
            tag = "median" if p == 0.5 else f"q{round(100 * p):g}"
            row.update({tag: q.estimate, f"{tag}_lower": q.lower, f"{tag}_upper": q.upper})
        rows.append(row)
    return pd.DataFrame(rows)


@dataclass
class LogRankResult:
    table: pd.DataFrame    # per group: n, observed, expected, (O-E)^2/E, (O-E)^2/V
    chisq: float
    df: int
    p: float
    var: np.ndarray        # variance matrix of O - E (groups x groups)
    rho: float
    strata: int

    def __repr__(self) -> str:
        kind = "log-rank" if self.rho == 0 else f"G-rho (rho = {self.rho:g})"
        strat = f", stratified ({self.strata} strata)" if self.strata > 1 else ""
        with pd.option_context("display.width", 120):
            return (f"{kind} test{strat}: chisq = {self.chisq:.4g} on {self.df} df, p = {self.p:.4g}\n"
                    f"{self.table.to_string(index=False)}")


def logrank_test(df: pd.DataFrame, time: str, event: str, group: str, strata: str | list | None = None,
                 rho: float = 0.0, event_value=None) -> LogRankResult:
    """Log-rank test of equal survival across the levels of ``group`` (R ``survdiff``), with
    ``strata`` (one column or several) for the stratified test and ``rho`` for G-rho weights."""
    cols = [time, event, group] + ([strata] if isinstance(strata, str) else list(strata or []))
    miss = df[cols].isna().any(axis=1)
    if miss.any():
        raise ValueError(f"{int(miss.sum())} record(s) with a missing value in {cols}")
    levels = _levels(df[group])
    g = pd.Categorical(df[group], categories=levels).codes
    t = df[time].to_numpy(dtype=float)
    e = event_indicator(df[event], event_value, name=event).astype(float)
    if strata is None:
        s = np.zeros(len(df), dtype=int)
    else:
        keys = df[[strata] if isinstance(strata, str) else list(strata)].astype(str).agg("\x1f".join, axis=1)
        _, s = np.unique(keys.to_numpy(), return_inverse=True)
    G = len(levels)
    obs, exp, var = np.zeros(G), np.zeros(G), np.zeros((G, G))
    for k in np.unique(s):
        m = s == k
        o_k, e_k, v_k = _survdiff_stratum(t[m], e[m], g[m], G, rho)
        obs += o_k
        exp += e_k
        var += v_k
    keep = exp > 0
    if keep.sum() < 2:
        stat = 0.0
    else:
        diff = (obs - exp)[keep][1:]
        vv = var[np.ix_(keep, keep)][1:, 1:]
        stat = float(diff @ np.linalg.pinv(vv) @ diff) if vv.size else 0.0
    dfree = int(keep.sum()) - 1
    n = np.bincount(g, minlength=G)
    with np.errstate(divide="ignore", invalid="ignore"):
        table = pd.DataFrame({"group": levels, "n": n, "observed": obs, "expected": exp,
                              "(O-E)^2/E": (obs - exp) ** 2 / exp, "(O-E)^2/V": (obs - exp) ** 2 / np.diag(var)})
    return LogRankResult(table, stat, dfree, float(chi2.sf(stat, dfree)) if dfree > 0 else np.nan, var, rho,
                         len(np.unique(s)))


def _survdiff_stratum(t, e, g, G, rho):
    """O, E and V of one stratum (the sums of the module docstring)."""
    ut, inv = np.unique(t, return_inverse=True)
    nt = len(ut)
    d = np.bincount(inv, weights=e, minlength=nt)
    tot = np.bincount(inv, minlength=nt)
    n_risk = len(t) - np.concatenate([[0], np.cumsum(tot)[:-1]])
    by_g_at = np.zeros((nt, G))
    by_g_ev = np.zeros((nt, G))
    np.add.at(by_g_at, (inv, g), 1.0)
    np.add.at(by_g_ev, (inv, g), e)
    risk_g = np.cumsum(by_g_at[::-1], axis=0)[::-1]      # n_gk: at risk (time >= t_k) per group
    if rho != 0:
        surv = np.cumprod(1 - d / n_risk)
        w = np.concatenate([[1.0], surv[:-1]]) ** rho   # left-continuous pooled KM
    else:
        w = np.ones(nt)
    obs = (w[:, None] * by_g_ev).sum(axis=0)
    ev = d > 0
    exp = (w[ev, None] * d[ev, None] * risk_g[ev] / n_risk[ev, None]).sum(axis=0)
    use = ev & (n_risk > 1)
    nk, dk, rg = n_risk[use], d[use], risk_g[use]
    c = w[use] ** 2 * dk * (nk - dk) / (nk * (nk - 1))
    var = np.diag((c[:, None] * rg).sum(axis=0)) - (c[:, None, None] * rg[:, :, None] * rg[:, None, :]
                                                    / nk[:, None, None]).sum(axis=0)
    return obs, exp, var
