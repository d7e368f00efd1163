"""Time-to-event summaries (TTET01 layout) into the ARD."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..ard import ARD
from ..stats import km as K

DAYS_PER_MONTH = 30.4375
LANDMARKS_MONTHS = (6, 12)


def km_method(conf_type: str) -> str:
    return (f"Kaplan-Meier; pointwise 95% CI with the {conf_type} transform; quantile CIs by "
            "Brookmeyer-Crowley; months = days / 30.4375")


def tte_summary(adtte: pd.DataFrame, param: str, output_id: str, population: str = "Analysis set",
                conf_type: str = "log-log", group: str = "All") -> tuple[ARD, K.KaplanMeier | None]:
    """Events by type, censored by reason, median and quartiles with CIs, landmark rates: ARD
    rows for one parameter (one group). Median follow-up is reported once, for the study, by
    :func:`followup_summary` (a reverse Kaplan-Meier of PFS or DOR measures their maturity, not
    follow-up; post_ici_definitions 6)."""
    ard = ARD()
    x = adtte[adtte.PARAMCD == param]
    n = len(x)
    add = lambda stat, v, m="": ard.add(output_id, "time to event", population, param, group, stat, v, m)  # noqa: E731
    add("N", n)
    ev = x.CNSR == 0
    add("EVENTS_N", int(ev.sum()))
    add("EVENTS_PCT", 100 * ev.mean() if n else np.nan)
    for desc, k in x[ev].EVNTDESC.value_counts().sort_index().items():
        add(f"EVENTS_N[{desc}]", int(k))
    add("CENSORED_N", int((~ev).sum()))
    for desc, k in x[~ev].CNSDTDSC.value_counts().sort_index().items():
        add(f"CENSORED_N[{desc}]", int(k))
    if n == 0:
        return ard, None
    km = K.kaplan_meier(x.AVAL.to_numpy() / DAYS_PER_MONTH, ev.astype(int).to_numpy(), conf_type)
    meth = km_method(conf_type)
    for p, name in ((0.5, "MEDIAN"), (0.25, "Q1"), (0.75, "Q3")):
        est, lo, hi = K.quantile(km, p)
        add(name, est, meth)
        add(f"{name}_LCL", lo, meth)
        add(f"{name}_UCL", hi, meth)
    last = km.time[-1]
    for m in LANDMARKS_MONTHS:
        s, lo, hi, at_risk = K.survival_at(km, m)
        beyond = m > last
        add(f"RATE_{m}M", np.nan if beyond else 100 * s, meth)
        add(f"RATE_{m}M_LCL", np.nan if beyond else 100 * lo, meth)
        add(f"RATE_{m}M_UCL", np.nan if beyond else 100 * hi, meth)
        add(f"AT_RISK_{m}M", at_risk)
    med, se, lo, hi = K.spss_median_ci(km)
    add("MEDIAN_SE_SYM", se, "Collett density-based SE (SPSS-style)")
    add("MEDIAN_SYM_LCL", lo, "median +/- 1.96 SE (SPSS-style)")
    add("MEDIAN_SYM_UCL", hi, "median +/- 1.96 SE (SPSS-style)")
    return ard, km


def median_ci_methods(adtte: pd.DataFrame, param: str, output_id: str) -> ARD:
    """The median's 95% CI by each method (sensitivity of the CI to the method): Brookmeyer-
    Crowley with plain, log and log-log pointwise bands, and the SPSS-style symmetric CI."""
    ard = ARD()
    x = adtte[adtte.PARAMCD == param]
    t, e = x.AVAL.to_numpy() / DAYS_PER_MONTH, (x.CNSR == 0).astype(int).to_numpy()
    for ct in K.CONF_TYPES:
        est, lo, hi = K.quantile(K.kaplan_meier(t, e, ct), 0.5)
        for s, v in (("MEDIAN", est), ("LCL", lo), ("UCL", hi)):
            ard.add(output_id, "median CI methods", "Analysis set", param, f"Brookmeyer-Crowley, {ct}", s, v,
                    f"Brookmeyer-Crowley with the {ct} transform")
    med, se, lo, hi = K.spss_median_ci(K.kaplan_meier(t, e))
    for s, v in (("MEDIAN", med), ("LCL", lo), ("UCL", hi)):
        ard.add(output_id, "median CI methods", "Analysis set", param, "Symmetric, median +/- 1.96 SE (SPSS-style)", s, v,
                "Collett density-based SE")
    return ard


def followup_summary(adtte: pd.DataFrame, adsl: pd.DataFrame, output_id: str, population: str = "Analysis set",
                     conf_type: str = "log-log") -> ARD:
    """Median follow-up, reported once (post_ici_definitions 6; Schemper & Smith 1996):
    - reverse Kaplan-Meier on OS (alive at the last contact = the 'event', death = censored):
      median with its Brookmeyer-Crowley 95% CI and the quartiles (IQR), FU_REVKM_*;
    - potential follow-up, first dose to the data cut-off (DCUTDT - TRTSDT + 1 days), for every
      patient of the population: median, quartiles and range, FU_POT_*.
    Months = days / 30.4375. ``adtte``/``adsl``: the population's records."""
    ard = ARD()
    x = adtte[adtte.PARAMCD == "OS"]
    add = lambda stat, v, m: ard.add(output_id, "follow-up", population, "OS", "All", stat, v, m)  # noqa: E731
    add("N", len(x), "")
    if len(x):
        km = K.kaplan_meier(x.AVAL.to_numpy() / DAYS_PER_MONTH, (x.CNSR != 0).astype(int).to_numpy(), conf_type)
        meth = f"reverse Kaplan-Meier of OS (censoring as the event); Brookmeyer-Crowley CI, {conf_type}"
        for p, name in ((0.5, "MEDIAN"), (0.25, "Q1"), (0.75, "Q3")):
            est, lo, hi = K.quantile(km, p)
            add(f"FU_REVKM_{name}", est, meth)
            if name == "MEDIAN":
                add("FU_REVKM_LCL", lo, meth)
                add("FU_REVKM_UCL", hi, meth)
    a = adsl[adsl.USUBJID.isin(x.USUBJID)] if len(x) else adsl
    pot = ((a.DCUTDT - a.TRTSDT).dt.days + 1) / DAYS_PER_MONTH
    meth = "potential follow-up: first dose to data cut-off; quartiles by linear interpolation (R type 7)"
    for name, v in (("MEDIAN", pot.median()), ("Q1", pot.quantile(0.25)), ("Q3", pot.quantile(0.75)),
                    ("MIN", pot.min()), ("MAX", pot.max())):
        add(f"FU_POT_{name}", v, meth)
    return ard


def followup_table(ard: pd.DataFrame) -> pd.DataFrame:
    """Display rows of :func:`followup_summary`."""
    from ..stats.rounding import fmt
    st = dict(zip(ard.STAT, ard.VALUE))
    return pd.DataFrame([
        {"Follow-up": "Median follow-up (reverse Kaplan-Meier of OS), months (95% CI)",
         "Value": f"{fmt(st['FU_REVKM_MEDIAN'], 2)} ({fmt(st['FU_REVKM_LCL'], 2)}, {fmt(st['FU_REVKM_UCL'], 2)})"},
        {"Follow-up": "  Interquartile range, months", "Value": f"{fmt(st['FU_REVKM_Q1'], 2)} - {fmt(st['FU_REVKM_Q3'], 2)}"},
        {"Follow-up": "Potential follow-up (first dose to data cut-off), median (range), months",
         "Value": f"{fmt(st['FU_POT_MEDIAN'], 2)} ({fmt(st['FU_POT_MIN'], 2)} - {fmt(st['FU_POT_MAX'], 2)})"},
    ])
