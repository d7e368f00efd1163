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
    """Events by type, censored by reason, median and quartiles with CIs, landmark rates,
    reverse-KM median follow-up: ARD rows for one parameter (one group)."""
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
    fu = K.reverse_km_median_followup(x.AVAL.to_numpy() / DAYS_PER_MONTH, ev.astype(int).to_numpy(), conf_type)
    add("FOLLOWUP_MEDIAN", fu[0], "reverse Kaplan-Meier (censoring as the event)")
    add("FOLLOWUP_LCL", fu[1], "reverse Kaplan-Meier")
    add("FOLLOWUP_UCL", fu[2], "reverse Kaplan-Meier")
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
