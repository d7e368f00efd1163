"""Patient listings (pseudonymised ids only)."""

from __future__ import annotations

import pandas as pd

DAYS_PER_MONTH = 30.4375


def efficacy_listing(adrs: pd.DataFrame, adtte: pd.DataFrame) -> pd.DataFrame:
    bor = adrs[adrs.PARAMCD.isin(["BOR", "CBOR"])].pivot(index="USUBJID", columns="PARAMCD", values="AVALC")
    out = bor.rename(columns={"BOR": "BOR", "CBOR": "Confirmed BOR"})
    for p in ("PFS", "OS", "DOR"):
        t = adtte[adtte.PARAMCD == p].set_index("USUBJID")
        out[f"{p} (months)"] = (t.AVAL / DAYS_PER_MONTH).round(2)
        out[f"{p} event"] = t.CNSR.map(lambda c: "event" if c == 0 else "censored")
    return out.reset_index().fillna("")


def severe_ae_listing(adae: pd.DataFrame, min_grade: int = 3) -> pd.DataFrame:
    a = adae[(adae.AETOXGR >= min_grade) & (adae.TRTEMFL == "Y")]
    cols = ["USUBJID", "AEDECOD", "AESOC", "AETOXGR", "ASTDY", "AREL", "AESER", "AEACN", "AEOUT"]
    if a.empty:
        return pd.DataFrame({"Listing": [f"No treatment-emergent adverse event of grade {min_grade} or higher."]})
    return a[cols].sort_values(["USUBJID", "ASTDY"]).reset_index(drop=True)
