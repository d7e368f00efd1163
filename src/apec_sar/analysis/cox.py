"""Prognostic-factor Cox models (exploratory): univariable for each factor, a multivariable model
of three factors limited by the events per variable, Firth's penalised fit as the small-sample
sensitivity, proportional-hazards tests (R >= 3.0 ``cox.zph``), subgroup response rates, and
the display tables, all from the ARD.

Inference is exploratory (29 patients): p-values are nominal and two-sided; across the family
of univariable factors of one endpoint they are also shown Holm-adjusted (``p_adjust``). The
factors and the multivariable model are those of the SAP (``report/sap.qmd``), written after the
publication; nothing here is confirmatory."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..ard import ARD
from ..stats.binom import clopper_pearson
from ..stats.logistic import p_adjust
from ..stats.cox import CoxResult, fit_cox, ph_test
from ..stats.firth import FirthResult, fit_firth

COVARIATES = {
    "AGEGR1": ("Age", ["<65", ">=65"]),
    "SEX": ("Sex", ["M", "F"]),
    "ECOGGR1": ("ECOG PS", ["0", ">=1"]),
    "PRLINEGR": ("Prior lines", ["1", ">=2"]),
    "PRIOR_RESECTION": ("Prior oesophagectomy", ["Y", "N"]),
    "METLIVER": ("Liver metastases", ["N", "Y"]),
    "MET2": ("Metastatic organs", ["<2", ">=2"]),
    "NLRGR1": ("NLR", ["<5", ">=5"]),
    "PD1GR": ("PD-1 inhibitor", ["camrelizumab", "other"]),
}
ENDPOINTS = {"PFS": "Progression-free survival", "OS": "Overall survival"}
MULTIVARIABLE = ["ECOGGR1", "NLRGR1", "METLIVER"]   # the SAP's model: three terms for about 25 events
COX_METHOD = "Cox PH, Efron ties, Wald 95% CI; p: Wald (term), likelihood ratio (model)"


def analysed_with_groups(adsl: pd.DataFrame) -> pd.DataFrame:
    """The analysis set with the derived grouping factors of COVARIATES (MET2, PD1GR)."""
    a = adsl[adsl.EFFFL == "Y"].copy()
    a["MET2"] = np.where(a.NMETORG >= 2, ">=2", "<2")
    a["PD1GR"] = np.where(a.PD1AGENT == "camrelizumab", "camrelizumab", "other")
    return a


def analysis_frame(adsl: pd.DataFrame, adtte: pd.DataFrame, param: str) -> pd.DataFrame:
    a = analysed_with_groups(adsl)
    t = adtte[adtte.PARAMCD == param][["USUBJID", "AVAL", "CNSR"]]
    d = a.merge(t, on="USUBJID")
    d["time"] = d.AVAL / 30.4375
    d["status"] = (d.CNSR == 0).astype(int)
    return d


def _add_model(ard: ARD, res: CoxResult, output_id: str, param: str, model: str, method: str) -> None:
    a = lambda group, stat, v: ard.add(output_id, f"Cox {model}", "Analysis set", param, group, stat, v, method)  # noqa: E731
    a("MODEL", "N", res.n)
    a("MODEL", "EVENTS", res.events)
    a("MODEL", "EPV", res.epv)
    a("MODEL", "LR_STAT", res.lr_stat)
    a("MODEL", "LR_DF", res.lr_df)
    a("MODEL", "LR_P", res.lr_p)
    a("MODEL", "CONVERGED", float(res.converged))
    for r in res.table.itertuples():
        for s in ("coef", "se", "hr", "lower", "upper", "p_wald"):
            a(r.term, s.upper(), getattr(r, s))
    if res.term_tests is not None:
        for r in res.term_tests.itertuples():
            a(r.covariate, "P_LR", r.p_lr)


def cox_models(d: pd.DataFrame, param: str, output_ids: dict[str, str]) -> tuple[ARD, dict[str, CoxResult]]:
    """Univariable models (one per factor; Wald p and, across the factors, Holm-adjusted p),
    the multivariable model (LR test per term), Firth's fit of the same model, and its PH tests.
    ``output_ids``: {"cox": ..., "firth": ..., "ph": ...} -- the outputs that show them."""
    ard, fits = ARD(), {}
    oid = output_ids["cox"]
    for cov, (_label, levels) in COVARIATES.items():
        r = fit_cox(d, "time", "status", {cov: levels})
        fits[f"uni:{cov}"] = r
        _add_model(ard, r, oid, param, f"univariable {cov}", COX_METHOD)
    p_uni = [fits[f"uni:{c}"].table.p_wald.iloc[0] if len(fits[f"uni:{c}"].table) else np.nan for c in COVARIATES]
    for (cov, (_label, levels)), ph in zip(COVARIATES.items(), p_adjust(p_uni, "holm")):
        ard.add(oid, f"Cox univariable {cov}", "Analysis set", param, f"{cov}[{levels[1]} vs {levels[0]}]", "P_HOLM", ph,
                f"Wald p adjusted by Holm's method across the {len(COVARIATES)} univariable factors of {param}")
    multi = {c: COVARIATES[c][1] for c in MULTIVARIABLE}
    r = fit_cox(d, "time", "status", multi)
    fits["multi"] = r
    _add_model(ard, r, oid, param, "multivariable", COX_METHOD)
    rf = fit_firth(d, "time", "status", multi)
    fits["firth"] = rf
    _add_firth(ard, rf, output_ids["firth"], param)
    # the same model by maximum likelihood with Breslow ties, so that the comparison with Firth's
    # fit (Breslow, as coxphf) shows the penalisation alone
    rb = fit_cox(d, "time", "status", multi, ties="breslow")
    fits["multi_breslow"] = rb
    _add_model(ard, rb, output_ids["firth"], param, "multivariable Breslow", COX_METHOD.replace("Efron", "Breslow"))
    zph_method = ("score test for g(t) x terms, g = 1 - KM(t-) (R survival >= 3.0 cox.zph); per term and GLOBAL")
    for row in ph_test(r).itertuples():
        for stat, v in (("CHISQ", row.chisq), ("DF", row.df), ("P_PH", row.p)):
            ard.add(output_ids["ph"], "PH test (multivariable)", "Analysis set", param, row.term, stat, v, zph_method)
    return ard, fits


FIRTH_METHOD = ("Cox PH with Firth's penalised likelihood (Heinze & Schemper 2001), Breslow ties; "
                "profile penalised-likelihood 95% CI; p: penalised likelihood ratio")


def _add_firth(ard: ARD, res: FirthResult, output_id: str, param: str) -> None:
    def a(group, stat, v):
        ard.add(output_id, "Cox multivariable Firth", "Analysis set", param, group, stat, v, FIRTH_METHOD)

    a("MODEL", "N", res.n)
    a("MODEL", "EVENTS", res.events)
    a("MODEL", "LR_STAT", res.lr_stat)
    a("MODEL", "LR_P", res.lr_p)
    for r in res.table.itertuples():
        for s in ("coef", "se", "hr", "lower", "upper", "p"):
            a(r.term, s.upper(), getattr(r, s))


def forest_rows(fits: dict[str, CoxResult]) -> pd.DataFrame:
    rows = []
    for cov, (label, levels) in COVARIATES.items():
        r = fits[f"uni:{cov}"]
        t = r.table.iloc[0] if len(r.table) else None
        rows.append({"label": f"{label}: {levels[1]} vs {levels[0]}",
                     "hr": np.nan if t is None else t.hr, "lower": np.nan if t is None else t.lower,
                     "upper": np.nan if t is None else t.upper, "p": np.nan if t is None else t.p_wald,
                     "n": r.n, "events": r.events, "note": "; ".join(m for m in r.messages if "not estimable" in m)})
    return pd.DataFrame(rows)


def subgroup_orr(adsl: pd.DataFrame, adrs: pd.DataFrame, output_id: str) -> tuple[ARD, pd.DataFrame]:
    """ORR (CR + PR) with Clopper-Pearson CIs within each subgroup level."""
    a = analysed_with_groups(adsl)
    bor = adrs[adrs.PARAMCD == "BOR"].set_index("USUBJID").AVALC
    a["RESP"] = a.USUBJID.map(bor).isin(["CR", "PR"])
    ard, rows = ARD(), []
    total = [("All patients", a)]
    for cov, (label, levels) in COVARIATES.items():
        for lev in levels:
            total.append((f"{label}: {lev}", a[a[cov] == lev]))
    for name, g in total:
        n, k = len(g), int(g.RESP.sum())
        p, lo, hi = clopper_pearson(k, n) if n else (np.nan, np.nan, np.nan)
        for s, v in (("N", n), ("RESPONDERS", k), ("ORR", 100 * p), ("ORR_LCL", 100 * lo), ("ORR_UCL", 100 * hi)):
            ard.add(output_id, "ORR by subgroup", "Analysis set", "BOR", name, s, v, "Clopper-Pearson exact 95% CI")
        rows.append({"label": name, "n": n, "responders": k, "orr": 100 * p, "lower": 100 * lo, "upper": 100 * hi})
    return ard, pd.DataFrame(rows)


def _getter(ard: pd.DataFrame):
    def val(analysis, param, group, stat):
        r = ard[(ard.ANALYSIS == analysis) & (ard.PARAMETER == param) & (ard.GROUP == group) & (ard.STAT == stat)]
        return float(r.VALUE.iloc[0]) if len(r) else float("nan")
    return val


def cox_table(ard: pd.DataFrame) -> pd.DataFrame:
    """Univariable and multivariable HRs side by side, one row per factor, a block per endpoint
    (column ``Model``, shown as a row group) naming the multivariable model's n, events, events
    per variable and LR test; from the ARD rows written by :func:`cox_models`."""
    from ..stats.rounding import fmt, fmt_p
    val = _getter(ard)
    ci = lambda v: f"{fmt(v[0], 2)} ({fmt(v[1], 2)}, {fmt(v[2], 2)})"  # noqa: E731
    out = []
    for param in ard[ard.ANALYSIS.str.startswith("Cox univariable")].PARAMETER.unique():
        n, ev, epv = (val("Cox multivariable", param, "MODEL", s) for s in ("N", "EVENTS", "EPV"))
        lr, df, p = (val("Cox multivariable", param, "MODEL", s) for s in ("LR_STAT", "LR_DF", "LR_P"))
        model_row = (f"{ENDPOINTS.get(param, param)}. Multivariable model: {int(n)} patients, {int(ev)} events, "
                     f"{fmt(epv, 1)} events per variable; likelihood-ratio chi-square {fmt(lr, 2)} on {int(df)} df, "
                     f"p = {fmt_p(p)}")
        for cov, (label, levels) in COVARIATES.items():
            term = f"{cov}[{levels[1]} vs {levels[0]}]"
            model = f"Cox univariable {cov}"
            uni = [val(model, param, term, s) for s in ("HR", "LOWER", "UPPER")]
            in_multi = cov in MULTIVARIABLE
            mul = [val("Cox multivariable", param, term, s) for s in ("HR", "LOWER", "UPPER")]
            out.append({"Model": model_row, "Factor": f"{label}: {levels[1]} vs {levels[0]}",
                        "Events / n": f"{int(val(model, param, 'MODEL', 'EVENTS'))} / {int(val(model, param, 'MODEL', 'N'))}",
                        "Univariable HR (95% CI)": ci(uni), "p": fmt_p(val(model, param, term, "P_WALD")),
                        "p (Holm)": fmt_p(val(model, param, term, "P_HOLM")),
                        "Multivariable HR (95% CI)": ci(mul) if in_multi else "",
                        "p (LR)": fmt_p(val("Cox multivariable", param, cov, "P_LR")) if in_multi else ""})
    return pd.DataFrame(out)


def firth_table(ard: pd.DataFrame) -> pd.DataFrame:
    """The multivariable model by maximum likelihood (Breslow ties, Wald CI and p) and by Firth's
    penalised likelihood (Breslow ties, profile CI, penalised LR p), one row per term, a block per
    endpoint: the two differ only by the penalty."""
    from ..stats.rounding import fmt, fmt_p
    val = _getter(ard)
    out = []
    for param in ard[ard.ANALYSIS == "Cox multivariable Firth"].PARAMETER.unique():
        out.append({"Term": param, "ML HR (95% Wald CI)": "", "p (Wald)": "", "Firth HR (95% profile CI)": "",
                    "p (penalised LR)": ""})
        for cov in MULTIVARIABLE:
            label, levels = COVARIATES[cov]
            term = f"{cov}[{levels[1]} vs {levels[0]}]"
            ml = [val("Cox multivariable Breslow", param, term, s) for s in ("HR", "LOWER", "UPPER", "P_WALD")]
            fi = [val("Cox multivariable Firth", param, term, s) for s in ("HR", "LOWER", "UPPER", "P")]
            out.append({"Term": f"  {label}: {levels[1]} vs {levels[0]}",
                        "ML HR (95% Wald CI)": f"{fmt(ml[0], 2)} ({fmt(ml[1], 2)}, {fmt(ml[2], 2)})", "p (Wald)": fmt_p(ml[3]),
                        "Firth HR (95% profile CI)": f"{fmt(fi[0], 2)} ({fmt(fi[1], 2)}, {fmt(fi[2], 2)})",
                        "p (penalised LR)": fmt_p(fi[3])})
    return pd.DataFrame(out)


def ph_table(ard: pd.DataFrame) -> pd.DataFrame:
    """Proportional-hazards score tests of the multivariable model: per term and GLOBAL."""
    from ..stats.rounding import fmt, fmt_p
    labels = {c: f"{COVARIATES[c][0]}: {COVARIATES[c][1][1]} vs {COVARIATES[c][1][0]}" for c in MULTIVARIABLE}
    labels["GLOBAL"] = "Global test"
    ph = ard[ard.ANALYSIS == "PH test (multivariable)"]
    out = []
    for param in ph.PARAMETER.unique():
        g = ph[ph.PARAMETER == param]
        for term in g.GROUP.unique():
            st = dict(zip(g[g.GROUP == term].STAT, g[g.GROUP == term].VALUE))
            out.append({"Endpoint": param, "Term": labels.get(term, term), "Chi-square": fmt(st["CHISQ"], 2),
                        "df": str(int(st["DF"])), "p": fmt_p(st["P_PH"])})
    return pd.DataFrame(out)


LOGISTIC_METHOD = ("logistic regression (statsmodels GLM, binomial, logit), univariable; odds ratio with "
                   "profile-likelihood 95% CI (R confint.glm); P_LR: likelihood-ratio test of the factor; "
                   "P_FISHER: Fisher's exact test of the 2 x 2 table (R fisher.test, two-sided); "
                   "P_HOLM: Fisher p adjusted by Holm's method across the factors")


def orr_logistic(adsl: pd.DataFrame, adrs: pd.DataFrame, output_id: str) -> tuple[ARD, dict]:
    """Objective response (unconfirmed BOR CR/PR) on each prognostic factor of COVARIATES:
    responders / n per level; the odds ratio of the second level against the first (reference) by
    univariable logistic regression with its profile-likelihood 95% CI, and its likelihood-ratio
    p; Fisher's exact p of the 2 x 2 table (valid at any size and under separation, so it is the
    p the table shows) and its Holm adjustment across the factors (nominal, exploratory). A level
    with no or only responders separates: the odds ratio is not estimable (NE)."""
    from scipy.stats import fisher_exact
    from ..stats.logistic import logistic_regression
    a = analysed_with_groups(adsl)
    bor = adrs[adrs.PARAMCD == "BOR"].set_index("USUBJID").AVALC
    a["RESP"] = a.USUBJID.map(bor).isin(["CR", "PR"]).astype(int)
    ard, fits, p_lr = ARD(), {}, []
    for cov, (_label, levels) in COVARIATES.items():
        r = logistic_regression(a, "RESP", {cov: levels})
        fits[cov] = r
        term = f"{cov}[{levels[1]} vs {levels[0]}]"
        row = r.table[r.table.term != "(Intercept)"].iloc[0]
        separated = any("separation" in m for m in r.messages)
        add = lambda stat, v, cov=cov, term=term: ard.add(output_id, f"logistic univariable {cov}", "Analysis set",  # noqa: E731
                                                          "ORR", term, stat, v, LOGISTIC_METHOD)
        for lev in levels:
            g = a[a[cov] == lev]
            ard.add(output_id, f"logistic univariable {cov}", "Analysis set", "ORR", f"{cov}={lev}", "N", len(g), LOGISTIC_METHOD)
            ard.add(output_id, f"logistic univariable {cov}", "Analysis set", "ORR", f"{cov}={lev}", "RESPONDERS",
                    int(g.RESP.sum()), LOGISTIC_METHOD)
        add("N", r.n)
        add("OR", np.nan if separated else row.odds_ratio)
        add("OR_LCL", np.nan if separated else row.pl_lower)
        add("OR_UCL", np.nan if separated else row.pl_upper)
        add("P_WALD", np.nan if separated else row.p_wald)
        add("P_LR", float(r.term_tests.p_lr.iloc[0]))
        table = [[int(((a[cov] == lev) & (a.RESP == 1)).sum()), int(((a[cov] == lev) & (a.RESP == 0)).sum())]
                 for lev in levels]
        p = float(fisher_exact(table).pvalue)
        add("P_FISHER", p)
        p_lr.append(p)
    for (cov, (_label, levels)), ph in zip(COVARIATES.items(), p_adjust(p_lr, "holm")):
        ard.add(output_id, f"logistic univariable {cov}", "Analysis set", "ORR", f"{cov}[{levels[1]} vs {levels[0]}]",
                "P_HOLM", ph, LOGISTIC_METHOD)
    return ard, fits


def orr_logistic_table(ard: pd.DataFrame) -> pd.DataFrame:
    """Rows of :func:`orr_logistic`: factor, responders / n of each level, OR (95% profile CI),
    Fisher's exact p and its Holm adjustment."""
    from ..stats.rounding import fmt, fmt_p
    val = _getter(ard)
    out = []
    for cov, (label, levels) in COVARIATES.items():
        model = f"logistic univariable {cov}"
        term = f"{cov}[{levels[1]} vs {levels[0]}]"
        resp = [f"{int(val(model, 'ORR', f'{cov}={lev}', 'RESPONDERS'))} / {int(val(model, 'ORR', f'{cov}={lev}', 'N'))}"
                for lev in levels]
        orr = val(model, "ORR", term, "OR")
        out.append({"Factor": f"{label}: {levels[1]} vs {levels[0]}",
                    "Responders / n (reference)": f"{resp[0]} ({levels[0]})",
                    "Responders / n (comparison)": f"{resp[1]} ({levels[1]})",
                    "Odds ratio (95% CI)": "NE (separation)" if orr != orr else
                    f"{fmt(orr, 2)} ({fmt(val(model, 'ORR', term, 'OR_LCL'), 2)}, {fmt(val(model, 'ORR', term, 'OR_UCL'), 2)})",
                    "p (Fisher exact)": fmt_p(val(model, "ORR", term, "P_FISHER")),
                    "p (Holm)": fmt_p(val(model, "ORR", term, "P_HOLM"))})
    return pd.DataFrame(out)
