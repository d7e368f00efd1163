"""Per-file harmonisation: site conventions -> canonical values, each rule one function.

Rules (registry ids in brackets; see :mod:`apec_sar.clean.registry`):
- Dates: every site format -> ISO date; a string that is not a calendar date stops [S08]; dates
  that must be complete (screening, study drug, assessments, labs, contacts) stop when partial
  [S09]. A date after the extract date [D02] stops the run where it anchors an endpoint's timeline
  (screening, birth, study drug, assessment, death), rejects an ALIVE/LOST contact, and is set to
  missing elsewhere (query). Partial dates are imputed (admiral ``derive_vars_dt``) [D01]: AE start
  first day (not before the first dose, not after death), AE end last day (not after death),
  death first day (not before the last date known alive), birth / diagnosis / resection / prior
  therapy start first day, prior therapy end last day (not after the day before the first dose),
  assessments last day, subsequent therapy start first day (not before the day after the last
  dose); each flagged ``<COL>_F`` (D or M) and queried.
- Codes, drug names, verbatim AE terms, lab units: mapped through ``data/mappings`` [M01-M04].
- Out-of-range values (dictionary ranges) set to missing [P01]; expected baseline values that
  are missing are queried [P05]; doses outside the prescribed range set to missing [P04].
- Follow-up: a death date only on DEAD rows [S11, S12], one death per subject [C01], an ALIVE
  contact after the date of death rejected [D04].
- AE: an end before the start (both complete) -> end set to missing [D04].
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from ..dictionary import extract_date, load_dictionary
from . import dates as D
from . import mappings as M
from .errors import DataError, QueryLog
from .plausibility import query_dose_outside_prescribed

YN = {"demographics": ["SMOKING", "ALCOHOL", "PREGNANT"],
      "baseline_disease": ["PRIOR_RESECTION", "PRIOR_RADIOTHERAPY", "OTHER_MALIGNANCY_5Y", "UNSTABLE_SYSTEMIC_DISEASE"],
      "tumour_assessments": ["NEW_LESION"],
      "adverse_events": ["IRAE_INV", "SYSTEMIC_STEROID", "HORMONE_REPLACEMENT", "SERIOUS"]}
EXPECTED_PRESENT = {"demographics": ["SMOKING", "ALCOHOL", "HEIGHT_CM", "WEIGHT_KG"]}


def _spec(file: str) -> dict:
    return load_dictionary()["files"][file]["columns"]


def _rows(df: pd.DataFrame, idx) -> np.ndarray:
    return df.SRC_ROW.to_numpy()[idx]


def _subjects(df: pd.DataFrame, idx) -> np.ndarray:
    return df.SUBJID.astype(object).to_numpy()[idx]


def _raw(df: pd.DataFrame, col: str, idx) -> np.ndarray:
    return df[col].astype(object).to_numpy()[idx]


def text(df: pd.DataFrame, col: str) -> pd.Series:
    """A raw column as an object Series (None for empty); a categorical one from its categories
    (as ``astype(object)`` then ``where``, in one pass)."""
    s = df[col]
    if isinstance(s.dtype, pd.CategoricalDtype):
        return pd.Series(_per_row(s, s.cat.categories.to_numpy(dtype=object), None), index=s.index, name=s.name,
                         dtype=object)
    return s.astype(object).where(s.notna(), None)


def extract_day() -> np.int64:
    """The extract date of the data dictionary as a day number."""
    return np.int64((np.datetime64(extract_date()) - np.datetime64("1970-01-01")).astype(np.int64))


# -- dates --------------------------------------------------------------------------------------

ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _per_row(values: pd.Series, per_category, missing) -> np.ndarray:
    """What was computed once per category of the categorical ``values`` (in category order),
    one entry per row; ``missing`` for a missing value."""
    return np.append(np.asarray(per_category), missing)[values.cat.codes.to_numpy()]


def _matches(values: pd.Series, pattern: re.Pattern) -> np.ndarray:
    """Whether each value matches ``pattern`` (a missing value: True), once per category."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        return _per_row(values, np.array([pattern.match(c) is not None for c in values.cat.categories], bool), True)
    return values.str.match(pattern.pattern).astype("boolean").fillna(True).to_numpy(dtype=bool)


def parse_site_dates(file: str, df: pd.DataFrame, col: str, log: QueryLog, complete: bool = False,
                     count: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Parse a date column in any site format (S08); with ``complete``, a partial date stops
    the run (S09). Counts the cells converted to ISO in the harmonisation summary."""
    raw = df[col]
    days, prec = D.parse(raw)
    bad = np.flatnonzero(prec == D.INVALID)
    if len(bad):
        raise DataError(file, int(_rows(df, bad[0])), col, "valid date", "not a calendar date in any site format",
                        value=raw.iloc[bad[0]], other_rows=_rows(df, bad[1:]))
    if complete:
        part = np.flatnonzero((prec == D.MONTH) | (prec == D.YEAR))
        if len(part):
            raise DataError(file, int(_rows(df, part[0])), col, "complete date", "partial; this date must be complete",
                            value=raw.iloc[part[0]], other_rows=_rows(df, part[1:]))
    if count:
        iso_like = _matches(raw, ISO_DATE)
        log.note(file, col, "date format -> ISO 8601", int(np.sum((prec == D.FULL) & ~iso_like)))
    return days, prec


def check_dates_not_after_extract(file: str, df: pd.DataFrame, col: str, days: np.ndarray, prec: np.ndarray,
                                  log: QueryLog, on_fail, consequence: str = "",
                                  extract: np.int64 | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rule D02: no record can be dated after the extract date (a partial date: its first
    possible day). ``on_fail`` (one value, or one per row): 'stop' raises DataError; 'missing'
    sets the date to missing with a query (``consequence`` says what that means); 'reject'
    returns the rows in the mask for the caller to reject. Returns (days, prec, reject mask)."""
    ext = extract_day() if extract is None else extract
    late = (days != D.MISSING) & (days > ext)
    action = np.broadcast_to(np.asarray(on_fail, dtype=object), days.shape)
    ext_iso = D.iso(np.array([ext]))[0]
    stop = np.flatnonzero(late & (action == "stop"))
    if len(stop):
        raise DataError(file, int(_rows(df, stop[0])), col, "date after the extract",
                        f"after the extract date {ext_iso} (data/data_dictionary.yml, extract.date)",
                        value=df[col].iloc[stop[0]], other_rows=_rows(df, stop[1:]))
    miss = np.flatnonzero(late & (action == "missing"))
    if len(miss):
        log.add(file, _rows(df, miss), _subjects(df, miss), col, "date after the extract", _raw(df, col, miss),
                f"set to missing: after the extract date {ext_iso}" + (f"; {consequence}" if consequence else ""))
        days, prec = days.copy(), prec.copy()
        days[miss], prec[miss] = D.MISSING, D.EMPTY
    return days, prec, late & (action == "reject")


def _bound_words(min_dates: dict | None, max_dates: dict | None) -> str:
    lo = [f"not before {k}" for k in (min_dates or {})]
    hi = [f"not after {k}" for k in (max_dates or {})]
    if lo and hi:
        return ", " + " and ".join(lo) + " nor " + " and ".join(hi)[4:]
    return ", " + " and ".join(lo + hi) if lo or hi else ""


def impute_partial_dates(file: str, df: pd.DataFrame, col: str, days: np.ndarray, prec: np.ndarray, log: QueryLog,
                         date_imputation: str = "first", min_dates: dict | None = None,
                         max_dates: dict | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Rule D01 (admiral ``derive_vars_dt``): impute the first or last possible day of a partial
    date, kept within ``min_dates`` / ``max_dates`` ({bound name: day numbers}) where the bound lies
    in the date's possible period; returns (dates, flag D/M/'') and queries each imputation,
    worded from the bound names."""
    lower = upper = None
    for bounds, pick in ((min_dates, np.maximum), (max_dates, np.minimum)):
        if bounds:
            vals = list(bounds.values())
            b = vals[0]
            for v in vals[1:]:
                b = np.where(b == D.MISSING, v, np.where(v == D.MISSING, b, pick(b, v)))
            if pick is np.maximum:
                lower = b
            else:
                upper = b
    out, flag = D.impute(days, prec, date_imputation, lower, upper)
    part = np.flatnonzero((prec == D.MONTH) | (prec == D.YEAR))
    if len(part):
        why = _bound_words(min_dates, max_dates)
        action = [f"imputed {date_imputation} possible day{why}: {v} (flag {f})"
                  for v, f in zip(D.iso(out[part]), flag[part])]
        log.add(file, _rows(df, part), _subjects(df, part), col, "partial date", _raw(df, col, part), action)
    return out, flag


def subject_days(df: pd.DataFrame, by_subject: pd.Series) -> np.ndarray:
    """Each row's subject-level date (e.g. first dose) as day numbers, MISSING if none."""
    return D.day_numbers(df.SUBJID.astype(object).map(by_subject))


# -- codes and numbers ------------------------------------------------------------------------------

def map_site_codes(file: str, df: pd.DataFrame, col: str, codelist: str, log: QueryLog) -> pd.Series:
    """Site codings (男/女, 1/2, 是/否 ...) -> canonical codes through data/mappings/codes.csv (M01)."""
    raw = text(df, col)
    out = M.map_codes(raw, codelist, file, col, df.SRC_ROW.to_numpy())
    log.note(file, col, f"{codelist} coding -> canonical", int(((raw != out) & raw.notna()).sum()))
    return out


def numeric(values: pd.Series) -> np.ndarray:
    """``pd.to_numeric(values.astype(object), errors="raise")`` as a new float array; a
    categorical's strings are parsed once per category (a dose or a lab value repeats)."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        cats = pd.to_numeric(values.cat.categories.to_numpy(dtype=object), errors="raise")
        return _per_row(values, np.asarray(cats, dtype=float), np.nan)
    return pd.to_numeric(values.astype(object), errors="raise").to_numpy(dtype=float, copy=True)


def numbers(file: str, df: pd.DataFrame, col: str, log: QueryLog, valid_range=None) -> np.ndarray:
    """A numeric column; with ``valid_range`` (lo, hi), values outside are set to missing and
    queried (rule P01)."""
    v = numeric(df[col])
    if valid_range is not None:
        lo, hi = valid_range
        out = np.flatnonzero(~np.isnan(v) & ((v < lo) | (v > hi)))
        if len(out):
            log.add(file, _rows(df, out), _subjects(df, out), col, "out of range", _raw(df, col, out),
                    f"set to missing (allowed {lo:g}-{hi:g}); site to confirm")
            v[out] = np.nan
    return v


def heights_in_cm(file: str, df: pd.DataFrame, log: QueryLog, valid_range) -> np.ndarray:
    """HEIGHT_CM. Rule P06: a value that is a plausible height in metres (the cm range / 100,
    e.g. 1.64) is read as metres and converted to cm (harmonisation note and a query for the site
    to confirm); anything else outside the range is set to missing (rule P01)."""
    lo, hi = valid_range
    v = numeric(df.HEIGHT_CM)
    metres = np.flatnonzero(~np.isnan(v) & (v >= lo / 100) & (v <= hi / 100))
    if len(metres):
        cm = np.round(v[metres] * 100, 1)
        log.add(file, _rows(df, metres), _subjects(df, metres), "HEIGHT_CM", "height in metres",
                _raw(df, "HEIGHT_CM", metres), [f"recorded in metres: converted to {x:g} cm; site to confirm" for x in cm])
        v[metres] = cm
    log.note(file, "HEIGHT_CM", "height in metres -> cm", len(metres))
    return numbers(file, df.assign(HEIGHT_CM=v), "HEIGHT_CM", log, valid_range)


def query_missing_values(file: str, df: pd.DataFrame, cols: list[str], log: QueryLog) -> None:
    """Rule P05: baseline values expected present but empty are kept missing and queried."""
    for col in cols:
        miss = np.flatnonzero(df[col].isna().to_numpy())
        log.add(file, _rows(df, miss), _subjects(df, miss), col, "missing value", None,
                "kept missing; site to complete")


def note_renamed_drugs(file: str, col: str, df: pd.DataFrame, drugs: pd.DataFrame, log: QueryLog) -> None:
    """Count the drug names written otherwise than as their INN (harmonisation summary)."""
    log.note(file, col, "drug name -> INN", int((drugs.INN.to_numpy() != df[col].astype(object).to_numpy()).sum()))


# -- files --------------------------------------------------------------------------------------------

def harmonise_screening(df: pd.DataFrame, log: QueryLog) -> pd.DataFrame:
    f = "screening_log"
    days, prec = parse_site_dates(f, df, "SCREEN_DATE", log, complete=True)
    check_dates_not_after_extract(f, df, "SCREEN_DATE", days, prec, log, "stop")
    return pd.DataFrame({"SRC_ROW": df.SRC_ROW, "SUBJID": text(df, "SUBJID"),
                         "SITEID": df.SITE_ID.astype(int), "SCREENDT": D.to_datetime(days)})


def harmonise_demographics(df: pd.DataFrame, log: QueryLog) -> pd.DataFrame:
    f = "demographics"
    bd, bp = parse_site_dates(f, df, "BIRTH_DATE", log)
    bd, bp, _ = check_dates_not_after_extract(f, df, "BIRTH_DATE", bd, bp, log, "stop")
    bd, bflag = impute_partial_dates(f, df, "BIRTH_DATE", bd, bp, log, "first")
    h = _spec(f)
    query_missing_values(f, df, EXPECTED_PRESENT[f], log)
    out = pd.DataFrame({"SRC_ROW": df.SRC_ROW, "SUBJID": text(df, "SUBJID"),
                        "BIRTH_DATE": D.to_datetime(bd), "BIRTH_DATE_F": bflag,
                        "SEX": map_site_codes(f, df, "SEX", "SEX", log), "ECOG": df.ECOG.astype(int)})
    for c in YN[f]:
        out[c] = map_site_codes(f, df, c, "YN", log)
    out["HEIGHT_CM"] = heights_in_cm(f, df, log, h["HEIGHT_CM"]["range"])
    out["WEIGHT_KG"] = numbers(f, df, "WEIGHT_KG", log, h["WEIGHT_KG"]["range"])
    return out[["SRC_ROW", "SUBJID", "BIRTH_DATE", "BIRTH_DATE_F", "SEX", "ECOG", "SMOKING", "ALCOHOL",
                "HEIGHT_CM", "WEIGHT_KG", "PREGNANT"]]


def harmonise_disease(df: pd.DataFrame, log: QueryLog) -> pd.DataFrame:
    f = "baseline_disease"
    out = {}
    for col in ("DIAGNOSIS_DATE", "RESECTION_DATE"):
        d, p = parse_site_dates(f, df, col, log)
        d, p, _ = check_dates_not_after_extract(f, df, col, d, p, log, "missing")
        out[col] = impute_partial_dates(f, df, col, d, p, log, "first")
    res = pd.DataFrame({"SRC_ROW": df.SRC_ROW, "SUBJID": text(df, "SUBJID"),
                        "DIAGNOSIS_DATE": D.to_datetime(out["DIAGNOSIS_DATE"][0]),
                        "DIAGNOSIS_DATE_F": out["DIAGNOSIS_DATE"][1],
                        "HISTOLOGY": text(df, "HISTOLOGY"), "PRIMARY_SITE": text(df, "PRIMARY_SITE"),
                        "DISEASE_STATUS": text(df, "DISEASE_STATUS"),
                        "RESECTION_DATE": D.to_datetime(out["RESECTION_DATE"][0]),
                        "RESECTION_DATE_F": out["RESECTION_DATE"][1],
                        "PDL1_CPS": numbers(f, df, "PDL1_CPS", log, _spec(f)["PDL1_CPS"]["range"]),
                        "BRAIN_METASTASIS": text(df, "BRAIN_METASTASIS")})
    for c in YN[f]:
        res[c] = map_site_codes(f, df, c, "YN", log)
    return res


def harmonise_codes(df: pd.DataFrame, log: QueryLog) -> pd.DataFrame:
    """A file of codes only (metastatic sites): values as objects."""
    out = df.copy()
    for c in out.columns:
        if c != "SRC_ROW":
            out[c] = text(df, c)
    return out


def harmonise_labs(df: pd.DataFrame, log: QueryLog) -> pd.DataFrame:
    f = "baseline_labs"
    days, prec = parse_site_dates(f, df, "LAB_DATE", log, complete=True)
    days, prec, _ = check_dates_not_after_extract(f, df, "LAB_DATE", days, prec, log, "missing")
    val = numbers(f, df, "RESULT", log)
    fac, si_unit = M.si_factor(df.LAB_TEST.astype(object), df.UNIT.astype(object), f, df.SRC_ROW.to_numpy())
    si = np.round(val * fac, 6)
    log.note(f, "RESULT", "unit -> SI", int((fac != 1).sum()))
    ranges = load_dictionary()["files"][f]["ranges_si"]
    test = df.LAB_TEST.astype(object).to_numpy()
    lo = pd.Series(test).map({t: r[0] for t, r in ranges.items()}).to_numpy(dtype=float)
    hi = pd.Series(test).map({t: r[1] for t, r in ranges.items()}).to_numpy(dtype=float)
    bad = np.flatnonzero(~np.isnan(si) & ((si < lo) | (si > hi)))
    if len(bad):
        log.add(f, _rows(df, bad), _subjects(df, bad), "RESULT", "out of range", _raw(df, "RESULT", bad),
                [f"set to missing (allowed {lo[i]:g}-{hi[i]:g} {si_unit.iloc[i]}); site to confirm" for i in bad])
        si[bad] = np.nan
    return pd.DataFrame({"SRC_ROW": df.SRC_ROW, "SUBJID": text(df, "SUBJID"), "LAB_DATE": D.to_datetime(days),
                         "LAB_TEST": test, "RESULT_SI": si, "UNIT_SI": si_unit.to_numpy(),
                         "RESULT_RAW": val, "UNIT_RAW": text(df, "UNIT")})


def harmonise_exposure(df: pd.DataFrame, log: QueryLog) -> pd.DataFrame:
    f = "exposure"
    start, sp = parse_site_dates(f, df, "START_DATE", log, complete=True)
    end, ep = parse_site_dates(f, df, "END_DATE", log, complete=True)
    check_dates_not_after_extract(f, df, "START_DATE", start, sp, log, "stop")
    check_dates_not_after_extract(f, df, "END_DATE", end, ep, log, "stop")
    drugs = M.map_drugs(df.DRUG, f, "DRUG", df.SRC_ROW.to_numpy())
    note_renamed_drugs(f, "DRUG", df, drugs, log)
    cls = drugs.CLASS.to_numpy()
    bad = np.flatnonzero(~np.isin(cls, ["ANLOTINIB", "PD1", "PDL1"]))
    if len(bad):
        raise DataError(f, int(_rows(df, bad[0])), "DRUG", "study drug",
                        f"{drugs.INN.iloc[bad[0]]} is not anlotinib or a PD-1/PD-L1 inhibitor",
                        value=df.DRUG.iloc[bad[0]], other_rows=_rows(df, bad[1:]))
    seq = np.flatnonzero((end != D.MISSING) & (end < start))
    if len(seq):
        raise DataError(f, int(_rows(df, seq[0])), "END_DATE", "end on/after start",
                        f"the course ends before it starts ({df.START_DATE.iloc[seq[0]]})",
                        value=df.END_DATE.iloc[seq[0]], other_rows=_rows(df, seq[1:]))
    last = np.where(end == D.MISSING, start, end)
    dose = query_dose_outside_prescribed(f, df, drugs.INN.to_numpy(), numbers(f, df, "DOSE", log), log)
    return pd.DataFrame({
        "SRC_ROW": df.SRC_ROW, "SUBJID": text(df, "SUBJID"), "CYCLE": df.CYCLE.astype(int),
        "DRUG": drugs.INN.to_numpy(), "DRUG_CLASS": cls, "START_DATE": D.to_datetime(start),
        "END_DATE": D.to_datetime(end), "LAST_DOSE": D.to_datetime(last),
        "DOSE": dose, "DOSE_UNIT": text(df, "DOSE_UNIT"),
        "DOSE_CHANGE": text(df, "DOSE_CHANGE"), "EOT_REASON": text(df, "EOT_REASON")})


def treatment_dates(ex: pd.DataFrame) -> pd.DataFrame:
    """Per subject: first dose (TRTSDT) and last dose (TRTEDT) from the harmonised exposure."""
    return ex.groupby("SUBJID").agg(TRTSDT=("START_DATE", "min"), TRTEDT=("LAST_DOSE", "max"))


def harmonise_tumour(df: pd.DataFrame, log: QueryLog) -> pd.DataFrame:
    f = "tumour_assessments"
    days, prec = parse_site_dates(f, df, "ASSESS_DATE", log)
    days, prec, _ = check_dates_not_after_extract(f, df, "ASSESS_DATE", days, prec, log, "stop")
    days, flag = impute_partial_dates(f, df, "ASSESS_DATE", days, prec, log, "last")
    resp = text(df, "INV_RESPONSE")
    post = (df.VISIT.astype(object) != "Baseline").to_numpy()
    miss = np.flatnonzero(post & resp.isna().to_numpy())
    if len(miss):
        raise DataError(f, int(_rows(df, miss[0])), "INV_RESPONSE", "response at post-baseline visit",
                        "post-baseline assessment without an overall response", other_rows=_rows(df, miss[1:]))
    return pd.DataFrame({
        "SRC_ROW": df.SRC_ROW, "SUBJID": text(df, "SUBJID"), "VISIT": text(df, "VISIT"),
        "ASSESS_DATE": D.to_datetime(days), "ASSESS_DATE_F": flag,
        "TARGET_SUM_MM": numbers(f, df, "TARGET_SUM_MM", log, _spec(f)["TARGET_SUM_MM"]["range"]),
        "NONTARGET": text(df, "NONTARGET"),
        "NEW_LESION": map_site_codes(f, df, "NEW_LESION", "YN", log), "INV_RESPONSE": resp})


def check_death_date_on_dead_rows(fu: pd.DataFrame, dead: np.ndarray, death: np.ndarray) -> None:
    """Rules S11/S12: a DEAD contact carries a death date; no other contact does."""
    for mask, rule, detail in ((dead & (death == D.MISSING), "death date on DEAD row", "DEAD without a death date"),
                               (~dead & (death != D.MISSING), "death date on DEAD row only",
                                "death date on a contact that is not DEAD")):
        bad = np.flatnonzero(mask)
        if len(bad):
            raise DataError("follow_up", int(_rows(fu, bad[0])), "DEATH_DATE", rule, detail,
                            value=fu.DEATH_DATE.iloc[bad[0]], other_rows=_rows(fu, bad[1:]))


def check_one_death_per_subject(fu: pd.DataFrame) -> None:
    """Rule C01: at most one DEAD contact per subject."""
    dead = fu[fu.STATUS.astype(object) == "DEAD"]
    dup = dead.SUBJID.astype(object).duplicated(keep="first").to_numpy()
    if dup.any():
        s = dead.SUBJID.astype(object).iloc[np.flatnonzero(dup)[0]]
        rows = dead.SRC_ROW.to_numpy()[(dead.SUBJID.astype(object) == s).to_numpy()]
        raise DataError("follow_up", int(rows[1]), "STATUS", "one death per subject",
                        f"{s} has DEAD rows {', '.join(str(r) for r in rows)}", value="DEAD")


def reject_contacts_after_death(fu: pd.DataFrame, log: QueryLog) -> pd.DataFrame:
    """Rule D04: an ALIVE contact after the death date (its last possible day, for a partial
    date) is impossible: the row is rejected with a query. ``fu`` carries the parsed day numbers
    in ``_CONTACT``, ``_DEATH`` and ``_DEATH_P``."""
    dead = fu.STATUS.astype(object).to_numpy() == "DEAD"
    death_last = pd.Series(D.period_end(fu._DEATH.to_numpy(), fu._DEATH_P.to_numpy())[dead],
                           index=fu.SUBJID.astype(object).to_numpy()[dead])
    dl = fu.SUBJID.astype(object).map(death_last).fillna(D.MISSING).to_numpy(dtype=np.int64)
    after = (fu.STATUS.astype(object).to_numpy() == "ALIVE") & (dl != D.MISSING) & (fu._CONTACT.to_numpy() > dl)
    return log.reject("follow_up", fu, after, "CONTACT_DATE", "impossible sequence",
                      fu.CONTACT_DATE.astype(object).to_numpy(), "row rejected: ALIVE contact after the date of death")


def harmonise_follow_up(df: pd.DataFrame, log: QueryLog, alive_evidence: pd.Series) -> pd.DataFrame:
    """``alive_evidence``: per subject the last day number with other evidence of life
    (assessments, study drug), the lower bound of a partial death date."""
    f = "follow_up"
    contact, cp = parse_site_dates(f, df, "CONTACT_DATE", log, complete=True)
    dd, dprec = parse_site_dates(f, df, "DEATH_DATE", log)
    dead = text(df, "STATUS").to_numpy() == "DEAD"
    check_death_date_on_dead_rows(df, dead, dd)
    dd, dprec, _ = check_dates_not_after_extract(f, df, "DEATH_DATE", dd, dprec, log, "stop")
    _, _, late = check_dates_not_after_extract(f, df, "CONTACT_DATE", contact, cp, log,
                                               np.where(dead, "stop", "reject"))
    w = df.assign(_CONTACT=contact, _DEATH=dd, _DEATH_P=dprec)
    w = log.reject(f, w, late, "CONTACT_DATE", "date after the extract", w.CONTACT_DATE.astype(object).to_numpy(),
                   "row rejected: contact after the extract date")
    check_one_death_per_subject(w)
    w = reject_contacts_after_death(w, log)
    status = text(w, "STATUS").to_numpy()
    dead = status == "DEAD"
    alive = pd.concat([pd.Series(w._CONTACT.to_numpy()[status == "ALIVE"],
                                 index=w.SUBJID.astype(object).to_numpy()[status == "ALIVE"]), alive_evidence])
    alive = alive.groupby(level=0).max()
    lower = w.SUBJID.astype(object).map(alive).fillna(D.MISSING).to_numpy(dtype=np.int64)
    dd, dflag = impute_partial_dates(f, w, "DEATH_DATE", w._DEATH.to_numpy(), w._DEATH_P.to_numpy(), log, "first",
                                     min_dates={"the last date known alive": np.where(dead, lower, D.MISSING)})
    return pd.DataFrame({"SRC_ROW": w.SRC_ROW.to_numpy(), "SUBJID": text(w, "SUBJID").to_numpy(),
                         "CONTACT_DATE": D.to_datetime(w._CONTACT.to_numpy()), "STATUS": status,
                         "DEATH_DATE": D.to_datetime(dd), "DEATH_DATE_F": dflag,
                         "DEATH_CAUSE": text(w, "DEATH_CAUSE").to_numpy()})


def death_dates(fu: pd.DataFrame) -> pd.Series:
    """Per subject: the (imputed) date of death."""
    return fu[fu.STATUS == "DEAD"].set_index("SUBJID").DEATH_DATE


def alive_evidence(ta: pd.DataFrame, ex: pd.DataFrame) -> pd.Series:
    """Per subject: the last day number of an assessment or a study dose."""
    ev = pd.concat([pd.Series(D.day_numbers(ta.ASSESS_DATE), index=ta.SUBJID.to_numpy()),
                    pd.Series(D.day_numbers(ex.LAST_DOSE), index=ex.SUBJID.to_numpy())])
    return ev.groupby(level=0).max()


def harmonise_prior(df: pd.DataFrame, log: QueryLog, trt: pd.DataFrame) -> pd.DataFrame:
    f = "prior_therapy"
    drugs = M.map_drugs(df.REGIMEN, f, "REGIMEN", df.SRC_ROW.to_numpy())
    note_renamed_drugs(f, "REGIMEN", df, drugs, log)
    before_first = D.shift(subject_days(df, trt.TRTSDT), -1)
    s, sp = parse_site_dates(f, df, "START_DATE", log)
    s, sp, _ = check_dates_not_after_extract(f, df, "START_DATE", s, sp, log, "missing")
    s, sflag = impute_partial_dates(f, df, "START_DATE", s, sp, log, "first")
    e, ep = parse_site_dates(f, df, "END_DATE", log)
    e, ep, _ = check_dates_not_after_extract(f, df, "END_DATE", e, ep, log, "missing")
    e, eflag = impute_partial_dates(f, df, "END_DATE", e, ep, log, "last",
                                    max_dates={"the day before the first study dose": before_first})
    p, pp = parse_site_dates(f, df, "PD_DATE", log)
    p, pp, _ = check_dates_not_after_extract(f, df, "PD_DATE", p, pp, log, "missing")
    p, pflag = impute_partial_dates(f, df, "PD_DATE", p, pp, log, "first",
                                    max_dates={"the day before the first study dose": before_first})
    line = numeric(df.LINE)
    return pd.DataFrame({"SRC_ROW": df.SRC_ROW, "SUBJID": text(df, "SUBJID"), "SETTING": text(df, "SETTING"),
                         "LINE": line, "REGIMEN": drugs.INN.to_numpy(), "REGIMEN_CLASS": drugs.CLASS.to_numpy(),
                         "HAS_ICI": drugs.HAS_ICI.to_numpy(dtype=bool),
                         "HAS_ANLOTINIB": drugs.HAS_ANLOTINIB.to_numpy(dtype=bool),
                         "START_DATE": D.to_datetime(s), "START_DATE_F": sflag,
                         "END_DATE": D.to_datetime(e), "END_DATE_F": eflag,
                         "PD_DATE": D.to_datetime(p), "PD_DATE_F": pflag,
                         "BEST_RESPONSE": text(df, "BEST_RESPONSE"), "STOP_REASON": text(df, "STOP_REASON")})


def query_ae_end_before_start(df: pd.DataFrame, start, sp, end, ep, log: QueryLog) -> np.ndarray:
    """Rule D04: an AE ending before it starts (both complete) -> end set to missing (query).
    Returns the rows' positions."""
    bad = np.flatnonzero((sp == D.FULL) & (ep == D.FULL) & (end < start))
    log.add("adverse_events", _rows(df, bad), _subjects(df, bad), "END_DATE", "impossible sequence",
            _raw(df, "END_DATE", bad), "end date before start date: end set to missing")
    return bad


def harmonise_aes(df: pd.DataFrame, log: QueryLog, trt: pd.DataFrame, death: pd.Series) -> pd.DataFrame:
    f = "adverse_events"
    terms = M.map_ae_terms(df.AE_VERBATIM, f, df.SRC_ROW.to_numpy())
    log.note(f, "AE_VERBATIM", "verbatim -> CTCAE v5 term",
             int((terms.AEDECOD.to_numpy() != df.AE_VERBATIM.astype(object).to_numpy()).sum()))
    trtsdt, dth = subject_days(df, trt.TRTSDT), subject_days(df, death)
    s, sp = parse_site_dates(f, df, "START_DATE", log)
    e, ep = parse_site_dates(f, df, "END_DATE", log)
    s, sp, _ = check_dates_not_after_extract(f, df, "START_DATE", s, sp, log, "missing",
                                             "onset unknown: the AE counts as treatment-emergent")
    e, ep, _ = check_dates_not_after_extract(f, df, "END_DATE", e, ep, log, "missing", "the AE counts as ongoing")
    s_imp, sflag = impute_partial_dates(f, df, "START_DATE", s, sp, log, "first", min_dates={"the first dose": trtsdt},
                                        max_dates={"death": dth})
    e_imp, eflag = impute_partial_dates(f, df, "END_DATE", e, ep, log, "last", max_dates={"death": dth})
    bad = query_ae_end_before_start(df, s, sp, e, ep, log)
    e_imp[bad] = D.MISSING
    eflag[bad] = ""
    return pd.DataFrame({
        "SRC_ROW": df.SRC_ROW, "SUBJID": text(df, "SUBJID"), "AE_VERBATIM": text(df, "AE_VERBATIM"),
        "AEDECOD": terms.AEDECOD.to_numpy(), "AESOC": terms.AESOC.to_numpy(), "AEIRFL": terms.AEIRFL.to_numpy(),
        "START_DATE": D.to_datetime(s_imp), "START_DATE_F": sflag, "END_DATE": D.to_datetime(e_imp),
        "END_DATE_F": eflag, "CTCAE_GRADE": df.CTCAE_GRADE.astype(int).to_numpy(),
        "REL_ANLOTINIB": text(df, "REL_ANLOTINIB"), "REL_PD1": text(df, "REL_PD1"),
        **{c: map_site_codes(f, df, c, "YN", log) for c in YN[f]},
        "ACTION_TAKEN": text(df, "ACTION_TAKEN"), "OUTCOME": text(df, "OUTCOME")})


def harmonise_subsequent(df: pd.DataFrame, log: QueryLog, trt: pd.DataFrame) -> pd.DataFrame:
    f = "subsequent_therapy"
    drugs = M.map_drugs(df.THERAPY, f, "THERAPY", df.SRC_ROW.to_numpy())
    note_renamed_drugs(f, "THERAPY", df, drugs, log)
    after_last = D.shift(subject_days(df, trt.TRTEDT), 1)
    s, sp = parse_site_dates(f, df, "START_DATE", log)
    s, sp, _ = check_dates_not_after_extract(f, df, "START_DATE", s, sp, log, "missing",
                                             "start unknown: the therapy does not censor PFSNACT")
    s, sflag = impute_partial_dates(f, df, "START_DATE", s, sp, log, "first",
                                    min_dates={"the day after the last study dose": after_last})
    return pd.DataFrame({"SRC_ROW": df.SRC_ROW, "SUBJID": text(df, "SUBJID"), "THERAPY": drugs.INN.to_numpy(),
                         "THERAPY_CLASS": drugs.CLASS.to_numpy(), "START_DATE": D.to_datetime(s),
                         "START_DATE_F": sflag})
