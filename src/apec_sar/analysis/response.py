"""Best overall response (RSPT01 layout), ORR and DCR with exact CIs, tumour-size data for the
waterfall, swimmer and spider plots."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..ard import ARD
from ..stats.binom import clopper_pearson

CATEGORIES = ["CR", "PR", "SD", "NON-CR/NON-PD", "PD", "NE", "MISSING"]
CP = "Clopper-Pearson exact 95% CI"
CATEGORY_LABELS = {"CR": "Complete response (CR)", "PR": "Partial response (PR)", "SD": "Stable disease (SD)",
                   "NON-CR/NON-PD": "Non-CR/non-PD", "PD": "Progressive disease (PD)", "NE": "Not evaluable (NE)",
                   "MISSING": "No post-baseline assessment"}


def response_summary(adrs: pd.DataFrame, output_id: str, param: str = "BOR",
                     population: str = "Analysis set") -> ARD:
    ard = ARD()
    b = adrs[adrs.PARAMCD == param]
    n = len(b)
    add = lambda stat, v, m="": ard.add(output_id, "best overall response", population, param, "All", stat, v, m)  # noqa: E731
    add("N", n)
    for c in CATEGORIES:
        k = int((b.AVALC == c).sum())
        add(f"n[{c}]", k)
        add(f"pct[{c}]", 100 * k / n if n else np.nan)
    add_rates(add, b.AVALC, estimate=n > 0)
    return ard


RATES = {"ORR": ["CR", "PR"], "DCR": ["CR", "PR", "SD", "NON-CR/NON-PD"]}


def add_rates(add, bor: pd.Series, estimate: bool = True) -> None:
    """ORR and DCR of the best overall responses ``bor``: responders (``ORR_N``, ``DCR_N``) and,
    when ``estimate``, the rate in % with its Clopper-Pearson 95% CI (else NaN), through
    ``add(stat, value, method)``."""
    n = len(bor)
    for name, cats in RATES.items():
        k = int(bor.isin(cats).sum())
        p, lo, hi = clopper_pearson(k, n) if estimate else (np.nan, np.nan, np.nan)
        add(f"{name}_N", k)
        add(name, 100 * p, CP)
        add(f"{name}_LCL", 100 * lo, CP)
        add(f"{name}_UCL", 100 * hi, CP)


def best_change(adtr: pd.DataFrame, adrs: pd.DataFrame) -> pd.DataFrame:
    """Per patient: best (most negative) % change of the target-lesion sum from baseline among
    analysed post-baseline assessments, and BOR. Patients without one are listed with NaN."""
    post = adtr[(adtr.ANL01FL == "Y") & adtr.PCHG.notna()]
    best = post.groupby("USUBJID").PCHG.min()
    bor = adrs[adrs.PARAMCD == "BOR"].set_index("USUBJID").AVALC
    out = pd.DataFrame({"BOR": bor}).join(best.rename("BEST_PCHG"))
    return out.sort_values("BEST_PCHG", ascending=False, na_position="first").reset_index()


def swimmer_data(adsl: pd.DataFrame, adtte: pd.DataFrame, adrs: pd.DataFrame) -> pd.DataFrame:
    """Per patient (months from first dose): treatment end, follow-up end, first response,
    first progression, death, ongoing treatment."""
    a = adsl[adsl.EFFFL == "Y"].set_index("USUBJID")
    m = 30.4375
    os_ = adtte[adtte.PARAMCD == "OS"].set_index("USUBJID")
    pfs = adtte[adtte.PARAMCD == "PFS"].set_index("USUBJID")
    ttr = adtte[adtte.PARAMCD == "TTR"].set_index("USUBJID")
    out = pd.DataFrame(index=a.index)
    out["TRT_END"] = ((a.TRTEDT - a.TRTSDT).dt.days + 1) / m
    out["FU_END"] = os_.AVAL / m
    out["RESPONSE"] = ttr.AVAL / m
    out["PROGRESSION"] = (pfs.AVAL / m).where((pfs.CNSR == 0) & (pfs.EVNTDESC == "Disease progression"))
    out["DEATH"] = (os_.AVAL / m).where(os_.CNSR == 0)
    out["ONGOING"] = a.TRTONGFL == "Y"
    out["BOR"] = adrs[adrs.PARAMCD == "BOR"].set_index("USUBJID").AVALC
    return out.sort_values("FU_END").reset_index()


def spider_data(adtr: pd.DataFrame, adsl: pd.DataFrame, adrs: pd.DataFrame) -> pd.DataFrame:
    a = adsl.set_index("USUBJID")
    t = adtr[(adtr.ANL01FL == "Y") | (adtr.ABLFL == "Y")].copy()
    t["MONTHS"] = (t.ADT - t.USUBJID.map(a.TRTSDT)).dt.days / 30.4375
    t.loc[t.ABLFL == "Y", ["MONTHS", "PCHG"]] = 0.0
    t["BOR"] = t.USUBJID.map(adrs[adrs.PARAMCD == "BOR"].set_index("USUBJID").AVALC)
    return t[["USUBJID", "MONTHS", "PCHG", "BOR"]].dropna().sort_values(["USUBJID", "MONTHS"]).reset_index(drop=True)


# --- sensitivity of disease control, clinical benefit, populations, time to response ----------

DCR_DEFINITIONS = {
    "BORSD28": "SD >= 28 days after the first dose",
    "BOR": "SD >= 42 days (primary)",
    "BORSD56": "SD >= 56 days",
    "CBR": "Clinical benefit: CR, PR or SD >= 24 weeks",
}


def disease_control_sensitivity(adrs: pd.DataFrame, output_id: str, population: str = "Analysis set") -> ARD:
    """Disease control rate by the minimum SD duration (28, 42 = primary, 56 days; ADRS
    BORSD28 / BOR / BORSD56) and the clinical benefit rate (CBR: CR, PR, or SD with a non-PD
    assessment >= 168 days after the first dose), each with a Clopper-Pearson 95% CI; for the
    BOR parameters also the number with SD. ARD PARAMETER = the ADRS parameter."""
    ard = ARD()
    for param, label in DCR_DEFINITIONS.items():
        b = adrs[adrs.PARAMCD == param]
        n = len(b)
        k = int((b.AVALC == "Y").sum()) if param == "CBR" else int(b.AVALC.isin(["CR", "PR", "SD", "NON-CR/NON-PD"]).sum())
        p, lo, hi = clopper_pearson(k, n) if n else (np.nan, np.nan, np.nan)
        def add(stat, v, m="", param=param, label=label):
            ard.add(output_id, "disease control: SD minimum duration", population, param, label, stat, v, m)

        add("N", n)
        add("RATE_N", k)
        add("RATE", 100 * p, CP)
        add("RATE_LCL", 100 * lo, CP)
        add("RATE_UCL", 100 * hi, CP)
        if param != "CBR":
            add("n[SD]", int((b.AVALC == "SD").sum()))
            add("n[NE]", int((b.AVALC == "NE").sum()))
    return ard


def disease_control_table(ard: pd.DataFrame) -> pd.DataFrame:
    """Display rows of :func:`disease_control_sensitivity`: definition, SD n, rate n (%) and CI."""
    from ..stats.rounding import fmt
    rows = []
    for param, label in DCR_DEFINITIONS.items():
        g = ard[ard.PARAMETER == param]
        if g.empty:
            continue
        st = dict(zip(g.STAT, g.VALUE))
        rows.append({"Definition": label, "N": int(st["N"]),
                     "SD, n": "" if "n[SD]" not in st else str(int(st["n[SD]"])),
                     "Rate, n (%)": f"{int(st['RATE_N'])} ({fmt(st['RATE'], 1)})",
                     "95% CI (Clopper-Pearson)": f"({fmt(st['RATE_LCL'], 1)}, {fmt(st['RATE_UCL'], 1)})"})
    return pd.DataFrame(rows)


def response_by_population(adrs: pd.DataFrame, adsl: pd.DataFrame, output_id: str) -> ARD:
    """BOR, ORR and DCR (unconfirmed and confirmed) in the efficacy set (eligible; patients
    without an evaluable response count as non-responders) and in the response-evaluable set
    (RSEVALFL: measurable disease at baseline and >= 1 post-baseline assessment)."""
    ard = ARD()
    for flag, population in (("EFFFL", "Analysis set"), ("RSEVALFL", "Response-evaluable set")):
        ids = set(adsl.USUBJID[adsl[flag] == "Y"])
        for param in ("BOR", "CBOR"):
            ard.extend(response_summary(adrs[adrs.USUBJID.isin(ids)], output_id, param, population))
    return ard


def response_table(ard: pd.DataFrame, population: str = "Analysis set") -> pd.DataFrame:
    """RSPT01-style display, unconfirmed and confirmed BOR as two full columns, from
    :func:`response_summary` / :func:`response_by_population` rows of one population."""
    from ..stats.rounding import fmt
    a = ard[ard.POPULATION == population]

    def v(param, stat):
        r = a[(a.PARAMETER == param) & (a.STAT == stat)]
        return float(r.VALUE.iloc[0]) if len(r) else np.nan

    cols = {"BOR": "Unconfirmed (primary)", "CBOR": "Confirmed"}
    rows = [{"Statistic": "Patients, N", **{lab: str(int(v(p, "N"))) for p, lab in cols.items()}}]
    for c in CATEGORIES:
        if c == "NON-CR/NON-PD" and all(v(p, f"n[{c}]") == 0 for p in cols):
            continue
        rows.append({"Statistic": f"{CATEGORY_LABELS.get(c, c)}, n (%)",
                     **{lab: f"{int(v(p, f'n[{c}]'))} ({fmt(v(p, f'pct[{c}]'), 1)})" for p, lab in cols.items()}})
    for name, label in (("ORR", "Objective response rate (CR + PR)"), ("DCR", "Disease control rate (CR + PR + SD)")):
        rows.append({"Statistic": f"{label}, n (%)",
                     **{lab: f"{int(v(p, f'{name}_N'))} ({fmt(v(p, name), 1)})" for p, lab in cols.items()}})
        rows.append({"Statistic": "  95% CI (Clopper-Pearson)",
                     **{lab: f"({fmt(v(p, f'{name}_LCL'), 1)}, {fmt(v(p, f'{name}_UCL'), 1)})" for p, lab in cols.items()}})
    return pd.DataFrame(rows)


def time_to_response(adtte: pd.DataFrame, output_id: str, population: str = "Responders") -> ARD:
    """Time to response (months; TTR among unconfirmed responders, TTRC among confirmed
    responders, from the first dose to the first assessment of the response): n, median,
    quartiles (R type 7) and range -- descriptive, every responder has the event."""
    ard = ARD()
    for param in ("TTR", "TTRC"):
        x = adtte[adtte.PARAMCD == param].AVAL.astype(float) / 30.4375
        stats = {"n": len(x), "MEDIAN": x.median(), "Q1": x.quantile(0.25), "Q3": x.quantile(0.75),
                 "MIN": x.min(), "MAX": x.max()} if len(x) else {"n": 0}
        for s, val in stats.items():
            ard.add(output_id, "time to response", population, param, "All", s, val,
                    "months = days / 30.4375; quartiles by linear interpolation (R type 7)")
    return ard


def time_to_response_table(ard: pd.DataFrame) -> pd.DataFrame:
    """Display rows of :func:`time_to_response`: n, median (Q1, Q3), range per definition."""
    from ..stats.rounding import fmt
    rows = []
    for param, label in (("TTR", "Unconfirmed responders"), ("TTRC", "Confirmed responders")):
        st = dict(zip(ard[ard.PARAMETER == param].STAT, ard[ard.PARAMETER == param].VALUE))
        n = int(st.get("n", 0))
        rows.append({"Responders": label, "n": n,
                     "Median (Q1, Q3), months": f"{fmt(st['MEDIAN'], 2)} ({fmt(st['Q1'], 2)}, {fmt(st['Q3'], 2)})" if n else "-",
                     "Range, months": f"{fmt(st['MIN'], 2)} - {fmt(st['MAX'], 2)}" if n else "-"})
    return pd.DataFrame(rows)


# --- best percentage change in the target-lesion sum -------------------------------------------

PR_THRESHOLD, PD_THRESHOLD = 30, 20      # RECIST 1.1: a 30% decrease of the sum (PR), a 20% increase (PD)
BEST_CHANGE_LEVELS = ["Reduction of 30% or more", "Reduction of less than 30%", "No change or increase of less than 20%",
                      "Increase of 20% or more", "No post-baseline measurement"]


def best_change_category(pchg: pd.Series) -> pd.Series:
    """The RECIST 1.1 thresholds applied to the best % change of the target-lesion sum: a
    reduction of >= 30% (the PR threshold), a smaller reduction, no change or an increase < 20%,
    an increase >= 20% (the PD threshold for the sum; RECIST's 5 mm absolute rule is not applied
    to a best change), and no post-baseline measurement."""
    out = pd.Series(BEST_CHANGE_LEVELS[4], index=pchg.index, dtype=object)
    x = pchg.astype(float)
    out[x <= -PR_THRESHOLD] = BEST_CHANGE_LEVELS[0]
    out[(x > -PR_THRESHOLD) & (x < 0)] = BEST_CHANGE_LEVELS[1]
    out[(x >= 0) & (x < PD_THRESHOLD)] = BEST_CHANGE_LEVELS[2]
    out[x >= PD_THRESHOLD] = BEST_CHANGE_LEVELS[3]
    return out


def best_change_summary(best: pd.DataFrame, output_id: str, population: str = "Analysis set") -> ARD:
    """Best % change from baseline in the sum of target lesions (``best``: one row per patient,
    :func:`best_change`): n, mean (SD), median (Q1, Q3), range among patients with a
    post-baseline measurement, and patients by RECIST threshold (:func:`best_change_category`)."""
    from .summary import describe
    d = best.assign(BEST_CAT=best_change_category(best.BEST_PCHG))
    return describe(d, [("BEST_PCHG", "Best change from baseline, %", "continuous"),
                        ("BEST_CAT", "Best change from baseline", BEST_CHANGE_LEVELS)],
                    output_id, "best change in target-lesion sum", population)


# --- efficacy by the response to and resistance against the prior ICI ------------------------

PRIOR_ICI_GROUPINGS = {
    "PRICIBR": ("Best response on the prior ICI", ["CR", "PR", "SD", "PD"]),
    "RESISTYP": ("Resistance to the prior ICI (SITC)", ["Primary", "Secondary (acquired)", "PD after discontinuation",
                                                       "Unclassifiable"]),
}


MIN_SUBGROUP_N = 5     # the SAP's rule: no estimate for a subgroup of fewer patients


def efficacy_by_group(adsl: pd.DataFrame, adrs: pd.DataFrame, adtte: pd.DataFrame, by: str, levels: list[str],
                      output_id: str, population: str = "Analysis set", min_n: int = MIN_SUBGROUP_N) -> ARD:
    """ORR and DCR (unconfirmed BOR; Clopper-Pearson 95% CI) and PFS (events, Kaplan-Meier
    median with its Brookmeyer-Crowley 95% CI) within each level of ``by`` among the patients of
    ``adsl`` (the population), and the log-rank test of PFS across the levels with at least
    ``min_n`` patients (R ``survdiff``; nominal, exploratory). A level with fewer than ``min_n``
    patients shows its n, responders and events but no estimate (ESTIMATED 0; the SAP's
    minimum-n rule) and takes no part in the test; a level without patients gives n = 0 rows (a
    null report, not a missing row)."""
    from ..stats import km as K
    from ..stats.compare import logrank_test
    ard = ARD()
    bor = adrs[adrs.PARAMCD == "BOR"].set_index("USUBJID").AVALC
    pfs = adtte[adtte.PARAMCD == "PFS"].set_index("USUBJID")
    d = adsl[["USUBJID", by]].copy()
    d["BOR"] = d.USUBJID.map(bor)
    d["time"] = d.USUBJID.map(pfs.AVAL) / 30.4375
    d["status"] = (d.USUBJID.map(pfs.CNSR) == 0).astype(int)
    analysis = f"efficacy by {by}"
    km_meth = "Kaplan-Meier; median CI by Brookmeyer-Crowley (log-log); months = days / 30.4375"
    for lev in levels:
        g = d[d[by] == lev]
        n = len(g)
        add = lambda stat, v, m="", lev=lev: ard.add(output_id, analysis, population, by, lev, stat, v, m)  # noqa: E731
        add("N", n)
        estimated = n >= min_n
        add("ESTIMATED", float(estimated), f"estimates only for groups of at least {min_n} patients")
        add_rates(add, g.BOR, estimate=estimated)
        add("PFS_EVENTS", int(g.status.sum()))
        med = lo = hi = np.nan
        if estimated:
            med, lo, hi = K.quantile(K.kaplan_meier(g.time.to_numpy(), g.status.to_numpy()), 0.5)
        add("PFS_MEDIAN", med, km_meth)
        add("PFS_MEDIAN_LCL", lo, km_meth)
        add("PFS_MEDIAN_UCL", hi, km_meth)
    tested = d[d[by].isin([lev for lev in levels if (d[by] == lev).sum() >= min_n])]
    if tested[by].nunique() >= 2:
        lr = logrank_test(tested, "time", "status", by)
        meth = f"log-rank test of PFS across the {tested[by].nunique()} groups (R survdiff); nominal, unadjusted"
        ard.add(output_id, analysis, population, by, "All", "LOGRANK_CHISQ", lr.chisq, meth)
        ard.add(output_id, analysis, population, by, "All", "LOGRANK_DF", lr.df, meth)
        ard.add(output_id, analysis, population, by, "All", "LOGRANK_P", lr.p, meth)
    return ard


def efficacy_by_group_table(ard: pd.DataFrame) -> pd.DataFrame:
    """Display rows of :func:`efficacy_by_group` ARD rows (one block per grouping variable):
    n, responders, ORR and DCR % (95% CI), PFS events and median (95% CI), and the log-rank p;
    a group below the minimum n shows its counts only."""
    from ..stats.rounding import fmt, fmt_p
    rows = []
    for by, (label, levels) in PRIOR_ICI_GROUPINGS.items():
        a = ard[ard.PARAMETER == by]
        if a.empty:
            continue
        st = lambda lev, a=a: dict(zip(a[a.GROUP == lev].STAT, a[a.GROUP == lev].VALUE))  # noqa: E731
        p = st("All").get("LOGRANK_P", np.nan)
        rows.append({"Subgroup": label, "n": "", "Responders, n": "", "ORR, % (95% CI)": "", "DCR, % (95% CI)": "",
                     "PFS events, n": "", "Median PFS, months (95% CI)": "", "Log-rank p": fmt_p(p) if p == p else ""})
        for lev in levels:
            s = st(lev)
            n = int(s["N"])
            shown = bool(s.get("ESTIMATED", 1))
            rate = lambda k, s=s: f"{fmt(s[k], 1)} ({fmt(s[k + '_LCL'], 1)}, {fmt(s[k + '_UCL'], 1)})"  # noqa: E731
            blank = "-" if n == 0 else "n too small"
            rows.append({"Subgroup": f"  {lev}", "n": str(n), "Responders, n": str(int(s["ORR_N"])) if n else "-",
                         "ORR, % (95% CI)": rate("ORR") if shown else blank,
                         "DCR, % (95% CI)": rate("DCR") if shown else blank,
                         "PFS events, n": str(int(s["PFS_EVENTS"])) if n else "-",
                         "Median PFS, months (95% CI)": (f"{fmt(s['PFS_MEDIAN'], 2)} ({fmt(s['PFS_MEDIAN_LCL'], 2)}, "
                                                         f"{fmt(s['PFS_MEDIAN_UCL'], 2)})" if shown else blank),
                         "Log-rank p": ""})
    return pd.DataFrame(rows)
