"""Integer day numbers (days since 1970-01-01) and their site-specific renderings.

Dates are carried as int64 day numbers throughout the generator: fast, exact, and free of
time zones. ``MISSING`` marks an absent date. Rendering into the five site formats uses
pre-computed lookup tables and ``pyarrow.compute.take``, so 10^7 dates format in well under a
second.
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from .vocab import DATE_FORMATS

MISSING = np.int64(-(10**9))
EPOCH = dt.date(1970, 1, 1)
_LO = dt.date(1900, 1, 1)
_HI = dt.date(2035, 12, 31)
LO = (_LO - EPOCH).days
HI = (_HI - EPOCH).days
NDAYS = HI - LO + 1
EXCEL_EPOCH = (dt.date(1899, 12, 30) - EPOCH).days


def day(y: int, m: int, d: int) -> int:
    return (dt.date(y, m, d) - EPOCH).days


def to_date(n: int) -> dt.date:
    return EPOCH + dt.timedelta(days=int(n))


def iso(n: int) -> str:
    return to_date(n).isoformat()


def _render(d: dt.date, fmt: str) -> str:
    if fmt == "iso":
        return d.isoformat()
    if fmt == "slash":
        return f"{d.year}/{d.month}/{d.day}"
    if fmt == "dot":
        return f"{d.year}.{d.month:02d}.{d.day:02d}"
    if fmt == "cjk":
        return f"{d.year}年{d.month}月{d.day}日"
    if fmt == "excel":
        return str((d - dt.date(1899, 12, 30)).days)
    raise ValueError(fmt)


def _render_month(d: dt.date, fmt: str, unk_day: bool) -> str:
    """A partial date (year and month known) as the site would type it."""
    if fmt == "iso" or fmt == "excel":  # an Excel site types a partial date as text
        return f"{d.year}-{d.month:02d}" + ("-UNK" if unk_day else "")
    if fmt == "slash":
        return f"{d.year}/{d.month}" + ("/UNK" if unk_day else "")
    if fmt == "dot":
        return f"{d.year}.{d.month:02d}" + (".UNK" if unk_day else "")
    if fmt == "cjk":
        return f"{d.year}年{d.month}月"
    raise ValueError(fmt)


@lru_cache(maxsize=None)
def _lookup(kind: str) -> pa.Array:
    """All dates LO..HI rendered in every format, formats concatenated in DATE_FORMATS order."""
    dates = [_LO + dt.timedelta(days=i) for i in range(NDAYS)]
    out: list[str] = []
    for f in DATE_FORMATS:
        if kind == "full":
            out += [_render(d, f) for d in dates]
        elif kind == "month":
            out += [_render_month(d, f, False) for d in dates]
        else:
            out += [_render_month(d, f, True) for d in dates]
    return pa.array(out, type=pa.string())


def render(days: np.ndarray, fmt_idx: np.ndarray, kind: str = "full") -> pa.Array:
    """Render day numbers with per-row format indices (into DATE_FORMATS); MISSING -> null."""
    days = np.asarray(days, dtype=np.int64)
    missing = days == MISSING
    if np.any(~missing & ((days < LO) | (days > HI))):
        raise ValueError("date outside the renderable range 1900-2035")
    idx = np.where(missing, 0, np.asarray(fmt_idx, dtype=np.int64) * NDAYS + (days - LO))
    out = pc.take(_lookup(kind), pa.array(idx))
    if missing.any():
        out = pc.if_else(pa.array(missing), pa.nulls(len(days), pa.string()), out)
    return out


def render_iso(days: np.ndarray) -> pa.Array:
    return render(days, np.zeros(len(days), dtype=np.int8))
