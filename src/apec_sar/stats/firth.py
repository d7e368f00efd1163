"""Firth's penalised-likelihood Cox regression (Heinze & Schemper 2001), the small-sample and
monotone-likelihood companion of :func:`apec_sar.stats.cox.fit_cox`.

Method (Firth, Biometrika 1993;80:27-38; Heinze & Schemper, Biometrics 2001;57:114-119):

- Maximise the penalised partial log-likelihood l*(b) = l(b) + 1/2 log|I(b)| (Jeffreys
  prior); the estimates are finite even when the ML estimate diverges (monotone likelihood).
- Penalised score U*_c = U_c + 1/2 tr(I^{-1} dI/db_c), dI/db_c the third central moments of
  the covariates in the risk sets; iterations b <- b + I^{-1} U* with step halving (as coxphf).
- Standard errors from I(b_hat)^{-1} (coxphf, SAS); hazard-ratio CIs from the profile
  penalised likelihood: the values of b_c where max over the other coefficients of l* falls
  chi2(1, 1 - alpha)/2 below its maximum; p-values from the penalised likelihood-ratio test
  2 (l*(b_hat) - max_{b_c = 0} l*) on 1 df, and the model test 2 (l*(b_hat) - l*(0)) on p df.
- Ties: Breslow by default, as R ``coxphf`` and SAS ``PHREG ... / FIRTH`` (their penalty is
  defined on the Breslow likelihood), so the estimates are comparable with theirs; Efron is
  available (``ties="efron"``) and differs little when few event times are tied.

Use it when events per variable are below 10 or a covariate separates the events
(:func:`apec_sar.stats.cox.firth_recommended`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy.optimize import brentq
from scipy.stats import chi2, norm

from . import coxph_engine as E
from .cox import complete_cases


def penalised_loglik(cd: E.CoxData, beta) -> tuple[float, np.ndarray, np.ndarray]:
    """l*(b), the penalised score U*(b) and the information I(b)."""
    ll, u, info, dinfo = E.derivatives(cd, beta, order=3)
    sign, logdet = np.linalg.slogdet(info)
    if sign <= 0:
        return -np.inf, u, info
    inv = np.linalg.inv(info)
    ustar = u + 0.5 * np.einsum("ab,bac->c", inv, dinfo)
    return ll + 0.5 * logdet, ustar, info


def maximise(cd: E.CoxData, beta0=None, free=None, max_iter: int = 200, tol: float = 1e-10) -> tuple[np.ndarray, float, bool]:
    """Maximise l* over the coefficients in ``free`` (all by default), the others held at
    ``beta0``. Returns (b, l*(b), converged)."""
    p = cd.p
    beta = np.zeros(p) if beta0 is None else np.asarray(beta0, dtype=float).copy()
    free = np.arange(p) if free is None else np.asarray(free, dtype=int)
    pl, u, info = penalised_loglik(cd, beta)
    if not len(free):
        return beta, pl, True
    for _ in range(max_iter):
        step = np.zeros(p)
        step[free] = np.linalg.solve(info[np.ix_(free, free)], u[free])
        big = np.max(np.abs(step))
        if big > 5:                              # cap the step (coxphf's maxstep, in log-HR units)
            step *= 5 / big
        for _ in range(40):
            new = beta + step
            pl_new, u_new, info_new = penalised_loglik(cd, new)
            if np.isfinite(pl_new) and pl_new >= pl - 1e-12 * max(1.0, abs(pl)):
                break
            step /= 2
        beta, pl, u, info = new, pl_new, u_new, info_new
        if np.max(np.abs(u[free])) < tol and np.max(np.abs(step)) < 1e-8:
            return beta, pl, True
        if np.max(np.abs(u[free])) < tol * 1e-2:
            return beta, pl, True
    return beta, pl, False


@dataclass
class FirthResult:
    table: pd.DataFrame      # term, coef, se, hr, lower, upper (profile), p (penalised LR), ci_method
    n: int
    events: int
    loglik: float            # penalised log-likelihood at the estimate
    loglik_null: float       # penalised log-likelihood at b = 0
    lr_stat: float           # penalised LR test of the model
    lr_df: int
    lr_p: float
    converged: bool
    ties: str
    messages: list[str] = field(default_factory=list)
    terms: dict[str, list[str]] = field(default_factory=dict)
    engine: E.CoxData | None = field(default=None, repr=False)

    @property
    def coef(self) -> np.ndarray:
        return self.table.coef.to_numpy(dtype=float)

    def __repr__(self) -> str:
        head = (f"Firth penalised Cox ({self.ties} ties): n = {self.n}, events = {self.events}; penalised LR chisq = "
                f"{self.lr_stat:.4g} on {self.lr_df} df, p = {self.lr_p:.4g}")
        with pd.option_context("display.width", 140, "display.max_columns", 20):
            return f"{head}\n{self.table.to_string(index=False)}" + "".join(f"\nnote: {m}" for m in self.messages)


def profile_bound(cd: E.CoxData, beta_hat, pl_max: float, k: int, side: int, conf_level: float = 0.95,
                  se: float = 1.0) -> float:
    """The profile penalised-likelihood confidence bound of coefficient k on one side
    (side = -1 lower, +1 upper): the b where max_{other coefficients} l*(b_k = b) equals
    l*max - chi2(1, conf_level)/2. Infinite if the profile never drops that far."""
    target = pl_max - chi2.ppf(conf_level, 1) / 2
    others = [j for j in range(cd.p) if j != k]
    start = {"beta": np.asarray(beta_hat, dtype=float).copy()}

    def excess(b):
        b0 = start["beta"].copy()
        b0[k] = b
        bb, pl, _ = maximise(cd, b0, others)
        start["beta"] = bb
        return pl - target

    step = max(se, 0.05)
    lo_b, hi_b = beta_hat[k], beta_hat[k] + side * step
    for _ in range(60):
        if excess(hi_b) < 0:
            break
        lo_b, hi_b = hi_b, hi_b + side * step
        step *= 1.6
        if abs(hi_b) > 50:
            return side * np.inf
    start["beta"] = np.asarray(beta_hat, dtype=float).copy()
    a, b = sorted((lo_b, hi_b))
    return float(brentq(excess, a, b, xtol=1e-12, rtol=1e-13, maxiter=200))


def fit_firth(df: pd.DataFrame, time: str, event: str, covariates, *, ties: str = "breslow",
              conf_level: float = 0.95, profile: bool = True, strata: str | list | None = None,
              event_value=None) -> FirthResult:
    """Firth-penalised Cox model on complete cases (arguments as :func:`fit_cox`). With
    ``profile=True`` the CIs are profile penalised-likelihood intervals and the p-values
    penalised likelihood-ratio tests; with ``profile=False`` both are Wald."""
    data, terms, s, _, msgs = complete_cases(df, time, event, covariates, strata, None, event_value)
    cols = [c for cs in terms.values() for c in cs]
    n, events, p = len(data), int(data[event].sum()), len(cols)
    const = [c for c in cols if data[c].nunique() < 2]
    if events == 0 or p == 0 or const:
        msgs.append("not estimable: " + ("no events" if events == 0 else
                                         f"{', '.join(const)} has no variation" if const else "no covariates"))
        return FirthResult(pd.DataFrame(columns=["term", "coef", "se", "hr", "lower", "upper", "p"]), n, events,
                           np.nan, np.nan, np.nan, p, np.nan, False, ties, msgs, terms)
    cd = E.prepare(data[time].to_numpy(), data[event].to_numpy(), data[cols].to_numpy(), s, None, ties)
    beta, pl, ok = maximise(cd)
    if not ok:
        msgs.append("the penalised fit did not converge")
    _, _, info = penalised_loglik(cd, beta)
    se = np.sqrt(np.diag(np.linalg.inv(info)))
    pl0 = penalised_loglik(cd, np.zeros(p))[0]
    lr = 2 * (pl - pl0)
    z = norm.ppf(1 - (1 - conf_level) / 2)
    if profile:
        lower = [profile_bound(cd, beta, pl, k, -1, conf_level, se[k]) for k in range(p)]
        upper = [profile_bound(cd, beta, pl, k, +1, conf_level, se[k]) for k in range(p)]
        pvals = []
        for k in range(p):
            b0 = beta.copy()
            b0[k] = 0.0
            pl_k = maximise(cd, b0, [j for j in range(p) if j != k])[1]
            pvals.append(float(chi2.sf(max(2 * (pl - pl_k), 0.0), 1)))
        method = "profile penalised likelihood"
    else:
        lower, upper = beta - z * se, beta + z * se
        pvals = 2 * norm.sf(np.abs(beta / se))
        method = "Wald"
    with np.errstate(over="ignore"):
        tab = pd.DataFrame({"term": cols, "coef": beta, "se": se, "hr": np.exp(beta), "lower": np.exp(lower),
                            "upper": np.exp(upper), "p": pvals, "ci_method": method})
    return FirthResult(tab, n, events, pl, pl0, lr, p, float(chi2.sf(lr, p)), ok, ties, msgs, terms, cd)
