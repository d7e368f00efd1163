"""Site date formats -> dates, and partial-date imputation with flags (admiral conventions).

Accepted renderings (data dictionary): ISO ``2021-03-05``, ``2021/3/5``, ``2021.03.05``,
``2021年3月5日``, Excel serial day numbers (``44260``), and partial dates with the day (or day
and month) unknown: ``2021-03``, ``2021-03-UNK``, ``2021/3``, ``2021.03.UNK``, ``2021年3月``, ``2021``.
Dates are returned as int64 day numbers (days since 1970-01-01); ``MISSING`` marks none.
"""

from __future__ import annotations

import re

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


def _as_arrow(values) -> pa.Array:
    if isinstance(values, pd.Series) and isinstance(values.dtype, pd.CategoricalDtype):
        codes = values.cat.codes.to_numpy()
        cats = pa.array(list(values.cat.categories), type=pa.string())
        return pa.DictionaryArray.from_arrays(pa.array(codes, mask=codes < 0).cast(pa.int32()), cats)
    if isinstance(values, pd.Series) and isinstance(values.dtype, pd.ArrowDtype):
        return pa.chunked_array(values.array._pa_array).combine_chunks() if len(values) else pa.array([], pa.string())
    if isinstance(values, pa.ChunkedArray):
        return values.combine_chunks()
    if isinstance(values, pa.Array):
        return values
    return pa.array(pd.Series(values, dtype=object), type=pa.string(), from_pandas=True)


def parse(values) -> tuple[np.ndarray, np.ndarray]:
    """Parse site-formatted date strings.

    Returns (days, precision): days of the first possible date (MISSING if empty/invalid) and
    precision FULL / MONTH / YEAR / EMPTY / INVALID per value. Each distinct string is parsed
    once (dates repeat a lot in a big extract).
    """
    arr = _as_arrow(values)
    enc = arr if isinstance(arr.type, pa.DictionaryType) else arr.dictionary_encode()
    days_u, prec_u = _parse_unique(enc.dictionary)
    idx = enc.indices.to_numpy(zero_copy_only=False)
    null = np.asarray(enc.indices.is_null(), dtype=bool)
    idx = np.where(null, 0, idx).astype(np.int64)
    if len(days_u) == 0:
        return np.full(len(arr), MISSING, dtype=np.int64), np.full(len(arr), EMPTY, dtype=np.int8)
    days = np.where(null, MISSING, days_u[idx])
    prec = np.where(null, EMPTY, prec_u[idx]).astype(np.int8)
    return days, prec


_PARSED: dict = {}         # raw string -> day * 8 + precision + 1, per process: a worker parses a date
_PARSED_MAX = 2_000_000    # once across all the partitions it cleans (values, not patients: bounded)
_UNSEEN = np.iinfo(np.int64).min     # no packed value: days are > -2^59


def _parse_unique(arr: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    n = len(arr)
    if n == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int8)
    vals = arr.to_pylist()
    get = _PARSED.get
    packed = np.fromiter((get(v, _UNSEEN) for v in vals), dtype=np.int64, count=n)
    todo = np.flatnonzero(packed == _UNSEEN)
    days, prec = packed >> 3, ((packed & 7) - 1).astype(np.int8)      # floor division: negative days too
    if not len(todo):
        return days, prec
    sub = arr.take(pa.array(todo, type=pa.int64())) if len(todo) < n else arr
    d, pr = _parse_values(sub)
    days[todo], prec[todo] = d, pr
    if len(_PARSED) < _PARSED_MAX:
        _PARSED.update(zip((vals[i] for i in todo.tolist()), (d * 8 + pr.astype(np.int64) + 1).tolist()))
    return days, prec


def _parse_values(arr: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """The rules of the module docstring on each value of ``arr``."""
    n = len(arr)
    vals = arr.to_pylist()
    empty = np.array([v is None or not v.strip() for v in vals], dtype=bool)
    norm = _norm(pc.fill_null(arr, ""))
    normv = norm.to_pylist()
    days = np.full(n, MISSING, dtype=np.int64)
    prec = np.full(n, INVALID, dtype=np.int8)
    pat = re.compile(_PATTERN)
    for i, v in enumerate(normv):
        if empty[i]:
            prec[i] = EMPTY
            continue
        if re.fullmatch(r"\d{5}", v):
            serial = int(v)
            if 1 <= serial <= 73050:
                days[i], prec[i] = serial + EXCEL_EPOCH, FULL
            continue
        m = pat.match(v)
        if not m:
            continue
        y = int(m.group("y"))
        mo, d = m.group("m"), m.group("d")
        if not 1900 <= y <= 2100:
            continue
        if mo is None or mo == "UNK":
            if d is not None and d != "UNK":
                continue
            days[i], prec[i] = (np.datetime64(f"{y:04d}-01-01") - np.datetime64("1970-01-01")).astype(np.int64), YEAR
            continue
        mo = int(mo)
        if not 1 <= mo <= 12:
            continue
        first = np.datetime64(f"{y:04d}-{mo:02d}-01")
        if d is None or d == "UNK":
            days[i], prec[i] = (first - np.datetime64("1970-01-01")).astype(np.int64), MONTH
            continue
        dd = int(d)
        date = first + np.timedelta64(dd - 1, "D")
        if dd < 1 or date.astype("datetime64[M]") != first.astype("datetime64[M]"):
            continue
        days[i], prec[i] = (date - np.datetime64("1970-01-01")).astype(np.int64), FULL
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


def day_numbers(values) -> np.ndarray:
    """Datetimes (NaT allowed) -> int64 day numbers, MISSING for NaT (inverse of to_datetime)."""
    v = pd.Series(values)
    d = v.to_numpy(dtype="datetime64[ns]").astype("datetime64[D]").astype(np.int64)
    return np.where(v.isna().to_numpy(), MISSING, d)


def shift(days: np.ndarray, n: int) -> np.ndarray:
    """Add n days, leaving MISSING as it is."""
    return np.where(days == MISSING, MISSING, days + n)


def iso(days: np.ndarray) -> np.ndarray:
    d = np.asarray(days, dtype=np.int64)
    s = np.datetime_as_string(np.where(d == MISSING, 0, d).astype("datetime64[D]"), unit="D").astype(object)
    s[d == MISSING] = None
    return s
