"""Logistic regression for a binary response (e.g. objective response by baseline factor) and
multiplicity adjustment of p-values, on statsmodels (the maintained implementation; checked
against R ``glm`` and ``p.adjust`` in the tests).

- Model: logit P(y = 1) = b0 + x'b, maximum likelihood (statsmodels ``GLM``, binomial family,
  IRLS), factors dummy-coded against a reference level by the same rule as
  :func:`apec_sar.stats.cox.fit_cox` (R's: Categorical order, else sorted; first = reference).
- Odds ratios exp(b) with Wald CIs exp(b +/- z se) and profile-likelihood CIs (Venzon &
  Moolgavkar 1988; R ``confint.glm``): the b_k where the deviance of the model with b_k fixed
  (an offset) exceeds the minimum by chi2(1, 1 - alpha); infinite where it never does
  (separation: a level with no or only responders). Wald z p-values and, per term,
  likelihood-ratio tests (drop the term; multi-df for factors).
- ``p_adjust``: Holm (1979), Hochberg, Hommel, Bonferroni, Benjamini-Hochberg (1995) and
  Benjamini-Yekutieli, by R's names, via ``statsmodels.stats.multitest.multipletests``;
  missing p-values stay missing and do not count in the family, as in R.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy.optimize import brentq
from scipy.stats import chi2, norm

from .cox import design
from .status import event_indicator

P_ADJUST_METHODS = {"holm": "holm", "hochberg": "simes-hochberg", "hommel": "hommel", "bonferroni": "bonferroni",
                    "BH": "fdr_bh", "fdr": "fdr_bh", "BY": "fdr_by", "none": None}


def p_adjust(p, method: str = "holm") -> np.ndarray:
    """Adjusted p-values as R's ``p.adjust(p, method)``."""
    from statsmodels.stats.multitest import multipletests

    if method not in P_ADJUST_METHODS:
        raise ValueError(f"method must be one of {sorted(P_ADJUST_METHODS)}, not {method!r}")
    p = np.asarray(p, dtype=float)
    out = p.copy()
    ok = ~np.isnan(p)
    if P_ADJUST_METHODS[method] is not None and ok.sum():
        out[ok] = multipletests(p[ok], method=P_ADJUST_METHODS[method])[1]
    return out


@dataclass
class LogisticResult:
    table: pd.DataFrame      # term, coef, se, odds_ratio, lower/upper (Wald), pl_lower/pl_upper, z, p_wald
    n: int
    responders: int
    loglik: float
    deviance: float
    term_tests: pd.DataFrame | None = None
    messages: list[str] = field(default_factory=list)
    terms: dict[str, list[str]] = field(default_factory=dict)

    def __repr__(self) -> str:
        head = f"Logistic regression: n = {self.n}, responders = {self.responders}, deviance = {self.deviance:.4g}"
        with pd.option_context("display.width", 160, "display.max_columns", 20):
            return f"{head}\n{self.table.to_string(index=False)}" + "".join(f"\nnote: {m}" for m in self.messages)


class _Fit:
    """What the callers use of a statsmodels GLM fit, read inside the warning filter (statsmodels
    computes the deviance lazily and overflows, harmlessly, for a separated design)."""

    def __init__(self, fit):
        self.params, self.bse = np.asarray(fit.params), np.asarray(fit.bse)
        self.deviance, self.llf = float(fit.deviance), float(fit.llf)


def _glm(y, X, offset=None) -> _Fit:
    import statsmodels.api as sm

    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        return _Fit(sm.GLM(y, X, family=sm.families.Binomial(), offset=offset).fit(tol=1e-12, maxiter=200))


SEPARATED_SE = 50.0    # a standard error this large means the estimate ran off to infinity


def _profile_bound(y, X, k, coef, dev_min, crit, side, se):
    others = [j for j in range(X.shape[1]) if j != k]

    def excess(b):
        f = _glm(y, X[:, others], offset=b * X[:, k]) if others else None
        dev = f.deviance if f is not None else _null_deviance(y, b * X[:, k])
        return dev - dev_min - crit

    if not (np.isfinite(se) and se < SEPARATED_SE) or not excess(coef) < 0:
        return np.nan           # no finite ML estimate (separation): no profile interval
    step = max(se, 0.1)
    inner, outer = coef, coef + side * step
    while excess(outer) < 0:
        inner, outer = outer, outer + side * step
        step *= 1.6
        if abs(outer) > 50:            # the deviance never rises enough: separation
            return side * np.inf
    a, b = sorted((inner, outer))
    return float(brentq(excess, a, b, xtol=1e-12, rtol=1e-13, maxiter=200))


def _null_deviance(y, offset):
    pr = 1 / (1 + np.exp(-offset))
    return float(-2 * np.sum(y * np.log(pr) + (1 - y) * np.log1p(-pr)))


def logistic_regression(df: pd.DataFrame, response: str, covariates, *, conf_level: float = 0.95,
                        profile: bool = True, event_value=None) -> LogisticResult:
    """Logistic regression of a 0/1 (or boolean) ``response`` on ``covariates`` (as in
    ``fit_cox``: dict name -> levels or None, or a list of names), complete cases."""
    x, terms = design(df, covariates)
    keep = x.notna().all(axis=1) & df[response].notna()
    msgs = [f"{int((~keep).sum())} patients with a missing value left out (complete cases)"] if (~keep).sum() else []
    y = event_indicator(df.loc[keep, response], event_value, name=response).astype(float)
    cols = ["(Intercept)"] + list(x.columns)
    X = np.column_stack([np.ones(int(keep.sum())), x[keep].to_numpy(dtype=float)])
    fit = _glm(y, X)
    b, se = fit.params, fit.bse
    z = norm.ppf(1 - (1 - conf_level) / 2)
    crit = chi2.ppf(conf_level, 1)
    tab = pd.DataFrame({"term": cols, "coef": b, "se": se})
    with np.errstate(over="ignore"):
        tab["odds_ratio"] = np.exp(b)
        tab["lower"] = np.exp(b - z * se)
        tab["upper"] = np.exp(b + z * se)
        if profile:
            tab["pl_lower"] = [np.exp(_profile_bound(y, X, k, b[k], fit.deviance, crit, -1, se[k])) for k in range(len(b))]
            tab["pl_upper"] = [np.exp(_profile_bound(y, X, k, b[k], fit.deviance, crit, +1, se[k])) for k in range(len(b))]
    tab["z"] = b / se
    tab["p_wald"] = 2 * norm.sf(np.abs(tab.z))
    sep = tab[((tab.coef.abs() > 10) | (tab.se > SEPARATED_SE)) & (tab.term != "(Intercept)")]
    if len(sep):
        msgs.append(f"separation (a level with no or only responders) for {', '.join(sep.term)}: "
                    "ML estimates not finite, no profile CI; Wald results unreliable; the LR test stands")
    rows = []
    for name, tcols in terms.items():
        idx = [0] + [cols.index(c) for c in cols[1:] if c not in tcols]
        sub = _glm(y, X[:, idx])
        stat = sub.deviance - fit.deviance
        rows.append({"covariate": name, "lr_stat": stat, "df": len(tcols), "p_lr": float(chi2.sf(stat, len(tcols)))})
    return LogisticResult(tab, len(y), int(y.sum()), fit.llf, fit.deviance, pd.DataFrame(rows), msgs, terms)
