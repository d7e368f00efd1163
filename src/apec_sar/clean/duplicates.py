"""Duplicate records by the data dictionary's keys, for every file (admiral
``signal_duplicate_records``).

Rules (registry ids in brackets):
- [K01] A row identical to an earlier row of the same file -- as sent, or after harmonisation
  (the same date in two formats, the same drug under two names) -- is the same record sent twice:
  the later copy is rejected with a query, so the record counts once.
- [K02] Rows that share the file's declared key (``key`` in data/data_dictionary.yml, compared
  on harmonised values) but differ in content cannot both be right and nothing says which is:
  the run stops, listing every row of the key and the columns that differ.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..dictionary import key as dictionary_key
from .errors import DataError, QueryLog, value_text

# raw column -> harmonised column, where cleaning renames
HARMONISED_NAME = {("screening_log", "SCREEN_DATE"): "SCREENDT"}


def reject_exact_duplicate_rows(file: str, df: pd.DataFrame, log: QueryLog) -> pd.DataFrame:
    """Rule K01 on a raw frame: later copies of an identical row (every column) are rejected."""
    key = dictionary_key(file)
    cand = df.duplicated(key, keep=False).to_numpy()        # an identical row shares the key: look there only
    if not cand.any():
        return df
    cols = [c for c in df.columns if c != "SRC_ROW"]
    sub = df[cand]
    dup = np.zeros(len(df), dtype=bool)
    dup[np.flatnonzero(cand)] = sub.duplicated(cols, keep="first").to_numpy()
    if not dup.any():
        return df
    first = np.zeros(len(df), dtype=np.int64)
    first[np.flatnonzero(cand)] = sub.groupby(cols, observed=True, dropna=False, sort=False).SRC_ROW.transform("first")
    original, action = _texts(dup, first, "copy of row {}",
                              "row rejected: identical to row {} (the record counts once)")
    return log.reject(file, df, dup, ",".join(key), "duplicate record", original, action)


def _texts(mask: np.ndarray, first: np.ndarray, original: str, action: str) -> tuple[np.ndarray, np.ndarray]:
    """Query texts naming the earlier row, built for the rejected rows only."""
    o, a = np.full(len(mask), None, dtype=object), np.full(len(mask), None, dtype=object)
    o[mask] = [original.format(r) for r in first[mask]]
    a[mask] = [action.format(r) for r in first[mask]]
    return o, a


def harmonised_key(file: str, df: pd.DataFrame) -> list[str]:
    """The dictionary key of ``file`` in harmonised column names, with each date's imputation flag
    (two partial dates are the same only if collected alike)."""
    cols = [HARMONISED_NAME.get((file, c), c) for c in dictionary_key(file)]
    return cols + [f"{c}_F" for c in cols if f"{c}_F" in df.columns]


def signal_duplicate_records(file: str, df: pd.DataFrame, log: QueryLog, by: list[str] | None = None,
                             on_fail: str = "stop") -> pd.DataFrame:
    """Rules K01/K02 on a harmonised frame, by ``by`` (default: the dictionary key).

    Rows of one key with identical content: the later copies are rejected (K01, query). Rows of
    one key that differ: ``on_fail='stop'`` raises DataError naming every row of the first such
    key and the differing columns; ``on_fail='query'`` keeps them all, one query per row.
    """
    by = by or harmonised_key(file, df)
    in_key = df.duplicated(by, keep=False).to_numpy()
    if not in_key.any():
        return df
    content = [c for c in df.columns if c != "SRC_ROW"]
    copy = df.duplicated(content, keep="first").to_numpy() & in_key
    if copy.any():
        first = df.groupby(content, dropna=False, sort=False).SRC_ROW.transform("first").to_numpy()
        original, action = _texts(copy, first, "copy of row {}",
                                  "row rejected: same content as row {} after harmonisation (the record counts once)")
        df = log.reject(file, df, copy, ",".join(by), "duplicate record", original, action)
        in_key = df.duplicated(by, keep=False).to_numpy()
    if not in_key.any():
        return df
    conflict = df[in_key]
    if on_fail == "query":
        log.add(file, conflict.SRC_ROW.to_numpy(), conflict.SUBJID.to_numpy(), ",".join(by), "unique key",
                None, "kept: rows share the key but differ; site to confirm")
        return df
    grp = conflict.groupby(by, dropna=False, sort=False).ngroup().to_numpy()
    rows = conflict[grp == grp[0]]
    differ = [c for c in content if c not in by and rows[c].astype(object).nunique(dropna=False) > 1]
    values = ", ".join(f"{c} {' vs '.join(str(value_text(v)) for v in rows[c].astype(object))}" for c in differ[:3])
    raise DataError(file, int(rows.SRC_ROW.iloc[1]), ",".join(by), "unique key",
                    f"rows {', '.join(str(r) for r in rows.SRC_ROW)} share the key "
                    f"{[str(value_text(v)) for v in rows[by].iloc[0].tolist()]} but differ in {values}",
                    other_rows=np.setdiff1d(conflict.SRC_ROW.to_numpy(), rows.SRC_ROW.to_numpy()))
