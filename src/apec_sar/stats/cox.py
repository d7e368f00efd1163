"""Cox proportional-hazards models with explicit methods (SAR_SPEC 6).

Efron ties (lifelines' and R ``coxph``'s default), Wald CIs for hazard ratios, Wald and
likelihood-ratio tests, categorical covariates dummy-coded against a stated reference level,
an events-per-variable check, a ridge-penalised sensitivity fit, proportional-hazards tests
from scaled Schoenfeld residuals, and a clear "not estimable" result (instead of a crash) when
a fit does not converge or a covariate separates the events (monotone likelihood).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy.stats import chi2, norm

EPV_MIN = 10          # Peduzzi et al. 1995: fewer than 10 events per variable is unreliable
SEPARATION_COEF = 10  # |log HR| above this means monotone likelihood in practice


@dataclass
class CoxResult:
    table: pd.DataFrame             # one row per model term: coef, se, hr, lower, upper, z, p_wald
    n: int
    events: int
    loglik: float
    loglik_null: float
    lr_stat: float
    lr_df: int
    lr_p: float
    converged: bool
    messages: list[str] = field(default_factory=list)
    term_tests: pd.DataFrame | None = None   # per covariate: LR test (drop the covariate)
    model: object | None = None
    data: pd.DataFrame | None = None          # the complete-case design actually fitted

    @property
    def epv(self) -> float:
        return self.events / max(self.lr_df, 1)


def design(df: pd.DataFrame, covariates: dict[str, list | None]) -> tuple[pd.DataFrame, dict[str, list[str]]]:
    """Dummy-code covariates. covariates: name -> ordered levels with the reference first
    (categorical) or None (numeric). Returns the design matrix and the columns of each term."""
    cols, terms = {}, {}
    for name, levels in covariates.items():
        if levels is None:
            cols[name] = pd.to_numeric(df[name], errors="raise").astype(float)
            terms[name] = [name]
            continue
        unknown = set(df[name].dropna()) - set(levels)
        if unknown:
            raise ValueError(f"covariate {name}: values {sorted(unknown)} not among the levels {levels}")
        terms[name] = []
        for lev in levels[1:]:
            c = f"{name}[{lev} vs {levels[0]}]"
            cols[c] = (df[name] == lev).astype(float).where(df[name].notna())
            terms[name].append(c)
    return pd.DataFrame(cols, index=df.index), terms


def fit_cox(df: pd.DataFrame, time: str, event: str, covariates: dict[str, list | None],
            penalizer: float = 0.0, conf_level: float = 0.95, term_tests: bool = True) -> CoxResult:
    """Fit a Cox model on complete cases. ``event``: 1 = event, 0 = censored."""
    from lifelines import CoxPHFitter

    x, terms = design(df, covariates)
    data = pd.concat([x, df[[time, event]].astype(float)], axis=1).dropna()
    msgs = []
    n, events = len(data), int(data[event].sum())
    if n < len(df):
        msgs.append(f"{len(df) - n} patients with a missing covariate left out (complete cases)")
    p = x.shape[1]
    if events / max(p, 1) < EPV_MIN:
        msgs.append(f"events per variable {events / max(p, 1):.1f} < {EPV_MIN}: estimates may be unstable")
    empty = pd.DataFrame(columns=["term", "coef", "se", "hr", "lower", "upper", "z", "p_wald"])
    if events == 0 or p == 0:
        msgs.append("no events: the model is not estimable")
        return CoxResult(empty, n, events, np.nan, np.nan, np.nan, p, np.nan, False, msgs)
    const = [c for c in x.columns if data[c].nunique() < 2]
    if const:
        msgs.append(f"not estimable: {', '.join(const)} has no variation among analysed patients")
        return CoxResult(empty, n, events, np.nan, np.nan, np.nan, p, np.nan, False, msgs)
    cph = CoxPHFitter(penalizer=penalizer, alpha=1 - conf_level)
    converged = True
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            cph.fit(data, duration_col=time, event_col=event,
                    fit_options={"precision": 1e-12, "max_steps": 200})
        except Exception as exc:  # lifelines ConvergenceError and numerical failures
            msgs.append(f"not estimable: the fit did not converge ({type(exc).__name__})")
            return CoxResult(empty, n, events, np.nan, np.nan, np.nan, p, np.nan, False, msgs)
    for w in caught:
        text = str(w.message).split("\n")[0]
        if "converge" in text.lower() or "separation" in text.lower() or "collinear" in text.lower():
            converged = False
            msgs.append(f"lifelines: {text}")
    s = cph.summary
    z = norm.ppf(1 - (1 - conf_level) / 2)
    tab = pd.DataFrame({"term": list(s.index), "coef": s["coef"].to_numpy(), "se": s["se(coef)"].to_numpy()})
    with np.errstate(over="ignore"):   # a separated covariate's huge coefficient; reported as NE below
        tab["hr"] = np.exp(tab.coef)
        tab["lower"] = np.exp(tab.coef - z * tab.se)
        tab["upper"] = np.exp(tab.coef + z * tab.se)
    tab["z"] = tab.coef / tab.se
    tab["p_wald"] = 2 * norm.sf(np.abs(tab.z))
    sep = tab[(tab.coef.abs() > SEPARATION_COEF) | (tab.se > 100)]
    if len(sep):
        converged = False
        msgs.append(f"not estimable: monotone likelihood (separation) for {', '.join(sep.term)}")
        tab.loc[sep.index, ["hr", "lower", "upper", "p_wald"]] = np.nan
    ll = float(cph.log_likelihood_)
    ll0 = _null_loglik(data[time].to_numpy(), data[event].to_numpy())
    lr = 2 * (ll - ll0)
    res = CoxResult(tab.reset_index(drop=True), n, events, ll, ll0, lr, p, float(chi2.sf(lr, p)), converged, msgs,
                    model=cph, data=data)
    if term_tests and len(terms) > 1 and penalizer == 0:
        rows = []
        for name in covariates:
            sub = {k: v for k, v in covariates.items() if k != name}
            r = fit_cox(df.loc[data.index], time, event, sub, term_tests=False)
            stat = 2 * (ll - r.loglik)
            k = len(terms[name])
            rows.append({"covariate": name, "lr_stat": stat, "df": k, "p_lr": float(chi2.sf(stat, k))})
        res.term_tests = pd.DataFrame(rows)
    return res


def _null_loglik(time: np.ndarray, event: np.ndarray) -> float:
    """Partial log-likelihood of the model with no covariates (Efron = Breslow when beta = 0)."""
    order = np.argsort(time, kind="stable")
    t, e = time[order], event[order]
    ll = 0.0
    n = len(t)
    ut = np.unique(t[e == 1])
    for u in ut:
        d = np.sum((t == u) & (e == 1))
        at_risk = np.sum(t >= u)
        # Efron with equal risk scores: sum over j of log(at_risk - j/d * d) = log(at_risk - j)
        ll -= sum(np.log(at_risk - j) for j in range(int(d)))
    return float(ll)


def ph_test(res: CoxResult) -> pd.DataFrame:
    """Proportional-hazards test per term from scaled Schoenfeld residuals against
    Kaplan-Meier-transformed time (Grambsch & Therneau)."""
    from lifelines.statistics import proportional_hazard_test

    if res.model is None:
        return pd.DataFrame(columns=["term", "test_statistic", "p"])
    r = proportional_hazard_test(res.model, res.data, time_transform="km")
    out = r.summary.reset_index().rename(columns={"index": "term"})
    return out[["term", "test_statistic", "p"]]
