"""Immune-related adverse events: incidence by definition, time to onset, and their association
with PFS / OS without immortal-time bias (post_ici_definitions 2 and 3).

A patient must live (and stay progression-free) long enough to have an irAE, so comparing
"irAE ever" with "never" from the first dose credits the irAE group with guaranteed survival
time (Anderson et al. 1983; Suissa 2008). Two analyses avoid it:

- **Time-dependent Cox model (primary).** Follow-up is split at the onset of the first irAE
  into counting-process rows ``(start, stop]`` with the irAE indicator 0 before and 1 after;
  the hazard ratio compares the hazard with and without a prior irAE at each time. Fitted with
  lifelines' ``CoxTimeVaryingFitter`` (Efron ties, as R ``coxph(Surv(start, stop, event) ~
  irae)``; the tests check it against R).
- **Landmark analyses (supportive).** At each landmark L (days from the first dose; 42, 84 and
  91 by default) the patients still at risk (AVAL > L: alive, event-free and uncensored after
  day L) are grouped by an irAE with onset on or before day L; irAEs after L count as "no
  irAE"; time restarts at L. The number excluded at each landmark is reported.

The naive fixed-covariate Cox model ("irAE ever") is reported beside them, labelled as biased,
to show the size of the bias. Times are days on the ADTTE scale (AVAL = ADT - STARTDT + 1; the
irAE onset day is ASTDY on the same scale); hazard ratios do not depend on the time unit.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from scipy.stats import norm

from ..ard import ARD
from ..stats import km as K
from ..stats.cox import SEPARATION_COEF, fit_cox

LANDMARK_DAYS = (42, 84, 91)
DAYS_PER_MONTH = 30.4375
DEFINITIONS = {"AEIRFL": "irAE (investigator-called or steroid-treated, PD-1-attributed; primary)",
               "AEIRTLFL": "possible irAE by preferred-term list (sensitivity)"}


def first_irae_day(adae: pd.DataFrame, flag: str = "AEIRFL") -> pd.Series:
    """Per patient, the study day (ASTDY, from the first dose) of the first AE with ``flag`` Y."""
    x = adae[adae[flag] == "Y"]
    return x.groupby("USUBJID").ASTDY.min()


def survival_frame(adsl: pd.DataFrame, adtte: pd.DataFrame, param: str) -> pd.DataFrame:
    """The efficacy set's time to event for ``param``: USUBJID, AVAL (days), event (1/0)."""
    ids = set(adsl.USUBJID[adsl.EFFFL == "Y"])
    t = adtte[(adtte.PARAMCD == param) & adtte.USUBJID.isin(ids)]
    return pd.DataFrame({"USUBJID": t.USUBJID.to_numpy(), "AVAL": t.AVAL.to_numpy(dtype=float),
                         "event": (t.CNSR == 0).astype(int).to_numpy()})


def counting_process(adsl: pd.DataFrame, adtte: pd.DataFrame, adae: pd.DataFrame, param: str,
                     flag: str = "AEIRFL") -> pd.DataFrame:
    """Counting-process rows: one ``(0, AVAL]`` row with irae 0 for a patient without an irAE
    before the end of follow-up; else ``(0, onset]`` with irae 0 and ``(onset, AVAL]`` with
    irae 1 (onset = ASTDY of the first irAE; the event, if any, on the last row). An irAE on or
    after the event / censoring day does not split the follow-up."""
    d = survival_frame(adsl, adtte, param)
    onset = d.USUBJID.map(first_irae_day(adae, flag)).to_numpy(dtype=float)
    split = ~np.isnan(onset) & (onset < d.AVAL.to_numpy())
    base = pd.DataFrame({"USUBJID": d.USUBJID, "start": 0.0, "stop": np.where(split, onset, d.AVAL),
                         "event": np.where(split, 0, d.event), "irae": 0})
    after = pd.DataFrame({"USUBJID": d.USUBJID[split], "start": onset[split], "stop": d.AVAL[split],
                          "event": d.event[split], "irae": 1})
    out = pd.concat([base, after], ignore_index=True)
    return out.sort_values(["USUBJID", "start"], kind="stable").reset_index(drop=True)


def _cox_rows(ard: ARD, output_id: str, analysis: str, population: str, param: str, group: str,
              coef: float, se: float, n: int, events: int, method: str) -> None:
    """HR with its Wald CI and p from (coef, se); a coefficient that diverged (|log HR| > 10 or
    SE > 100: monotone likelihood, e.g. no event in one group) is reported as not estimable
    (HR, CI, p NaN; ESTIMABLE 0) -- a Firth-penalised fit would be the remedy."""
    z = norm.ppf(0.975)
    ok = bool(np.isfinite(coef) and np.isfinite(se) and abs(coef) <= SEPARATION_COEF and se <= 100)
    with np.errstate(over="ignore"):
        hr, lo, hi = (np.exp(coef), np.exp(coef - z * se), np.exp(coef + z * se)) if ok else (np.nan,) * 3
    p = 2 * norm.sf(abs(coef / se)) if ok else np.nan
    if not ok and np.isfinite(coef):
        method += "; not estimable: monotone likelihood (no events in one group)"
    for stat, v in (("N", n), ("EVENTS", events), ("COEF", coef), ("SE", se), ("HR", hr), ("LOWER", lo),
                    ("UPPER", hi), ("P_WALD", p), ("ESTIMABLE", float(ok))):
        ard.add(output_id, analysis, population, param, group, stat, v, method)


def irae_time_dependent_cox(adsl: pd.DataFrame, adtte: pd.DataFrame, adae: pd.DataFrame, param: str,
                            output_id: str, flag: str = "AEIRFL") -> tuple[ARD, pd.DataFrame]:
    """Time-dependent Cox model of ``param`` on the irAE indicator (primary, immortal-time
    safe), and the naive fixed 'irAE ever' model for comparison. Returns the ARD rows and the
    counting-process data."""
    from lifelines import CoxTimeVaryingFitter

    cp = counting_process(adsl, adtte, adae, param, flag)
    ard = ARD()
    n = cp.USUBJID.nunique()
    events = int(cp.event.sum())
    n_irae = int(cp[cp.irae == 1].USUBJID.nunique())
    method = ("Cox model with the irAE as a time-varying covariate (counting process, split at the first irAE "
              "onset); Efron ties; Wald 95% CI (lifelines CoxTimeVaryingFitter)")
    pop = "Analysis set"
    ard.add(output_id, "irAE time-dependent Cox", pop, param, "MODEL", "PATIENTS_WITH_IRAE", n_irae, method)
    if events and n_irae and n_irae < n:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            fit = CoxTimeVaryingFitter().fit(cp[["USUBJID", "start", "stop", "event", "irae"]], id_col="USUBJID",
                                             event_col="event", start_col="start", stop_col="stop", show_progress=False,
                                             fit_options={"precision": 1e-12, "r_precision": 1e-12, "max_steps": 200})
        notes = sorted({str(w.message).strip().split(". ")[0] + "." for w in caught
                        if "onverge" in type(w.message).__name__})
        if notes:
            method += "; lifelines: " + " ".join(notes)
        s = fit.summary.loc["irae"]
        _cox_rows(ard, output_id, "irAE time-dependent Cox", pop, param, "irAE (time-varying) vs none",
                  s["coef"], s["se(coef)"], n, events, method)
    else:
        _cox_rows(ard, output_id, "irAE time-dependent Cox", pop, param, "irAE (time-varying) vs none",
                  np.nan, np.nan, n, events, method + "; not estimable (no events or no contrast)")
    d = survival_frame(adsl, adtte, param)
    ever = d.USUBJID.isin(first_irae_day(adae, flag).index)
    d["IRAE"] = np.where(ever, "Y", "N")
    r = fit_cox(d, "AVAL", "event", {"IRAE": ["N", "Y"]}, term_tests=False)
    naive = "Cox model with 'irAE ever' fixed at baseline: subject to immortal-time bias, shown for comparison only"
    t = r.table.iloc[0] if len(r.table) else None
    _cox_rows(ard, output_id, "irAE naive Cox (immortal-time biased)", pop, param, "irAE ever vs never",
              np.nan if t is None else t.coef, np.nan if t is None else t.se, r.n, r.events, naive)
    return ard, cp


def landmark_frame(adsl: pd.DataFrame, adtte: pd.DataFrame, adae: pd.DataFrame, param: str, landmark: int,
                   flag: str = "AEIRFL") -> tuple[pd.DataFrame, int]:
    """The patients still at risk after day ``landmark`` (AVAL > L), with IRAE = Y for an irAE
    with onset on or before day L, and ``time`` in months from the landmark; and the number of
    patients of the efficacy set."""
    d0 = survival_frame(adsl, adtte, param)
    onset = d0.USUBJID.map(first_irae_day(adae, flag))
    keep = d0.AVAL > landmark
    d = d0[keep].copy()
    d["IRAE"] = np.where(onset[keep] <= landmark, "Y", "N")
    d["time"] = (d.AVAL - landmark) / DAYS_PER_MONTH
    return d, len(d0)


def landmark_logrank(adsl: pd.DataFrame, adtte: pd.DataFrame, adae: pd.DataFrame, param: str, landmark: int,
                     output_id: str, flag: str = "AEIRFL") -> ARD:
    """Log-rank test of ``param`` from the landmark between patients with and without an irAE by
    the landmark (R ``survdiff``): chi-square, df, p, observed and expected events per group."""
    from ..stats.compare import logrank_test
    d, _ = landmark_frame(adsl, adtte, adae, param, landmark, flag)
    ard = ARD()
    pop = f"At risk after day {landmark}"
    meth = f"log-rank test from the landmark at day {landmark} (R survdiff)"
    if d.IRAE.nunique() < 2 or not d.event.sum():
        ard.add(output_id, f"irAE landmark {landmark} days log-rank", pop, param, "ALL", "P", np.nan, meth + "; not estimable")
        return ard
    lr = logrank_test(d, "time", "event", "IRAE")
    for stat, v in (("CHISQ", lr.chisq), ("DF", lr.df), ("P", lr.p)):
        ard.add(output_id, f"irAE landmark {landmark} days log-rank", pop, param, "ALL", stat, v, meth)
    for row in lr.table.itertuples():
        ard.add(output_id, f"irAE landmark {landmark} days log-rank", pop, param, f"IRAE={row.group}", "OBSERVED",
                row.observed, meth)
        ard.add(output_id, f"irAE landmark {landmark} days log-rank", pop, param, f"IRAE={row.group}", "EXPECTED",
                row.expected, meth)
    return ard


def irae_landmarks(adsl: pd.DataFrame, adtte: pd.DataFrame, adae: pd.DataFrame, param: str, output_id: str,
                   landmarks=LANDMARK_DAYS, flag: str = "AEIRFL") -> ARD:
    """Landmark analyses at each landmark (days): patients at risk after the landmark, by an
    irAE with onset on or before it; per group N, events and the Kaplan-Meier median from the
    landmark (months, Brookmeyer-Crowley CI); the Cox hazard ratio irAE vs none."""
    ard = ARD()
    for L in landmarks:
        d, n_all = landmark_frame(adsl, adtte, adae, param, L, flag)
        analysis = f"irAE landmark {L} days"
        pop = f"At risk after day {L}"
        meth = f"landmark at day {L} from the first dose; time from the landmark"
        add = lambda group, stat, v, m=meth: ard.add(output_id, analysis, pop, param, group, stat, v, m)  # noqa: E731,B023
        add("ALL", "N_SCREENED", n_all)
        add("ALL", "N", len(d))
        add("ALL", "EXCLUDED", n_all - len(d))
        for g in ("Y", "N"):
            x = d[d.IRAE == g]
            add(f"IRAE={g}", "N", len(x))
            add(f"IRAE={g}", "EVENTS", int(x.event.sum()))
            if len(x):
                est, lo, hi = K.quantile(K.kaplan_meier(x.time.to_numpy(), x.event.to_numpy()), 0.5)
            else:
                est = lo = hi = np.nan
            km_m = "Kaplan-Meier from the landmark; Brookmeyer-Crowley CI, log-log"
            add(f"IRAE={g}", "MEDIAN", est, km_m)
            add(f"IRAE={g}", "MEDIAN_LCL", lo, km_m)
            add(f"IRAE={g}", "MEDIAN_UCL", hi, km_m)
        coef = se = np.nan
        if (d.IRAE == "Y").any() and (d.IRAE == "N").any() and d.event.sum():
            r = fit_cox(d, "time", "event", {"IRAE": ["N", "Y"]}, term_tests=False)
            if len(r.table):
                coef, se = r.table.coef.iloc[0], r.table.se.iloc[0]
        _cox_rows(ard, output_id, analysis, pop, param, "irAE by landmark vs none", coef, se, len(d),
                  int(d.event.sum()), "Cox PH, Efron ties, Wald 95% CI; " + meth)
    return ard


def irae_association_table(ard: pd.DataFrame) -> pd.DataFrame:
    """Display rows (one per analysis and endpoint) from :func:`irae_time_dependent_cox` and
    :func:`irae_landmarks` ARD rows: patients, irAE group sizes, HR (95% CI), p."""
    from ..stats.rounding import fmt, fmt_p
    rows = []
    hr = ard[ard.STAT == "HR"]
    for analysis, param, group in hr[["ANALYSIS", "PARAMETER", "GROUP"]].drop_duplicates().itertuples(index=False):
        a = ard[(ard.ANALYSIS == analysis) & (ard.PARAMETER == param)]

        def v(grp, stat, a=a):
            r = a[(a.GROUP == grp) & (a.STAT == stat)]
            return float(r.VALUE.iloc[0]) if len(r) else np.nan

        if analysis.startswith("irAE landmark"):
            who = f"{int(v('ALL', 'N'))} at risk ({int(v('ALL', 'EXCLUDED'))} excluded); irAE {int(v('IRAE=Y', 'N'))}"
        elif "time-dependent" in analysis:
            who = f"{int(v(group, 'N'))}; irAE during follow-up {int(v('MODEL', 'PATIENTS_WITH_IRAE'))}"
        else:
            who = f"{int(v(group, 'N'))}"
        rows.append({"Endpoint": param, "Analysis": analysis, "Patients": who, "Events": int(v(group, "EVENTS")),
                     "HR (95% CI)": f"{fmt(v(group, 'HR'), 2)} ({fmt(v(group, 'LOWER'), 2)}, {fmt(v(group, 'UPPER'), 2)})",
                     "p (nominal)": fmt_p(v(group, "P_WALD"))})
    return pd.DataFrame(rows)


def irae_incidence(adae: pd.DataFrame, adsl: pd.DataFrame, output_id: str, population: str = "Safety set") -> ARD:
    """Patients with an irAE by definition (primary; its two routes: investigator-called, and
    steroid-treated with PD-1 attribution; the term list), patients with hypothyroidism counted
    as irAE under each, and the time from the first PD-1 dose to the first irAE (days: n,
    median, range). N = patients of ``adsl`` who received the PD-1 inhibitor."""
    ard = ARD()
    pd1 = adsl[adsl.PD1SDT.notna()]
    n = len(pd1)
    ae = adae[adae.USUBJID.isin(pd1.USUBJID)]
    win = ae.IRWINFL == "Y"
    defs = {
        "AEIRFL": ae[ae.AEIRFL == "Y"],
        "IRINVFL": ae[win & (ae.IRINVFL == "Y")],
        "AESTERFL": ae[win & (ae.AESTERFL == "Y") & (ae.ARELPD1 == "Y")],
        "AEIRTLFL": ae[ae.AEIRTLFL == "Y"],
    }
    labels = {"AEIRFL": "irAE, primary definition", "IRINVFL": "  called immune-related by the investigator",
              "AESTERFL": "  treated with systemic corticosteroids, attributed to the PD-1 inhibitor",
              "AEIRTLFL": "Possible irAE by preferred-term list (sensitivity)"}
    ard.add(output_id, "irAE incidence", population, "ALL", "All", "N", n)
    for k, x in defs.items():
        m = x.USUBJID.nunique()
        ard.add(output_id, "irAE incidence", population, k, labels[k], "n", m)
        ard.add(output_id, "irAE incidence", population, k, labels[k], "pct", 100 * m / n if n else np.nan)
        h = x[x.AEDECOD == "Hypothyroidism"].USUBJID.nunique()
        ard.add(output_id, "irAE incidence", population, k, labels[k], "n[Hypothyroidism]", h)
    first = ae[ae.AEIRFL == "Y"].groupby("USUBJID").IRONSDY.min().astype(float)
    for s, v in (("n", len(first)), ("MEDIAN", first.median()), ("MIN", first.min()), ("MAX", first.max())):
        ard.add(output_id, "irAE time to onset", population, "AEIRFL", "Days from the first PD-1 dose", s, v,
                "first irAE per patient; onset - first PD-1 dose + 1")
    return ard


def irae_incidence_table(ard: pd.DataFrame) -> pd.DataFrame:
    """Display rows of :func:`irae_incidence`."""
    from ..stats.rounding import fmt
    inc = ard[ard.ANALYSIS == "irAE incidence"]
    n = int(inc[inc.STAT == "N"].VALUE.iloc[0])
    rows = []
    for (_param, label), g in inc[inc.PARAMETER != "ALL"].groupby(["PARAMETER", "GROUP"], sort=False):
        st = dict(zip(g.STAT, g.VALUE))
        rows.append({"Patients with": label, f"n (%), N = {n}": f"{int(st['n'])} ({fmt(st['pct'], 1)})",
                     "of whom hypothyroidism": str(int(st["n[Hypothyroidism]"]))})
    t = ard[ard.ANALYSIS == "irAE time to onset"]
    st = dict(zip(t.STAT, t.VALUE))
    if st.get("n"):
        rows.append({"Patients with": "Time to first irAE from the first PD-1 dose, days: median (range)",
                     f"n (%), N = {n}": f"{fmt(st['MEDIAN'], 0)} ({fmt(st['MIN'], 0)} - {fmt(st['MAX'], 0)})",
                     "of whom hypothyroidism": ""})
    return pd.DataFrame(rows)
