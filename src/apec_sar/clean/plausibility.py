"""Plausibility: values that parse and lie in their dictionary range but cannot be true.

Rules (registry ids in brackets):
- [D03] No dated record before the patient's birth date (its first possible day): one of the
  two dates is wrong and nothing tells which, and either one moves an endpoint or the
  eligibility by age, so the run stops.
- [P02] Age at the first dose (else at screening), in completed years, outside 18-100: queried
  and kept as collected (a patient under 18 fails inclusion 1 in the CONSORT flow, visibly).
- [P03] A target-lesion sum at least ``factor`` (5) times, or at most 1/``factor`` of, each
  neighbouring value of the patient's own series in date order (series of 3 or more non-zero
  sums; a first or last value has one neighbour, and counts only if that neighbour agrees with
  its own): a shifted decimal. Set to missing, queried.
  In the calibrated extract the largest ratio between consecutive sums is about 2.5.
- [P04] A study-drug dose outside [0.5 x lowest, 1.5 x highest] of the drug's prescribed doses
  (data dictionary ``exposure.prescribed_dose_mg``): set to missing, queried. A drug with no
  prescribed dose declared stops the run (the check could not be made).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..dictionary import prescribed_doses
from . import dates as D
from .errors import DataError, QueryLog

AGE_RANGE = (18, 100)
SERIES_FACTOR = 5.0
DOSE_WINDOW = (0.5, 1.5)

# the dated columns of the harmonised tables that must not precede birth
EVENT_DATES = {
    "screening_log": ["SCREENDT"], "baseline_disease": ["DIAGNOSIS_DATE", "RESECTION_DATE"],
    "baseline_labs": ["LAB_DATE"], "prior_therapy": ["START_DATE", "END_DATE"],
    "exposure": ["START_DATE", "END_DATE"], "tumour_assessments": ["ASSESS_DATE"],
    "adverse_events": ["START_DATE", "END_DATE"], "follow_up": ["CONTACT_DATE", "DEATH_DATE"],
    "subsequent_therapy": ["START_DATE"],
}
RAW_NAME = {("screening_log", "SCREENDT"): "SCREEN_DATE"}


def completed_years(birth: pd.Series, ref: pd.Series) -> pd.Series:
    """Completed years between two dates (NA if either is missing)."""
    years = ref.dt.year - birth.dt.year
    before = (ref.dt.month < birth.dt.month) | ((ref.dt.month == birth.dt.month) & (ref.dt.day < birth.dt.day))
    return (years - before.astype(int)).astype("Int64")


def check_dates_not_before_birth(tables: dict[str, pd.DataFrame], raw: dict[str, pd.DataFrame]) -> None:
    """Rule D03 over every dated column of the harmonised ``tables`` (SUBJID level); ``raw``
    gives the values as sent for the message."""
    dm = tables["demographics"]
    birth = dm.drop_duplicates("SUBJID").set_index("SUBJID").BIRTH_DATE
    for f, cols in EVENT_DATES.items():
        t = tables[f]
        b = t.SUBJID.map(birth)
        for c in cols:
            bad = np.flatnonzero((t[c] < b).fillna(False).to_numpy())
            if len(bad):
                i = bad[0]
                row = int(t.SRC_ROW.iloc[i])
                col = RAW_NAME.get((f, c), c)
                sent = raw[f].set_index("SRC_ROW")[col].astype(object).get(row)
                raise DataError(f, row, col, "date before birth",
                                f"{t[c].iloc[i].date()} is before the birth date {b.iloc[i].date()} of "
                                f"{t.SUBJID.iloc[i]} (demographics)", value=sent,
                                other_rows=t.SRC_ROW.to_numpy()[bad[1:]])


def query_implausible_age(scr: pd.DataFrame, dm: pd.DataFrame, trt: pd.DataFrame, log: QueryLog,
                          age_range=AGE_RANGE) -> None:
    """Rule P02: age at the first dose (else screening) outside ``age_range`` -> query on the
    birth date, kept as collected."""
    s = scr.set_index("SUBJID")
    d = dm.set_index("SUBJID").reindex(s.index)
    ref = trt.TRTSDT.reindex(s.index).fillna(s.SCREENDT)
    age = completed_years(d.BIRTH_DATE, ref)
    lo, hi = age_range
    bad = (age < lo) | (age > hi)
    bad = bad.fillna(False).to_numpy(dtype=bool)
    if not bad.any():
        return
    sub = d[bad]
    a = age[bad].to_numpy()
    when = np.where(trt.TRTSDT.reindex(s.index).notna().to_numpy()[bad], "the first dose", "screening")
    consequence = np.where(a < lo, "fails inclusion 1 (aged 18 or older): excluded in the CONSORT flow",
                           "the patient stays in the analysis")
    log.add("demographics", sub.SRC_ROW.to_numpy(), sub.index.to_numpy(), "BIRTH_DATE", "implausible age",
            D.iso(D.day_numbers(sub.BIRTH_DATE)),
            [f"kept as collected: age {x} at {w} (plausible {lo}-{hi}); {c}; site to confirm the birth date"
             for x, w, c in zip(a, when, consequence)])


def query_series_outliers(ta: pd.DataFrame, log: QueryLog, column: str = "TARGET_SUM_MM",
                          factor: float = SERIES_FACTOR) -> pd.DataFrame:
    """Rule P03 on the harmonised tumour assessments: returns them with the outliers set to
    missing (each queried)."""
    t = ta[["SUBJID", "ASSESS_DATE", column]].assign(_i=np.arange(len(ta)))
    t = t[t[column].notna() & (t[column] > 0)].sort_values(["SUBJID", "ASSESS_DATE", "_i"], kind="stable")
    g = t.groupby("SUBJID", sort=False)[column]
    n = g.transform("size").to_numpy()
    v = t[column].to_numpy(dtype=float)
    prev, nxt = g.shift(1).to_numpy(dtype=float), g.shift(-1).to_numpy(dtype=float)
    prev2, nxt2 = g.shift(2).to_numpy(dtype=float), g.shift(-2).to_numpy(dtype=float)

    def far(a, b):  # -1 far below, +1 far above, 0 neither or no neighbour
        with np.errstate(invalid="ignore"):
            return np.where(a >= factor * b, 1, np.where(a * factor <= b, -1, 0))

    fp, fn = far(v, prev), far(v, nxt)
    middle = ~np.isnan(prev) & ~np.isnan(nxt) & (fp != 0) & (fp == fn)
    # an end value has one neighbour: an outlier only if that neighbour agrees with its own neighbour
    first = np.isnan(prev) & (fn != 0) & (far(nxt, nxt2) == 0)
    last = np.isnan(nxt) & (fp != 0) & (far(prev, prev2) == 0)
    out = (n >= 3) & (middle | first | last)
    idx = t._i.to_numpy()[out]
    if not len(idx):
        return ta
    ta = ta.copy()
    def shown(x):
        return "-" if np.isnan(x) else f"{x:g}"

    log.add("tumour_assessments", ta.SRC_ROW.to_numpy()[idx], ta.SUBJID.to_numpy()[idx], column,
            "outlier in the patient's series", ta[column].to_numpy()[idx].astype(object),
            [f"set to missing: at least {factor:g} times, or at most a fifth of, each neighbouring value "
             f"(previous/next {shown(p)}/{shown(q)}); site to confirm" for p, q in zip(prev[out], nxt[out])])
    vals = ta[column].to_numpy(dtype=float).copy()
    vals[idx] = np.nan
    ta[column] = vals
    return ta


def query_dose_outside_prescribed(file: str, df: pd.DataFrame, inn: np.ndarray, dose: np.ndarray, log: QueryLog,
                                  prescribed: dict[str, list[float]] | None = None,
                                  window=DOSE_WINDOW) -> np.ndarray:
    """Rule P04: returns ``dose`` with values outside the drug's prescribed window set to
    missing (each queried)."""
    pres = prescribed_doses() if prescribed is None else prescribed
    drugs = pd.Series(inn, dtype=object)
    unknown = np.flatnonzero(~drugs.isin(list(pres)).to_numpy())
    if len(unknown):
        i = unknown[0]
        raise DataError(file, int(df.SRC_ROW.iloc[i]), "DOSE", "dose outside the prescribed range",
                        f"no prescribed dose declared for {inn[i]} in data/data_dictionary.yml "
                        "(exposure.prescribed_dose_mg)", value=df.DOSE.iloc[i],
                        todo="declare the drug's prescribed doses in data/data_dictionary.yml")
    lo = drugs.map({k: window[0] * min(v) for k, v in pres.items()}).to_numpy(dtype=float)
    hi = drugs.map({k: window[1] * max(v) for k, v in pres.items()}).to_numpy(dtype=float)
    bad = np.flatnonzero(~np.isnan(dose) & ((dose < lo) | (dose > hi)))
    if not len(bad):
        return dose
    log.add(file, df.SRC_ROW.to_numpy()[bad], df.SUBJID.astype(object).to_numpy()[bad], "DOSE",
            "dose outside the prescribed range", df.DOSE.astype(object).to_numpy()[bad],
            [f"set to missing: {inn[i]} is prescribed at {'/'.join(f'{x:g}' for x in pres[inn[i]])} mg "
             f"(plausible {lo[i]:g}-{hi[i]:g}); the course counts in days on drug, not in the cumulative dose; "
             "site to confirm" for i in bad])
    dose = dose.copy()
    dose[bad] = np.nan
    return dose
