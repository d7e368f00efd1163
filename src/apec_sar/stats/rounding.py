"""Rounding and number formats for tables (SAR_SPEC 6).

Python's ``round`` rounds half to even (round(0.125, 2) == 0.12); clinical tables round half
away from zero (0.13), as SAS does. Decimals are handled exactly via ``decimal``.
"""

from __future__ import annotations

import math
from decimal import ROUND_HALF_UP, Decimal


def round_half_away(x: float, digits: int = 0) -> float:
    """Round half away from zero: 2.5 -> 3, -2.5 -> -3, 0.125 -> 0.13 (2 digits).

    The float is first read with 15 significant digits so binary noise (2.675 stored as
    2.67499999...) does not decide the rounding, as in SAS's ROUND."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return float("nan")
    d = Decimal(repr(float(f"{x:.15g}")))
    q = Decimal(1).scaleb(-digits)
    return float(d.quantize(q, rounding=ROUND_HALF_UP))


def fmt(x: float, digits: int = 1, missing: str = "NE") -> str:
    """Fixed decimals, half away from zero; NaN -> 'NE' (not estimable)."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return missing
    return f"{round_half_away(x, digits):.{digits}f}"


def fmt_p(p: float) -> str:
    """p-values: 3 decimals, '<0.001' below."""
    if p is None or (isinstance(p, float) and math.isnan(p)):
        return "NE"
    if p < 0.001:
        return "<0.001"
    return fmt(p, 3)
