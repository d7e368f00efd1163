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


AE_LISTING_COLUMNS = ["USUBJID", "AEDECOD", "AESOC", "AETOXGR", "ASTDY", "AREL", "AESER", "AEACN", "AEOUT"]


def ae_listing(adae: pd.DataFrame, rows: pd.Series, empty: str) -> pd.DataFrame:
    """Treatment-emergent AEs selected by ``rows`` (a boolean mask of ``adae``), by patient and
    onset; a one-row null report saying ``empty`` when none is selected."""
    a = adae[rows & (adae.TRTEMFL == "Y")]
    if a.empty:
        return pd.DataFrame({"Listing": [empty]})
    return a[AE_LISTING_COLUMNS].sort_values(["USUBJID", "ASTDY"]).reset_index(drop=True)


def severe_ae_listing(adae: pd.DataFrame, min_grade: int = 3) -> pd.DataFrame:
    return ae_listing(adae, adae.AETOXGR >= min_grade,
                      f"No treatment-emergent adverse event of grade {min_grade} or higher.")


def serious_ae_listing(adae: pd.DataFrame) -> pd.DataFrame:
    return ae_listing(adae, adae.AESER == "Y", "No serious treatment-emergent adverse event.")
