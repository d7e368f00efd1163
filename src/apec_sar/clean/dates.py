"""Site date formats -> dates, and partial-date imputation with flags (admiral conventions).

Accepted renderings (data dictionary): ISO ``2021-03-05``, ``2021/3/5``, ``2021.03.05``,
``2021年3月5日``, Excel serial day numbers (``44260``), and partial dates with the day (or day
and month) unknown: ``2021-03``, ``2021-03-UNK``, ``2021/3``, ``2021.03.UNK``, ``2021年3月``, ``2021``.
Dates are returned as int64 day numbers (days since 1970-01-01); ``MISSING`` marks none.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

MISSING = np.int64(-(10**9))
EXCEL_EPOCH = -25569          # 1899-12-30 as a day number
FULL, MONTH, YEAR, EMPTY, INVALID = 3, 2, 1, 0, -1

_PATTERN = r"^(?P<y>\d{4})(?:-(?P<m>\d{1,2}|UNK))?(?:-(?P<d>\d{1,2}|UNK))?$"


def _norm(values: pa.Array) -> pa.Array:
    v = pc.utf8_trim_whitespace(values)
    v = pc.replace_substring(v, "日", "")
    v = pc.replace_substring_regex(v, r"[年月/.]", "-")
    return pc.replace_substring_regex(v, r"-$", "")


def parse(values) -> tuple[np.ndarray, np.ndarray]:
    """Parse site-formatted date strings.

    Returns (days, precision): days of the first possible date (MISSING if empty/invalid) and
    precision FULL / MONTH / YEAR / EMPTY / INVALID per value.
    """
    if isinstance(values, pd.Series) and isinstance(values.dtype, pd.ArrowDtype):
        arr = pa.chunked_array(values.array._pa_array).combine_chunks() if len(values) else pa.array([], pa.string())
    elif isinstance(values, pa.ChunkedArray):
        arr = values.combine_chunks()
    elif isinstance(values, pa.Array):
        arr = values
    else:
        arr = pa.array(pd.Series(values, dtype=object), type=pa.string(), from_pandas=True)
    n = len(arr)
    empty = np.asarray(pc.fill_null(pc.equal(pc.utf8_length(pc.utf8_trim_whitespace(arr)), 0), True), dtype=bool)
    norm = _norm(pc.fill_null(arr, ""))
    excel = np.asarray(pc.match_substring_regex(norm, r"^\d{5}$"), dtype=bool)
    parts = pc.extract_regex(norm, _PATTERN)
    y = parts.field("y") if parts.type.num_fields else None
    valid = np.asarray(pc.is_valid(parts), dtype=bool) & ~excel & ~empty
    ys = np.asarray(pc.fill_null(y, "0"), dtype=object)
    ms = np.asarray(pc.fill_null(parts.field("m"), ""), dtype=object)
    ds = np.asarray(pc.fill_null(parts.field("d"), ""), dtype=object)
    year = np.zeros(n, dtype=np.int64)
    month = np.zeros(n, dtype=np.int64)
    day = np.zeros(n, dtype=np.int64)
    year[valid] = pa.array(ys[valid]).cast(pa.int64()).to_numpy()
    m_known = valid & (ms != "") & (ms != "UNK")
    d_known = m_known & (ds != "") & (ds != "UNK")
    month[m_known] = pa.array(ms[m_known]).cast(pa.int64()).to_numpy()
    day[d_known] = pa.array(ds[d_known]).cast(pa.int64()).to_numpy()
    bad = valid & ((m_known & ((month < 1) | (month > 12))) | (~m_known & (ds != "") & (ds != "UNK"))
                   | (year < 1900) | (year > 2100))
    valid &= ~bad
    prec = np.where(d_known, FULL, np.where(m_known, MONTH, YEAR)).astype(np.int8)
    # first possible day of the period
    mm = np.where(m_known & valid, month, 1)
    first_of_month = ((np.where(valid, year, 1970) - 1970) * 12 + mm - 1).astype("datetime64[M]")
    start = first_of_month.astype("datetime64[D]").astype(np.int64)
    days = start + np.where(d_known, day - 1, 0)
    # a day beyond the month's end is invalid (2021-02-30)
    next_month = (first_of_month + 1).astype("datetime64[D]").astype(np.int64)
    valid &= ~(d_known & (days >= next_month))
    serial = np.zeros(n, dtype=np.int64)
    if excel.any():
        serial[excel] = pa.array(np.asarray(norm, dtype=object)[excel]).cast(pa.int64()).to_numpy()
    ex_ok = excel & (serial >= 1) & (serial <= 73050)
    days = np.where(ex_ok, serial + EXCEL_EPOCH, np.where(valid, days, MISSING))
    prec = np.where(ex_ok, FULL, np.where(valid, prec, INVALID)).astype(np.int8)
    prec[empty] = EMPTY
    days[empty] = MISSING
    return days, prec


def period_end(days: np.ndarray, prec: np.ndarray) -> np.ndarray:
    """Last possible day of a partial date's period (the date itself when complete)."""
    d = days.astype("datetime64[D]")
    end = np.where(prec == MONTH, ((d.astype("datetime64[M]") + 1).astype("datetime64[D]") - 1).astype(np.int64),
                   np.where(prec == YEAR, ((d.astype("datetime64[Y]") + 1).astype("datetime64[D]") - 1).astype(np.int64),
                            days))
    return np.where(days == MISSING, MISSING, end)


def impute(days: np.ndarray, prec: np.ndarray, rule: str, lower: np.ndarray | None = None,
           upper: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Impute partial dates (admiral ``derive_vars_dt`` semantics).

    rule 'first' or 'last' picks the first or last possible day; ``lower``/``upper`` (day
    numbers or MISSING) keep the imputed date inside a window, but only when the bound lies
    within the partial date's possible range, so collected parts never change.
    Returns (dates, flag) with flag '' (complete), 'D' (day imputed) or 'M' (month and day).
    """
    lo_p, hi_p = days, period_end(days, prec)
    partial = (prec == MONTH) | (prec == YEAR)
    out = np.where(partial, lo_p if rule == "first" else hi_p, days)
    if lower is not None:
        lb = np.asarray(lower)
        apply = partial & (lb != MISSING) & (lb >= lo_p) & (lb <= hi_p)
        out = np.where(apply, np.maximum(out, lb), out)
    if upper is not None:
        ub = np.asarray(upper)
        apply = partial & (ub != MISSING) & (ub >= lo_p) & (ub <= hi_p)
        out = np.where(apply, np.minimum(out, ub), out)
    flag = np.where(prec == MONTH, "D", np.where(prec == YEAR, "M", "")).astype(object)
    return np.where(days == MISSING, MISSING, out), flag


def to_datetime(days: np.ndarray) -> pd.Series:
    """Day numbers -> pandas datetime64[ns] (NaT for MISSING)."""
    d = np.asarray(days, dtype=np.int64)
    return pd.Series(np.where(d == MISSING, np.datetime64("NaT"), d.astype("datetime64[D]")).astype("datetime64[ns]"))


def iso(days: np.ndarray) -> np.ndarray:
    d = np.asarray(days, dtype=np.int64)
    s = np.datetime_as_string(np.where(d == MISSING, 0, d).astype("datetime64[D]"), unit="D").astype(object)
    s[d == MISSING] = None
    return s
