"""Best overall response (RSPT01 layout), ORR and DCR with exact CIs, tumour-size data for the
waterfall, swimmer and spider plots."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..ard import ARD
from ..stats.binom import clopper_pearson

CATEGORIES = ["CR", "PR", "SD", "NON-CR/NON-PD", "PD", "NE", "MISSING"]
CP = "Clopper-Pearson exact 95% CI"


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
    for name, cats in (("ORR", ["CR", "PR"]), ("DCR", ["CR", "PR", "SD", "NON-CR/NON-PD"])):
        k = int(b.AVALC.isin(cats).sum())
        p, lo, hi = clopper_pearson(k, n) if n else (np.nan, np.nan, np.nan)
        add(f"{name}_N", k)
        add(name, 100 * p, CP)
        add(f"{name}_LCL", 100 * lo, CP)
        add(f"{name}_UCL", 100 * hi, CP)
    return ard


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
