"""Summaries for notebooks 01-02: raw inventory, data checks, query log, populations, derivation checks."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ..clean import registry
from ..derive.tte import CNSR_TEXT
from ..io import read_raw


def raw_inventory(raw: Path, dictionary: dict) -> pd.DataFrame:
    """Rows and columns of every raw file, read through the validated reader (so a raw-data
    problem stops here with its DataError, and rows are counted as the reconciliation counts
    them: data rows, blank lines not counted)."""
    rows = []
    for f, spec in dictionary["files"].items():
        df = read_raw(Path(raw), f)
        rows.append({"FILE": f"{f}.csv", "ROWS": len(df), "COLUMNS": len(spec["columns"]),
                     "IDENTIFIER_COLUMNS": sum(1 for c in spec["columns"].values()
                                               if c.get("role") == "direct_identifier"),
                     "DESCRIPTION": " ".join(str(spec["description"]).split())[:80]})
    return pd.DataFrame(rows)


def checks_table() -> pd.DataFrame:
    """The data checks (registry): id, class, rule, what it looks for, outcome and action."""
    return registry.checks_table()


def queries_by_rule(queries: pd.DataFrame) -> pd.DataFrame:
    """Queries of the current extract grouped by rule: how many, in which files, for how many
    patients, and the action the rule takes (registry order)."""
    cols = ["CHECK", "RULE", "QUERIES", "PATIENTS", "FILES", "ACTION"]
    if queries.empty:
        return pd.DataFrame({c: [] for c in cols})
    order = {c.id: i for i, c in enumerate(registry.CHECKS)}
    g = queries.groupby(["CHECK", "RULE"], sort=False)
    out = pd.DataFrame({"QUERIES": g.size(), "PATIENTS": g.SUBJID.nunique(),
                        "FILES": g.FILE.agg(lambda f: ", ".join(sorted(set(f))))}).reset_index()
    out["ACTION"] = out.RULE.map(lambda r: registry.check_of(r).action)
    out = out.sort_values("CHECK", key=lambda c: c.map(order), kind="stable")
    return out[cols].reset_index(drop=True)


def query_summary(queries: pd.DataFrame) -> pd.DataFrame:
    if queries.empty:
        return pd.DataFrame({"RULE": [], "TOTAL": []})
    t = queries.pivot_table(index="RULE", columns="FILE", values="ROW", aggfunc="count", fill_value=0)
    t["TOTAL"] = t.sum(axis=1)
    return t.reset_index().rename_axis(columns=None)


def query_listing(queries: pd.DataFrame, key: pd.DataFrame) -> pd.DataFrame:
    """Queries other than rejected duplicate rows, with the pseudonym instead of the site id."""
    q = queries[queries.RULE != "duplicate patient"].copy()
    q.insert(2, "USUBJID", q.SUBJID.map(dict(zip(key.SUBJID, key.USUBJID))).fillna("-"))
    return q.drop(columns=["SUBJID"]).reset_index(drop=True)


def populations(adsl: pd.DataFrame) -> pd.DataFrame:
    """The analysis populations with their size and definition (ADSL flags)."""
    rows = [("Patients screened (unique)", len(adsl), "every patient of the screening log, after de-duplication"),
            ("Analysis set (EFFFL)", int((adsl.EFFFL == "Y").sum()),
             "every eligibility criterion met (all were treated); the population of every efficacy analysis"),
            ("Response-evaluable set (RSEVALFL)", int((adsl.RSEVALFL == "Y").sum()),
             "analysis set with measurable disease at baseline and at least one post-baseline tumour assessment"),
            ("Safety set (SAFFL)", int((adsl.SAFFL == "Y").sum()),
             "every screened patient who received at least one dose of either study drug, analysed as treated")]
    return pd.DataFrame(rows, columns=["POPULATION", "N", "DEFINITION"])


def bor_counts(adrs: pd.DataFrame) -> pd.DataFrame:
    order = ["CR", "PR", "SD", "NON-CR/NON-PD", "PD", "NE", "MISSING"]
    out = {}
    for p in ("BOR", "CBOR"):
        out[p] = adrs[adrs.PARAMCD == p].AVALC.value_counts().reindex(order, fill_value=0)
    df = pd.DataFrame(out)
    df.index.name = "RESPONSE"
    return df.reset_index()


def tte_counts(adtte: pd.DataFrame) -> pd.DataFrame:
    g = adtte.groupby("PARAMCD", sort=True)
    df = pd.DataFrame({"N": g.size(), "EVENTS": g.CNSR.agg(lambda c: int((c == 0).sum())),
                       "CENSORED": g.CNSR.agg(lambda c: int((c > 0).sum()))})
    reasons = adtte[adtte.CNSR > 0].groupby(["PARAMCD", "CNSR"]).size().unstack(fill_value=0)
    reasons.columns = [f"CNSR={c}" for c in reasons.columns]
    df = df.join(reasons).fillna(0).astype(int).reset_index()
    return df


def cnsr_legend() -> pd.DataFrame:
    return pd.DataFrame({"CNSR": list(CNSR_TEXT), "MEANING": list(CNSR_TEXT.values())})


def trae_overview(adae: pd.DataFrame) -> pd.DataFrame:
    te = adae[(adae.TRTEMFL == "Y") & (adae.SAFFL == "Y")]
    rel = te[te.AREL == "Y"]
    rows = [("Patients with any TEAE", te.USUBJID.nunique()),
            ("Patients with a treatment-related AE", rel.USUBJID.nunique()),
            ("Patients with a grade 3-4 treatment-related AE", rel[rel.AETOXGR.isin([3, 4])].USUBJID.nunique()),
            ("Patients with a grade 5 AE", te[te.AETOXGR == 5].USUBJID.nunique())]
    top = rel.groupby("AEDECOD").USUBJID.nunique().sort_values(ascending=False, kind="stable").head(3)
    rows += [(f"Treatment-related: {t}", int(n)) for t, n in top.items()]
    return pd.DataFrame(rows, columns=["MEASURE", "PATIENTS"])


def ne_reasons(adrs: pd.DataFrame) -> pd.DataFrame:
    b = adrs[adrs.PARAMCD.isin(["BOR", "CBOR"]) & adrs.AVALC.isin(["NE", "MISSING"])]
    return b[["USUBJID", "PARAMCD", "AVALC", "NE_REASON"]].reset_index(drop=True)


def queries_ard(by_rule: pd.DataFrame, output_id: str):
    """:func:`queries_by_rule` as ARD rows (PARAMETER = the check id, STAT QUERIES and
    PATIENTS), so the results text can say how many queries a rule raised."""
    from ..ard import ARD
    ard = ARD()
    for r in by_rule.itertuples():
        for stat in ("QUERIES", "PATIENTS"):
            ard.add(output_id, "queries by rule", "Screened", r.CHECK, "All", stat, int(getattr(r, stat)),
                    f"queries of rule {r.CHECK} ({r.RULE}) on the current extract")
    return ard
