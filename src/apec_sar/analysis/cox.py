"""Cox models (univariable, pre-specified multivariable, Firth-penalised sensitivity), PH
tests, subgroup response rates, and an immortal-time-safe landmark analysis of irAEs."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..ard import ARD
from ..stats.binom import clopper_pearson
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
MULTIVARIABLE = ["ECOGGR1", "NLRGR1", "METLIVER"]   # pre-specified, EPV-aware (3 terms)
COX_METHOD = "Cox PH, Efron ties, Wald 95% CI; p: Wald (term), likelihood ratio (model)"
LANDMARK_DAYS = 91


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
    a("MODEL", "LR_STAT", res.lr_stat)
    a("MODEL", "LR_P", res.lr_p)
    a("MODEL", "CONVERGED", float(res.converged))
    for r in res.table.itertuples():
        for s in ("coef", "se", "hr", "lower", "upper", "p_wald"):
            a(r.term, s.upper(), getattr(r, s))
    if res.term_tests is not None:
        for r in res.term_tests.itertuples():
            a(r.covariate, "P_LR", r.p_lr)


def cox_models(d: pd.DataFrame, param: str, output_id: str) -> tuple[ARD, dict[str, CoxResult]]:
    ard, fits = ARD(), {}
    for cov, (_label, levels) in COVARIATES.items():
        r = fit_cox(d, "time", "status", {cov: levels})
        fits[f"uni:{cov}"] = r
        _add_model(ard, r, output_id, param, f"univariable {cov}", COX_METHOD)
    multi = {c: COVARIATES[c][1] for c in MULTIVARIABLE}
    r = fit_cox(d, "time", "status", multi)
    fits["multi"] = r
    _add_model(ard, r, output_id, param, "multivariable", COX_METHOD)
    rf = fit_firth(d, "time", "status", multi)
    fits["firth"] = rf
    _add_firth(ard, rf, output_id, param)
    for row in ph_test(r).itertuples():
        ard.add(output_id, "PH test (multivariable)", "Analysis set", param, row.term, "P_PH", row.p,
                "score test for g(t) x terms, g = 1 - KM(t-) (R survival >= 3.0 cox.zph); per term and GLOBAL")
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


def irae_landmark(adsl: pd.DataFrame, adtte: pd.DataFrame, adae: pd.DataFrame, param: str, output_id: str,
                  landmark_days: int = LANDMARK_DAYS) -> tuple[ARD, CoxResult, pd.DataFrame]:
    """Landmark analysis (avoids immortal-time bias): patients still at risk at the landmark,
    grouped by an immune-related AE with onset on or before it; time from the landmark."""
    d = analysis_frame(adsl, adtte, param)
    d = d[d.AVAL > landmark_days].copy()
    ir = adae[(adae.AEIRFL == "Y") & (adae.TRTEMFL == "Y") & (adae.ASTDY <= landmark_days)].USUBJID.unique()
    d["IRAE"] = np.where(d.USUBJID.isin(ir), "Y", "N")
    d["time"] = (d.AVAL - landmark_days) / 30.4375
    r = fit_cox(d, "time", "status", {"IRAE": ["N", "Y"]})
    ard = ARD()
    _add_model(ard, r, output_id, param, f"landmark {landmark_days} days irAE", COX_METHOD + f"; landmark at day {landmark_days}")
    counts = d.groupby("IRAE").agg(patients=("USUBJID", "size"), events=("status", "sum")).reset_index()
    for row in counts.itertuples():
        ard.add(output_id, f"Cox landmark {landmark_days} days irAE", "Landmark set", param, f"IRAE={row.IRAE}",
                "N", row.patients)
        ard.add(output_id, f"Cox landmark {landmark_days} days irAE", "Landmark set", param, f"IRAE={row.IRAE}",
                "EVENTS", row.events)
    return ard, r, counts


def cox_table(ard: pd.DataFrame) -> pd.DataFrame:
    """Univariable and multivariable HRs side by side, one row per factor and endpoint,
    formatted from the ARD rows written by :func:`cox_models`."""
    from ..stats.rounding import fmt, fmt_p

    def val(model, param, term, stat):
        r = ard[(ard.ANALYSIS == f"Cox {model}") & (ard.PARAMETER == param) & (ard.GROUP == term) & (ard.STAT == stat)]
        return float(r.VALUE.iloc[0]) if len(r) else float("nan")

    out = []
    for param in ard[ard.ANALYSIS.str.startswith("Cox univariable")].PARAMETER.unique():
        for cov, (label, levels) in COVARIATES.items():
            term = f"{cov}[{levels[1]} vs {levels[0]}]"
            uni = [val(f"univariable {cov}", param, term, s) for s in ("HR", "LOWER", "UPPER", "P_WALD")]
            mul = [val("multivariable", param, term, s) for s in ("HR", "LOWER", "UPPER", "P_WALD")]
            in_multi = cov in MULTIVARIABLE
            out.append({"Endpoint": param, "Factor": f"{label}: {levels[1]} vs {levels[0]}",
                        "Univariable HR (95% CI)": f"{fmt(uni[0], 2)} ({fmt(uni[1], 2)}, {fmt(uni[2], 2)})",
                        "p": fmt_p(uni[3]),
                        "Multivariable HR (95% CI)": f"{fmt(mul[0], 2)} ({fmt(mul[1], 2)}, {fmt(mul[2], 2)})" if in_multi else "",
                        "p (multi)": fmt_p(mul[3]) if in_multi else ""})
    return pd.DataFrame(out)
