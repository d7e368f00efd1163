"""ADAE (treatment-emergent flag, relatedness, immune-related flag) and ADEX (exposure).

TEAE (admiral ``derive_var_trtemfl``, PHUSE WP-087): not treated -> not flagged; AE ended
before the first dose -> not flagged; start missing -> flagged; start on/after TRTSDT and on/
before TRTEDT + 30 days -> flagged. Related = related or possibly related to either drug.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

TEAE_WINDOW_DAYS = 30
RELATED = ("Related", "Possibly related")
PLANNED_ANLOTINIB_MG_PER_DAY = 12 * 14 / 21   # 12 mg on days 1-14 of 21


def treatment_emergent(ast: pd.Series, aen: pd.Series, trtsdt: pd.Series, trtedt: pd.Series,
                       window: int = TEAE_WINDOW_DAYS) -> np.ndarray:
    treated = trtsdt.notna()
    ended_before = aen.notna() & (aen < trtsdt)
    in_window = ast.notna() & (ast >= trtsdt) & (ast <= trtedt + pd.Timedelta(days=window))
    flag = treated & ~ended_before & (ast.isna() | in_window)
    return np.where(flag, "Y", None)


def build_adae(ae: pd.DataFrame, adsl: pd.DataFrame) -> pd.DataFrame:
    a = ae.merge(adsl[["USUBJID", "TRTSDT", "TRTEDT", "SAFFL"]], on="USUBJID", how="left", validate="many_to_one")
    out = pd.DataFrame({
        "USUBJID": a.USUBJID, "AESEQ": a.groupby("USUBJID").cumcount() + 1, "AETERM": a.AE_VERBATIM,
        "AEDECOD": a.AEDECOD, "AESOC": a.AESOC, "AETOXGR": a.CTCAE_GRADE.astype(int),
        "ASTDT": a.START_DATE, "ASTDTF": a.START_DATE_F, "AENDT": a.END_DATE, "AENDTF": a.END_DATE_F,
        "ASTDY": (a.START_DATE - a.TRTSDT).dt.days + 1,
        "TRTEMFL": treatment_emergent(a.START_DATE, a.END_DATE, a.TRTSDT, a.TRTEDT),
        "RELANL": a.REL_ANLOTINIB, "RELPD1": a.REL_PD1,
        "AREL": np.where(a.REL_ANLOTINIB.isin(RELATED) | a.REL_PD1.isin(RELATED), "Y", "N"),
        "AEIRFL": a.AEIRFL, "AESER": a.SERIOUS, "AEACN": a.ACTION_TAKEN, "AEOUT": a.OUTCOME,
        "SAFFL": a.SAFFL, "SRC_ROW": a.SRC_ROW})
    return out


def build_adex(ex: pd.DataFrame, adsl: pd.DataFrame) -> pd.DataFrame:
    """One row per treated subject: cycles, duration, anlotinib dose and intensity,
    reductions, delays, PD-1 agent and infusions."""
    e = ex.merge(adsl[["USUBJID", "TRTSDT", "TRTEDT", "DCUTDT"]], on="USUBJID")
    anl = e[e.DRUG_CLASS == "ANLOTINIB"].copy()
    anl_end = anl.END_DATE.fillna(anl.LAST_DOSE)
    anl["DAYS"] = (anl_end - anl.START_DATE).dt.days + 1
    anl["MG"] = anl.DAYS * anl.DOSE
    pd1 = e[e.DRUG_CLASS.isin(["PD1", "PDL1"])]
    g = anl.groupby("USUBJID")
    out = pd.DataFrame({
        "CYCLES": e.groupby("USUBJID").CYCLE.nunique(),
        "ANLDAYS": g.DAYS.sum(), "ANLCUMD": g.MG.sum(), "ANLDOSE0": g.DOSE.first(),
        "ANLREDFL": (anl.DOSE_CHANGE == "Reduced").groupby(anl.USUBJID).any().map({True: "Y", False: "N"}),
        "ANLMIND": g.DOSE.min(),
        "DELAYS": e[e.DOSE_CHANGE == "Delayed"].groupby("USUBJID").CYCLE.nunique(),
        "PD1AGENT": pd1.groupby("USUBJID").DRUG.first(), "PD1N": pd1.groupby("USUBJID").size(),
    })
    s = adsl.set_index("USUBJID")
    out = out.join(s[["TRTSDT", "TRTEDT"]])
    out["TRTDURD"] = (out.TRTEDT - out.TRTSDT).dt.days + 1
    out["ANLDI"] = (out.ANLCUMD / out.TRTDURD).round(3)                       # mg per day on study
    out["ANLRDI"] = (out.ANLDI / PLANNED_ANLOTINIB_MG_PER_DAY).round(3)       # relative dose intensity
    out["DELAYS"] = out.DELAYS.fillna(0).astype(int)
    out["PD1N"] = out.PD1N.fillna(0).astype(int)
    return out.reset_index().rename(columns={"index": "USUBJID"})
