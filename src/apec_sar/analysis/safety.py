"""Safety summaries (AET01 / AET02 / AET04 layouts) into the ARD."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..ard import ARD

GRADE_GROUPS = {"Any grade": [1, 2, 3, 4, 5], "Grade 1-2": [1, 2], "Grade 3-4": [3, 4], "Grade 5": [5]}


def overview(adae: pd.DataFrame, adsl: pd.DataFrame, output_id: str, flag: str = "SAFFL",
             population: str = "Safety set") -> ARD:
    """AET01: patients with at least one event of each kind (the safety set; ``flag`` EFFFL:
    the eligible patients, the publication's safety population)."""
    ard = ARD()
    saf = adsl[adsl[flag] == "Y"]
    n = len(saf)
    te = adae[(adae.TRTEMFL == "Y") & adae.USUBJID.isin(saf.USUBJID)]
    rel = te[te.AREL == "Y"]
    items = {
        "Any TEAE": te, "Treatment-related AE": rel,
        "Grade 3-4 TEAE": te[te.AETOXGR.isin([3, 4])], "Grade 3-4 treatment-related AE": rel[rel.AETOXGR.isin([3, 4])],
        "Serious TEAE": te[te.AESER == "Y"], "Immune-related AE": te[te.AEIRFL == "Y"],
        "AE leading to dose reduction": te[te.AEACN == "Dose reduced"],
        "AE leading to interruption": te[te.AEACN == "Drug interrupted"],
        "AE leading to withdrawal": te[te.AEACN == "Drug withdrawn"],
        "Grade 5 (fatal) AE": te[te.AETOXGR == 5], "Treatment-related death": rel[rel.AETOXGR == 5],
    }
    ard.add(output_id, "AE overview", population, "ALL", "All", "N", n)
    for label, d in items.items():
        k = d.USUBJID.nunique()
        ard.add(output_id, "AE overview", population, label, "All", "n", k)
        ard.add(output_id, "AE overview", population, label, "All", "pct", 100 * k / n if n else np.nan)
    deaths = saf[saf.DTHFL == "Y"]
    ard.add(output_id, "deaths", population, "Deaths", "All", "n", len(deaths))
    for cause, k in deaths.DTHCAUS.value_counts().sort_index().items():
        ard.add(output_id, "deaths", population, "Deaths", cause, "n", int(k))
    return ard


def by_term_grade(adae: pd.DataFrame, adsl: pd.DataFrame, output_id: str, related_only: bool = True,
                  by: str = "AEDECOD") -> ARD:
    """AET04-style: patients by term (or SOC) and maximum grade, counted once per term at
    their worst grade."""
    ard = ARD()
    saf = adsl[adsl.SAFFL == "Y"]
    n = len(saf)
    te = adae[(adae.TRTEMFL == "Y") & adae.USUBJID.isin(saf.USUBJID)]
    if related_only:
        te = te[te.AREL == "Y"]
    what = "treatment-related AE" if related_only else "TEAE"
    worst = te.groupby([by, "USUBJID"]).AETOXGR.max().reset_index()
    ard.add(output_id, f"{what} by {by} and maximum grade", "Safety set", "ALL", "All", "N", n)
    for term, g in worst.groupby(by, sort=True):
        for label, grades in GRADE_GROUPS.items():
            k = int(g.AETOXGR.isin(grades).sum())
            ard.add(output_id, f"{what} by {by} and maximum grade", "Safety set", term, label, "n", k)
            ard.add(output_id, f"{what} by {by} and maximum grade", "Safety set", term, label, "pct",
                    100 * k / n if n else np.nan)
    return ard


def term_grade_table(ard: pd.DataFrame, min_pct: float = 0.0) -> pd.DataFrame:
    """Rows: terms by descending any-grade frequency (then name); columns: n (%) per grade group."""
    from ..stats.rounding import fmt
    a = ard[ard.PARAMETER != "ALL"]
    if a.empty:
        return pd.DataFrame({"Term": ["No events"], **{g: [""] for g in GRADE_GROUPS}})
    wide = a.pivot_table(index=["PARAMETER", "GROUP"], columns="STAT", values="VALUE").reset_index()
    anyg = wide[wide.GROUP == "Any grade"].set_index("PARAMETER")["n"]
    order = sorted(anyg.index, key=lambda t: (-anyg[t], t))
    rows = []
    for t in order:
        if 100 * anyg[t] / max(int(ard[ard.STAT == "N"].VALUE.iloc[0]), 1) < min_pct:
            continue
        r = {"Term": t}
        for gname in GRADE_GROUPS:
            w = wide[(wide.PARAMETER == t) & (wide.GROUP == gname)].iloc[0]
            r[gname] = f"{int(w['n'])} ({fmt(w['pct'], 1)})"
        rows.append(r)
    return pd.DataFrame(rows)


def grade_counts(adae: pd.DataFrame, adsl: pd.DataFrame, top: int = 12) -> pd.DataFrame:
    """Patients by worst grade per treatment-related term (the numbers behind the AE chart)."""
    saf = adsl[adsl.SAFFL == "Y"]
    te = adae[(adae.TRTEMFL == "Y") & (adae.AREL == "Y") & adae.USUBJID.isin(saf.USUBJID)]
    worst = te.groupby(["AEDECOD", "USUBJID"]).AETOXGR.max().reset_index()
    t = worst.pivot_table(index="AEDECOD", columns="AETOXGR", values="USUBJID", aggfunc="count", fill_value=0)
    t.columns = [f"G{c}" for c in t.columns]
    t["ANY"] = t.sum(axis=1)
    return t.sort_values(["ANY"], ascending=False, kind="stable").head(top)


def overview_table(ard: pd.DataFrame) -> pd.DataFrame:
    """AET01 rows from :func:`overview` ARD rows: patients with at least one event, n (%)."""
    from ..stats.rounding import fmt
    o = ard[(ard.ANALYSIS == "AE overview") & (ard.PARAMETER != "ALL")]
    n = int(ard[(ard.ANALYSIS == "AE overview") & (ard.STAT == "N")].VALUE.iloc[0])
    rows = o.pivot(index="PARAMETER", columns="STAT", values="VALUE").reindex(o.PARAMETER.unique())
    return pd.DataFrame({"Patients with at least one": rows.index,
                         f"n (%), N = {n}": [f"{int(r.n)} ({fmt(r.pct, 1)})" for r in rows.itertuples()]})
