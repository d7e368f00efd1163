"""Derive the ADaM-style analysis datasets from the clean extract at a data cut-off, with the
CONSORT flow and the record reconciliation (every raw record analysed, excluded with a reason,
or rejected by a query)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..clean.extract import CleanResult
from ..io import write_dataset
from . import cohort, response, safety, tte

DESCRIPTIONS = {
    "adsl": "ADSL: one row per screened patient (pseudonymised USUBJID): baseline characteristics, prior "
            "therapy, study treatment dates, death and last-known-alive dates at the cut-off, eligibility "
            "(ELIGFL, first failed criterion EXCLCRIT/EXCLREAS) and population flags (EFFFL, SAFFL).",
    "adrs": "ADRS: investigator overall response per visit (PARAMCD OVR) with analysis flags ANL01FL (one worst "
            "record per date on/after the first dose), ANL02FL (up to first PD), ANL03FL (before new anticancer "
            "therapy); derived BOR (unconfirmed, primary) and CBOR (confirmed) with the NE/MISSING reason. "
            "Analysed patients only.",
    "adtr": "ADTR: sum of target-lesion diameters per assessment with baseline, change, percent change and "
            "nadir; ANL01FL marks post-baseline records up to first PD and before new therapy. Analysed patients.",
    "adtte": "ADTTE: PFS (primary), PFSNACT (censored at new therapy), PFSMISS (FDA >=2 missed assessments), OS, "
             "DOR and TTR (responders). AVAL in days = ADT - STARTDT + 1; CNSR 0 = event; EVNTDESC/CNSDTDSC and "
             "the source of the date. Analysed patients.",
    "adae": "ADAE: adverse events with CTCAE v5 term and SOC, grade, imputed dates with flags, treatment-emergent "
            "flag (onset from first dose to 30 days after the last), relatedness (AREL) and immune-related "
            "flag (AEIRFL). Analysed patients.",
    "adex": "ADEX: one row per analysed patient: cycles, treatment duration, anlotinib days, cumulative dose, "
            "dose intensity and relative dose intensity (vs 12 mg d1-14 q21d), reductions, delays, PD-1 agent "
            "and number of infusions.",
}


@dataclass
class Derived:
    datasets: dict[str, pd.DataFrame]
    consort: pd.DataFrame
    reconciliation: pd.DataFrame
    eligibility: pd.DataFrame
    crpr: pd.DataFrame
    cutoff: dt.date


def derive_all(clean: CleanResult, cutoff: dt.date) -> Derived:
    cut, excl_cutoff = cohort.apply_cutoff(clean.tables, cutoff)
    facts = cohort.subject_facts(cut, cutoff)
    elig = cohort.eligibility(facts)
    adsl = cohort.build_adsl(facts, elig)
    analysed = set(adsl.USUBJID[adsl.EFFFL == "Y"])
    a_adsl = adsl[adsl.EFFFL == "Y"]

    ta = cut["tumour_assessments"]
    ta = ta[ta.USUBJID.isin(analysed)]
    ovr = ta[ta.VISIT != "Baseline"].rename(columns={"ASSESS_DATE": "ADT", "ASSESS_DATE_F": "ADTF",
                                                    "INV_RESPONSE": "AVALC"})
    ovr = response.flag_records(ovr[["USUBJID", "VISIT", "ADT", "ADTF", "AVALC", "SRC_ROW"]], a_adsl)
    bor = response.derive_bor(ovr, a_adsl)
    cbor = response.derive_confirmed_bor(ovr, a_adsl)
    adrs = pd.concat([
        ovr.assign(PARAMCD="OVR", PARAM="Overall response by investigator (RECIST 1.1)"),
        bor.assign(PARAMCD="BOR", PARAM="Best overall response (unconfirmed)"),
        cbor.assign(PARAMCD="CBOR", PARAM="Best overall response (confirmed)"),
    ], ignore_index=True)
    adrs = adrs[["USUBJID", "PARAMCD", "PARAM", "VISIT", "ADT", "ADTF", "AVALC", "ANL01FL", "ANL02FL", "ANL03FL",
                 "NE_REASON", "SRC_ROW"]]
    adrs = adrs.sort_values(["USUBJID", "PARAMCD", "ADT"], kind="stable").reset_index(drop=True)

    adtr = _adtr(ta, ovr)
    adtte = pd.concat([tte.derive_pfs(a_adsl, ovr), tte.derive_pfs(a_adsl, ovr, "nact"),
                       tte.derive_pfs(a_adsl, ovr, "missed"), tte.derive_os(a_adsl),
                       tte.derive_dor(a_adsl, ovr, bor), tte.derive_ttr(a_adsl, bor)], ignore_index=True)
    adtte = adtte.sort_values(["PARAMCD", "USUBJID"], kind="stable").reset_index(drop=True)
    ae = cut["adverse_events"]
    adae = safety.build_adae(ae[ae.USUBJID.isin(analysed)], a_adsl)
    ex = cut["exposure"]
    adex = safety.build_adex(ex[ex.USUBJID.isin(analysed)], a_adsl)

    n_dup = int((clean.queries.RULE == "duplicate patient").loc[clean.queries.FILE == "screening_log"].sum())
    cons = cohort.consort(elig, len(facts) + n_dup, n_dup)
    recon = _reconcile(clean, cut, adsl, cutoff)
    datasets = {"adsl": adsl, "adrs": adrs, "adtr": adtr, "adtte": adtte, "adae": adae, "adex": adex}
    return Derived(datasets, cons, recon, elig, response.cr_followed_by_pr(ovr), cutoff)


def _adtr(ta: pd.DataFrame, ovr: pd.DataFrame) -> pd.DataFrame:
    t = ta[["USUBJID", "VISIT", "ASSESS_DATE", "TARGET_SUM_MM", "SRC_ROW"]].rename(
        columns={"ASSESS_DATE": "ADT", "TARGET_SUM_MM": "AVAL"}).sort_values(["USUBJID", "ADT"], kind="stable")
    base = t[t.VISIT == "Baseline"].groupby("USUBJID").AVAL.last()
    t["BASE"] = t.USUBJID.map(base)
    t["CHG"] = t.AVAL - t.BASE
    t["PCHG"] = (100 * t.CHG / t.BASE).round(2)
    t["ABLFL"] = np.where(t.VISIT == "Baseline", "Y", None)
    flags = ovr[["USUBJID", "ADT", "ANL01FL", "ANL02FL", "ANL03FL"]]
    flags = flags[flags.ANL01FL == "Y"]
    t = t.merge(flags, on=["USUBJID", "ADT"], how="left")
    t["ANL01FL"] = np.where((t.ANL01FL == "Y") & (t.ANL02FL == "Y") & (t.ANL03FL == "Y") & t.AVAL.notna(), "Y", None)
    t = t.drop(columns=["ANL02FL", "ANL03FL"])
    post = t[t.ANL01FL == "Y"].sort_values(["USUBJID", "ADT"])
    t["NADIR"] = np.nan
    t.loc[post.index, "NADIR"] = np.minimum(post.groupby("USUBJID").AVAL.cummin(), post.BASE)
    t["PARAMCD"] = "SUMDIAM"
    return t.reset_index(drop=True)


def _reconcile(clean: CleanResult, cut: dict[str, pd.DataFrame], adsl: pd.DataFrame, cutoff) -> pd.DataFrame:
    eligible = set(adsl.USUBJID[adsl.EFFFL == "Y"])
    rows = []
    for _, r in clean.reconciliation.iterrows():
        f = r.FILE
        kept = clean.tables[f]
        sf = ~kept.USUBJID.isin(eligible)
        after = ~kept.SRC_ROW.isin(cut[f].SRC_ROW)
        rows.append({"FILE": f"{f}.csv", "RECORDS_IN": int(r.RECORDS_IN), "REJECTED_BY_QUERY": int(r.REJECTED),
                     "EXCLUDED_SCREEN_FAILURE": int(sf.sum()), "EXCLUDED_AFTER_CUTOFF": int((~sf & after).sum()),
                     "ANALYSED": int((~sf & ~after).sum())})
    df = pd.DataFrame(rows)
    df["RECONCILES"] = np.where(df.RECORDS_IN == df.REJECTED_BY_QUERY + df.EXCLUDED_SCREEN_FAILURE
                                + df.EXCLUDED_AFTER_CUTOFF + df.ANALYSED, "yes", "NO")
    return df


def write_all(d: Derived, clean: CleanResult, out: Path) -> list[Path]:
    """Write the datasets (parquet, with descriptions) and the cleaning/derivation tables (CSV)."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, df in d.datasets.items():
        p = out / f"{name}.parquet"
        write_dataset(df, p, DESCRIPTIONS[name])
        paths.append(p)
    for name, df in [("query_log", clean.queries), ("harmonisation", clean.harmonised), ("consort", d.consort),
                     ("reconciliation", d.reconciliation)]:
        p = out / f"{name}.csv"
        df.to_csv(p, index=False, lineterminator="\n")
        paths.append(p)
    lines = ["# Derived analysis datasets (regenerated by `make report`; not committed)", "",
             f"Data cut-off: {d.cutoff.isoformat()}", ""]
    for name, df in d.datasets.items():
        lines += [f"## {name}.parquet ({len(df)} rows, {df.shape[1]} columns)", "", DESCRIPTIONS[name], "",
                  "Columns: " + ", ".join(df.columns), ""]
    (out / "datasets.md").write_text("\n".join(lines), encoding="utf-8")
    return paths
