"""Cox proportional-hazards models with explicit methods (SAR_SPEC 6).

- Partial likelihood with Efron ties (R ``coxph``'s default; Breslow on request), optional
  strata and case weights, maximised by Newton-Raphson (the project's engine,
  :mod:`apec_sar.stats.coxph_engine`; lifelines is used only as an independent cross-check in
  the tests).
- Hazard ratios exp(b) with Wald CIs exp(b +/- z se), se from the inverse information at b;
  Wald z tests per coefficient; the model's likelihood-ratio, Wald and score (log-rank) tests
  against b = 0, as R ``summary(coxph)`` prints them; per-term likelihood-ratio tests (drop the
  term, refit on the same patients), multi-df for factors.
- Factors are dummy-coded against a reference level. Rule when the levels are not given (R's
  rule): the categories of a pandas Categorical in their order, booleans False then True,
  otherwise the sorted distinct values; the first is the reference. Numeric columns (not bool)
  are numeric covariates unless levels are given.
- Events per variable (Peduzzi et al. 1996: < 10 is unreliable) and a clear "not estimable"
  result instead of a crash: no events, a covariate without variation, or monotone likelihood
  (a covariate separates the events: |b| > 10 or se > 100 at convergence). For those, use
  Firth's penalised likelihood (:func:`apec_sar.stats.firth.fit_firth`;
  :func:`firth_recommended` says when).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy.stats import chi2, norm

from . import coxph_engine as E
from .status import event_indicator

EPV_MIN = 10          # Peduzzi et al. 1996: fewer than 10 events per variable is unreliable
SEPARATION_COEF = 10  # |log HR| above this means monotone likelihood in practice
TABLE_COLUMNS = ["term", "coef", "se", "hr", "lower", "upper", "z", "p_wald"]


@dataclass
class CoxResult:
    table: pd.DataFrame             # one row per model column: coef, se, hr, lower, upper, z, p_wald
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
    data: pd.DataFrame | None = None          # the complete-case design actually fitted
    terms: dict[str, list[str]] = field(default_factory=dict)   # covariate -> its model columns
    vcov: pd.DataFrame | None = None
    wald_stat: float = np.nan
    score_stat: float = np.nan
    ties: str = "efron"
    separated: list[str] = field(default_factory=list)
    engine: E.CoxData | None = field(default=None, repr=False)   # for cox.zph and refits

    @property
    def epv(self) -> float:
        return self.events / max(self.lr_df, 1)

    @property
    def coef(self) -> np.ndarray:
        return self.table.coef.to_numpy(dtype=float)

    def tests(self) -> pd.DataFrame:
        """The model's global tests against b = 0 (R ``summary(coxph)``)."""
        df = self.lr_df
        return pd.DataFrame({"test": ["likelihood ratio", "Wald", "score (log-rank)"],
                             "chisq": [self.lr_stat, self.wald_stat, self.score_stat], "df": df,
                             "p": [chi2.sf(v, df) if df else np.nan for v in (self.lr_stat, self.wald_stat, self.score_stat)]})

    def __repr__(self) -> str:
        head = (f"Cox model ({self.ties} ties): n = {self.n}, events = {self.events}, EPV = {self.epv:.1f}; "
                f"LR chisq = {self.lr_stat:.4g} on {self.lr_df} df, p = {self.lr_p:.4g}")
        with pd.option_context("display.width", 140, "display.max_columns", 20):
            body = self.table.to_string(index=False) if len(self.table) else "(no estimates)"
        notes = "".join(f"\nnote: {m}" for m in self.messages)
        return f"{head}\n{body}{notes}"


def factor_levels(values: pd.Series) -> list:
    """Levels of a factor, reference first, when not given (R's rule; module docstring)."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        return list(values.cat.categories)
    if values.dtype == bool:
        return [False, True]
    return sorted(values.dropna().unique().tolist())


def _is_numeric(values: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(values) and values.dtype != bool


def normalise_covariates(df: pd.DataFrame, covariates) -> dict[str, list | None]:
    """covariates as a dict name -> levels (reference first) or None; a list of names means
    every one with inferred handling (numeric stays numeric, anything else is a factor)."""
    if isinstance(covariates, str):
        covariates = [covariates]
    if not isinstance(covariates, dict):
        covariates = {c: None for c in covariates}
    out = {}
    for name, levels in covariates.items():
        if name not in df.columns:
            raise ValueError(f"covariate {name!r} is not a column of the data")
        if levels is None and not _is_numeric(df[name]):
            levels = factor_levels(df[name])
        out[name] = None if levels is None else list(levels)
    return out


def design(df: pd.DataFrame, covariates) -> tuple[pd.DataFrame, dict[str, list[str]]]:
    """Dummy-code covariates. covariates: name -> ordered levels with the reference first
    (categorical) or None (numeric; or a factor with inferred levels when not numeric).
    Returns the design matrix and the columns of each term."""
    covariates = normalise_covariates(df, covariates)
    cols, terms = {}, {}
    for name, levels in covariates.items():
        if levels is None:
            cols[name] = pd.to_numeric(df[name], errors="raise").astype(float)
            terms[name] = [name]
            continue
        unknown = set(df[name].dropna()) - set(levels)
        if unknown:
            raise ValueError(f"covariate {name}: values {sorted(unknown, key=str)} not among the levels {levels}")
        terms[name] = []
        for lev in levels[1:]:
            c = f"{name}[{lev} vs {levels[0]}]"
            cols[c] = (df[name] == lev).astype(float).where(df[name].notna())
            terms[name].append(c)
    return pd.DataFrame(cols, index=df.index), terms


def _empty(n, events, p, msgs, ties, terms=None) -> CoxResult:
    return CoxResult(pd.DataFrame(columns=TABLE_COLUMNS), n, events, np.nan, np.nan, np.nan, p, np.nan, False, msgs,
                     ties=ties, terms=terms or {})


def complete_cases(df, time, event, covariates, strata=None, weights=None, event_value=None):
    """Design matrix, terms, time, event indicator, strata and weights of the complete cases,
    and the messages about what was left out. Missing time or status is an error."""
    for col in (time, event):
        if df[col].isna().any():
            raise ValueError(f"column {col!r}: {int(df[col].isna().sum())} missing value(s); "
                             "time and status must be complete")
    status = event_indicator(df[event], event_value, name=event)
    t = pd.to_numeric(df[time], errors="raise").astype(float)
    if (t < 0).any():
        raise ValueError(f"column {time!r}: negative times")
    x, terms = design(df, covariates)
    extra = ([strata] if isinstance(strata, str) else list(strata or [])) + ([weights] if weights else [])
    keep = x.notna().all(axis=1) & df[extra].notna().all(axis=1)
    msgs = []
    if (~keep).sum():
        msgs.append(f"{int((~keep).sum())} patients with a missing covariate left out (complete cases)")
    data = pd.concat([x[keep], pd.DataFrame({time: t[keep], event: status[keep.to_numpy()].astype(float)},
                                            index=x.index[keep])], axis=1)
    s = None
    if strata is not None:
        s = df.loc[keep, [strata] if isinstance(strata, str) else list(strata)].astype(str).agg("\x1f".join, axis=1).to_numpy()
    w = df.loc[keep, weights].to_numpy(dtype=float) if weights else None
    return data, terms, s, w, msgs


def fit_cox(df: pd.DataFrame, time: str, event: str, covariates, *, strata: str | list | None = None,
            ties: str = "efron", conf_level: float = 0.95, term_tests: bool = True, event_value=None,
            weights: str | None = None) -> CoxResult:
    """Fit a Cox model on complete cases.

    ``event``: 1/True = event, 0/False = censored (``event_value=2`` for R-style 1/2 coding).
    ``covariates``: dict name -> levels with the reference first (or None: numeric, or a
    factor with levels inferred by R's rule), or a list of names. ``strata``: column(s) whose
    levels get separate baseline hazards (R ``strata()``). Returns a :class:`CoxResult`.
    """
    data, terms, s, w, msgs = complete_cases(df, time, event, covariates, strata, weights, event_value)
    cols = [c for cs in terms.values() for c in cs]
    n, events, p = len(data), int(data[event].sum()), len(cols)
    if events / max(p, 1) < EPV_MIN:
        msgs.append(f"events per variable {events / max(p, 1):.1f} < {EPV_MIN}: estimates may be unstable "
                    "(consider Firth's penalised likelihood)")
    if events == 0 or p == 0:
        msgs.append("no events: the model is not estimable" if events == 0 else "no covariates")
        return _empty(n, events, p, msgs, ties, terms)
    const = [c for c in cols if data[c].nunique() < 2]
    if const:
        msgs.append(f"not estimable: {', '.join(const)} has no variation among analysed patients")
        return _empty(n, events, p, msgs, ties, terms)
    cd = E.prepare(data[time].to_numpy(), data[event].to_numpy(), data[cols].to_numpy(), s, w, ties)
    fit = E.newton_raphson(cd)
    res = _result(fit, cd, cols, data, terms, n, events, conf_level, msgs, ties)
    if term_tests and len(terms) > 1 and res.converged:
        rows = []
        for name, tcols in terms.items():
            idx = [i for i, c in enumerate(cols) if c not in tcols]
            sub = E.newton_raphson(cd.with_x(data[[cols[i] for i in idx]].to_numpy()))
            stat = 2 * (res.loglik - sub.loglik)
            rows.append({"covariate": name, "lr_stat": stat, "df": len(tcols), "p_lr": float(chi2.sf(stat, len(tcols)))})
        res.term_tests = pd.DataFrame(rows)
    return res


def _result(fit, cd, cols, data, terms, n, events, conf_level, msgs, ties) -> CoxResult:
    p = len(cols)
    try:
        var = np.linalg.inv(fit.info)
    except np.linalg.LinAlgError:
        msgs.append("not estimable: the information matrix is singular (collinear covariates)")
        return _empty(n, events, p, msgs, ties, terms)
    se = np.sqrt(np.clip(np.diag(var), 0, None))
    z = norm.ppf(1 - (1 - conf_level) / 2)
    b = fit.beta
    tab = pd.DataFrame({"term": cols, "coef": b, "se": se})
    with np.errstate(over="ignore"):
        tab["hr"] = np.exp(b)
        tab["lower"] = np.exp(b - z * se)
        tab["upper"] = np.exp(b + z * se)
    with np.errstate(divide="ignore", invalid="ignore"):
        tab["z"] = b / se
    tab["p_wald"] = 2 * norm.sf(np.abs(tab.z))
    sep = tab[(tab.coef.abs() > SEPARATION_COEF) | (tab.se > 100)]
    converged = fit.converged
    if not converged:
        msgs.append("the fit did not converge")
    if len(sep):
        converged = False
        msgs.append(f"not estimable: monotone likelihood (separation) for {', '.join(sep.term)}; "
                    "use Firth's penalised likelihood")
        tab.loc[sep.index, ["hr", "lower", "upper", "p_wald"]] = np.nan
    ll0 = fit.loglik_init
    lr = 2 * (fit.loglik - ll0)
    u0, i0 = fit.score_init, fit.info_init      # at b = 0, the start of the iterations
    try:
        score = float(u0 @ np.linalg.solve(i0, u0))
    except np.linalg.LinAlgError:
        score = np.nan
    wald = float(b @ fit.info @ b)
    return CoxResult(tab, n, events, fit.loglik, ll0, lr, p, float(chi2.sf(lr, p)), converged, msgs,
                     data=data, terms=terms, vcov=pd.DataFrame(var, index=cols, columns=cols), wald_stat=wald,
                     score_stat=score, ties=ties, separated=list(sep.term), engine=cd)


def firth_recommended(res: CoxResult) -> tuple[bool, str]:
    """Whether Firth's penalised Cox should replace (or accompany) the ML fit, and why:
    events per variable below 10 (Peduzzi et al. 1996) or monotone likelihood (a covariate
    separates the events; Heinze & Schemper 2001)."""
    reasons = []
    if res.separated:
        reasons.append(f"monotone likelihood for {', '.join(res.separated)}")
    if res.epv < EPV_MIN:
        reasons.append(f"events per variable {res.epv:.1f} < {EPV_MIN}")
    return bool(reasons), "; ".join(reasons) if reasons else "ML fit adequate (EPV >= 10, no separation)"


def ph_test(res: CoxResult, transform: str = "km") -> pd.DataFrame:
    """Proportional-hazards score test per term and GLOBAL, as R >= 3.0 ``cox.zph``
    (see :func:`apec_sar.stats.zph.cox_zph`)."""
    from .zph import cox_zph

    return cox_zph(res, transform=transform)
