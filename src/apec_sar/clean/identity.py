"""Patient identity: normalised identifiers, linked records of one patient, conflicts.

Rules (registry ids in brackets):
- [I01] Subject ids (every file) and ID-card numbers are normalised before any comparison:
  Unicode NFKC (full-width digits, letters and hyphens -> ASCII), all whitespace removed, upper
  case (the check digit of a Chinese resident ID is written 'x' or 'X'). Counted in the
  harmonisation summary.
- [I02] Every row's subject id appears in the screening log, else the run stops.
- [I03] Records are never linked on an empty key: a screening record without an ID-card number
  is a patient of its own, and queried.
- [I04] Two screening records with the same normalised ID-card number are one patient (a
  referral between sites). The record screened first (then lower site, then id) is kept: it is
  the patient's original enrolment, and the pseudonym follows it. Every row of the other record
  is rejected with a query.
- [I05] Every attribute of demographics and baseline disease that differs between the linked
  records is queried, naming the value kept (the first-screened record's) and the value not used;
  differing names are queried without showing them (direct identifiers).
- [I06] A row of the rejected record with no identical row (after harmonisation) under the kept
  record is queried: rejecting it may lose data, the site must confirm.
- [I07] Every kept patient has a demographics and a baseline-disease row, else the run stops.
- [I08] Two records not linked (different ID-card numbers) but with the same name, birth date and
  sex are queried as a possible duplicate (a mistyped ID-card number) and kept as two patients.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from .errors import DataError, QueryLog

SINGLE_ROW_FILES = ("screening_log", "demographics", "baseline_disease")
# harmonised columns that keep the site's raw spelling (their canonical twin is compared instead)
RAW_SPELLING = ("AE_VERBATIM", "RESULT_RAW", "UNIT_RAW")


def normalise_identifier(values: pd.Series) -> pd.Series:
    """NFKC, no whitespace, upper case; empty -> missing. Computed once per distinct value."""
    cat = values if isinstance(values.dtype, pd.CategoricalDtype) else values.astype(object).astype("category")
    cats = cat.cat.categories.to_numpy(dtype=object)
    norm = pc.utf8_upper(pc.replace_substring_regex(pc.utf8_normalize(pa.array(cats, type=pa.string()), "NFKC"),
                                                    r"\s+", ""))
    norm = np.asarray(norm.to_numpy(zero_copy_only=False), dtype=object)
    if (norm == cats).all():                               # the usual case: nothing to change
        return pd.Series(cat, index=values.index)
    uniq, inv = np.unique(norm.astype(str), return_inverse=True)
    keep = uniq != ""
    new_index = np.where(keep, np.cumsum(keep) - 1, -1)[inv]
    codes = cat.cat.codes.to_numpy()
    new_codes = np.where(codes < 0, -1, new_index[np.maximum(codes, 0)])
    return pd.Series(pd.Categorical.from_codes(new_codes, categories=uniq[keep]), index=values.index)


def _changed_cells(before: pd.Series, after: pd.Series) -> int:
    """Cells whose value changed (counted per distinct value, weighted by its frequency)."""
    b = before if isinstance(before.dtype, pd.CategoricalDtype) else before.astype(object).astype("category")
    codes = b.cat.codes.to_numpy()
    counts = np.bincount(codes[codes >= 0], minlength=len(b.cat.categories))
    seen, at = np.unique(codes, return_index=True)          # each distinct value and a row of it (its first)
    at, seen = at[seen >= 0], seen[seen >= 0]
    now = after.iloc[at].astype(object).to_numpy()
    was = b.cat.categories.to_numpy(dtype=object)[seen]
    changed = ~pd.Series(now == was).fillna(False).to_numpy(dtype=bool)
    return int(counts[seen][changed].sum())


def normalise_identifiers(file: str, df: pd.DataFrame, log: QueryLog) -> pd.DataFrame:
    """Rule I01 on SUBJID (and ID_CARD_NO in the screening log); counts the cells changed."""
    df = df.copy()
    for col in [c for c in ("SUBJID", "ID_CARD_NO") if c in df.columns]:
        before = df[col]
        df[col] = normalise_identifier(before)
        log.note(file, col, "identifier normalised (case / width / whitespace)", _changed_cells(before, df[col]))
    return df


def check_subjects_in_screening_log(raw: dict[str, pd.DataFrame]) -> None:
    """Rule I02: every row's subject id is in the screening log."""
    known = raw["screening_log"].SUBJID.astype(object).dropna().unique()
    for f, df in raw.items():
        if f == "screening_log":
            continue
        orphan = np.flatnonzero(~df.SUBJID.astype(object).isin(known).to_numpy())
        if len(orphan):
            i = orphan[0]
            value = df.SUBJID.iloc[i]
            blank = value is None or pd.isna(value)        # spaces only: nothing left once normalised (I01)
            raise DataError(f, int(df.SRC_ROW.iloc[i]), "SUBJID", "subject in screening log",
                            "the subject id is blank (white space only)" if blank else
                            "this subject id does not appear in screening_log.csv", value=None if blank else value,
                            other_rows=df.SRC_ROW.to_numpy()[orphan[1:]])


def link_patient_records(scr: pd.DataFrame, log: QueryLog) -> pd.Series:
    """Rules I03/I04. ``scr``: harmonised screening log with the normalised ``ID_CARD_NO``.
    Returns, for every record to reject, the SUBJID of the record kept (index: rejected SUBJID)."""
    card = scr.ID_CARD_NO.astype(object)
    empty = card.isna().to_numpy()
    log.add("screening_log", scr.SRC_ROW.to_numpy()[empty], scr.SUBJID.to_numpy()[empty], "ID_CARD_NO",
            "ID-card number missing", None,
            "kept as a patient of its own (never linked on an empty ID-card number); site to complete the number "
            "and confirm the patient was not screened twice")
    s = scr[~empty].sort_values(["SCREENDT", "SITEID", "SUBJID"], kind="stable")
    first = s.drop_duplicates("ID_CARD_NO").set_index("ID_CARD_NO").SUBJID
    kept = s.ID_CARD_NO.map(first)
    dup = (kept != s.SUBJID).to_numpy()
    return pd.Series(kept.to_numpy()[dup], index=s.SUBJID.to_numpy()[dup], dtype=object, name="KEPT")


# the columns rule I08 compares (the partitioned run gathers only these from each partition)
POSSIBLE_DUPLICATE_COLUMNS = {"screening_log": ["SRC_ROW", "SUBJID", "SCREENDT", "SITEID"],
                              "demographics": ["SUBJID", "BIRTH_DATE", "SEX"]}


def query_possible_duplicates(scr: pd.DataFrame, dm: pd.DataFrame, names: pd.Series, dup_of: pd.Series,
                              log: QueryLog) -> None:
    """Rule I08 on the records left after linking. ``names``: normalised names by SUBJID (any
    representation that is equal exactly when the names are: the partitioned run passes keyed
    hashes, so names never leave the workers)."""
    kept = scr[~scr.SUBJID.isin(dup_of.index)][POSSIBLE_DUPLICATE_COLUMNS["screening_log"]]
    d = kept.merge(dm[POSSIBLE_DUPLICATE_COLUMNS["demographics"]], on="SUBJID", how="left")
    d["_NAME"] = d.SUBJID.map(names).to_numpy()
    d = d[d._NAME.notna() & d.BIRTH_DATE.notna()].sort_values(["SCREENDT", "SITEID", "SUBJID"], kind="stable")
    same = ["_NAME", "BIRTH_DATE", "SEX"]
    later = d.duplicated(same, keep="first").to_numpy()
    if not later.any():
        return
    first = d.groupby(same, dropna=False, sort=False).SUBJID.transform("first").to_numpy()
    log.add("screening_log", d.SRC_ROW.to_numpy()[later], d.SUBJID.to_numpy()[later], "ID_CARD_NO",
            "possible duplicate patient", None,
            [f"kept as a patient of its own: same name, birth date and sex as {f} but another ID-card number (not "
             "shown); site to confirm whether one number is mistyped" for f in first[later]])


def _shown(v) -> str | None:
    if v is None or (not isinstance(v, str) and pd.isna(v)):
        return None
    if isinstance(v, pd.Timestamp):
        return v.date().isoformat()
    if isinstance(v, float):
        return f"{v:g}"
    return str(v)


def _equal(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    both_na = pd.isna(a) & pd.isna(b)
    return both_na | (pd.Series(a, dtype=object) == pd.Series(b, dtype=object)).to_numpy()


def query_conflicting_attributes(dup_of: pd.Series, tables: dict[str, pd.DataFrame], names: pd.Series,
                                 log: QueryLog) -> None:
    """Rule I05. ``names``: normalised patient names by SUBJID (compared, never shown)."""
    if dup_of.empty:
        return
    rej_ids, kept_ids = dup_of.index.to_numpy(), dup_of.to_numpy()
    linked = np.concatenate([rej_ids, kept_ids])
    for f in ("demographics", "baseline_disease"):
        t = tables[f][tables[f].SUBJID.isin(linked)].drop_duplicates("SUBJID").set_index("SUBJID")
        both = np.isin(rej_ids, t.index) & np.isin(kept_ids, t.index)
        rej, kept = t.reindex(rej_ids[both]), t.reindex(kept_ids[both])
        for c in [c for c in t.columns if c != "SRC_ROW" and not c.endswith("_F")]:
            a, b = rej[c].to_numpy(dtype=object), kept[c].to_numpy(dtype=object)
            diff = ~_equal(a, b)
            if not diff.any():
                continue
            log.add(f, rej.SRC_ROW.to_numpy()[diff], rej.index.to_numpy()[diff], c, "conflicting linked records",
                    [_shown(x) for x in a[diff]],
                    [f"linked to {k} (same ID-card number): {_shown(v)!s} from {k} is kept (screened first); this "
                     "record's value is not used; site to confirm" for k, v in zip(kept.index[diff], b[diff])])
    scr = tables["screening_log"]
    scr = scr[scr.SUBJID.isin(rej_ids)].drop_duplicates("SUBJID").set_index("SUBJID")
    a, b = names.reindex(rej_ids).to_numpy(dtype=object), names.reindex(kept_ids).to_numpy(dtype=object)
    diff = ~_equal(a, b)
    log.add("screening_log", scr.SRC_ROW.reindex(rej_ids).to_numpy()[diff], rej_ids[diff], "PATIENT_NAME",
            "conflicting linked records", None,
            [f"linked to {k} (same ID-card number) but the names differ (not shown: direct identifier); the record "
             f"of {k} is kept (screened first); site to confirm this is one patient" for k in kept_ids[diff]])


def query_rows_only_in_rejected_record(dup_of: pd.Series, tables: dict[str, pd.DataFrame], log: QueryLog) -> None:
    """Rule I06 for the files with several rows per patient."""
    if dup_of.empty:
        return
    for f, t in tables.items():
        if f in SINGLE_ROW_FILES:
            continue
        rej = t[t.SUBJID.isin(dup_of.index)]
        if rej.empty:
            continue
        cols = [c for c in t.columns if c not in ("SRC_ROW", "SUBJID", *RAW_SPELLING)]
        kept = t[t.SUBJID.isin(dup_of.to_numpy())]
        k = kept[cols].assign(_KEPT=kept.SUBJID.to_numpy(), _HIT=True).drop_duplicates()
        m = rej[cols].assign(_KEPT=rej.SUBJID.map(dup_of).to_numpy()).merge(k, on=["_KEPT", *cols], how="left")
        alone = m._HIT.isna().to_numpy()
        log.add(f, rej.SRC_ROW.to_numpy()[alone], rej.SUBJID.to_numpy()[alone], "SUBJID",
                "rows only in the rejected record", rej.SUBJID.to_numpy()[alone],
                [f"no identical row under {k}: rejected with its record; site to confirm that no data are lost"
                 for k in m._KEPT.to_numpy()[alone]])


def reject_duplicate_patients(dup_of: pd.Series, tables: dict[str, pd.DataFrame],
                              log: QueryLog) -> dict[str, pd.DataFrame]:
    """Rule I04: every row of a linked, later-screened record is rejected with a query."""
    out = {}
    for f, t in tables.items():
        subj = t.SUBJID.astype(object)
        mask = subj.isin(dup_of.index).to_numpy()
        action = [f"row rejected: same patient (ID-card number) as {k}, screened first"
                  for k in subj[mask].map(dup_of)]
        full = np.full(len(t), None, dtype=object)
        full[mask] = action
        out[f] = log.reject(f, t, mask, "SUBJID", "duplicate patient", subj.to_numpy(), full)
    return out


def check_one_row_per_subject(tables: dict[str, pd.DataFrame]) -> None:
    """Rule I07: every screened patient has a demographics and a baseline-disease row."""
    subjects = tables["screening_log"].SUBJID
    for f in ("demographics", "baseline_disease"):
        missing = subjects[~subjects.isin(tables[f].SUBJID)]
        if len(missing):
            raise DataError(f, None, "SUBJID", "one row per subject", f"no row for {missing.iloc[0]}",
                            value=missing.iloc[0])
