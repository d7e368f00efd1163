"""Descriptive summaries (DMT01-style) into the ARD: continuous and categorical variables."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..ard import ARD


def describe(df: pd.DataFrame, variables: list[tuple[str, str, str | list | None]], output_id: str,
             analysis: str, population: str) -> ARD:
    """variables: (column, label, kind) with kind 'continuous' or a list of levels (categorical,
    in display order; a value not listed is added after them, so the counts add up to N; missing
    values counted as 'Missing')."""
    ard = ARD()
    n = len(df)
    ard.add(output_id, analysis, population, "ALL", "All", "N", n)
    for col, label, kind in variables:
        x = df[col]
        if kind == "continuous":
            v = pd.to_numeric(x, errors="coerce").dropna().astype(float)
            stats = {"n": len(v), "MEAN": v.mean() if len(v) else np.nan,
                     "SD": v.std(ddof=1) if len(v) > 1 else np.nan, "MEDIAN": v.median() if len(v) else np.nan,
                     "Q1": v.quantile(0.25) if len(v) else np.nan, "Q3": v.quantile(0.75) if len(v) else np.nan,
                     "MIN": v.min() if len(v) else np.nan, "MAX": v.max() if len(v) else np.nan}
            for s, val in stats.items():
                ard.add(output_id, analysis, population, col, label, s, val,
                        "quartiles: linear interpolation (R type 7)" if s in ("Q1", "Q3") else "")
        else:
            # a value the caller did not list is shown, never dropped (e.g. ECOG 3 among the
            # screened): the counts of a variable always add up to N
            def plain(v):           # numpy scalars as Python numbers; 2.0 as 2
                v = v.item() if isinstance(v, np.generic) else v
                return int(v) if isinstance(v, float) and v.is_integer() else v
            seen = {plain(v) for v in x.dropna().unique()}
            extra = sorted(seen - set(kind), key=str)
            levels = list(kind) + extra
            if extra and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in levels):
                levels = sorted(levels)          # numeric levels in numeric order (0 lines before 1)
            for lev in levels:
                k = int((x == lev).sum())
                ard.add(output_id, analysis, population, col, label, f"n[{lev}]", k)
                ard.add(output_id, analysis, population, col, label, f"pct[{lev}]", 100 * k / n if n else np.nan)
            miss = int(x.isna().sum())
            if miss:
                ard.add(output_id, analysis, population, col, label, "n[Missing]", miss)
                ard.add(output_id, analysis, population, col, label, "pct[Missing]", 100 * miss / n)
    return ard
