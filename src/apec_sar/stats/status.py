"""Event-status coding shared by every survival function.

Rule: the status is 1 (or True) for an event and 0 (or False) for a censored time; anything
else stops the run with a ValueError naming the offending values. R's ``Surv`` also accepts
1 = censored / 2 = event; such data are read only when the caller says so with
``event_value=2`` (the censored code then defaults to 1, R's convention), never by guessing:
guessing is how 1/2-coded data once produced more events than patients.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def event_indicator(status, event_value=None, censor_value=None, name: str = "status") -> np.ndarray:
    """Boolean event indicator from a status vector.

    Without ``event_value``: values must be 0/1 (any numeric type) or booleans. With
    ``event_value``: records equal to it are events, records equal to ``censor_value``
    (default 1 when ``event_value`` is 2, else 0) are censored, and any other value is an error.
    Missing values are an error (remove such records explicitly first)."""
    s = status if isinstance(status, pd.Series) else pd.Series(np.asarray(status))
    missing = s.isna().to_numpy()
    if missing.any():
        rows = [int(i) for i in np.flatnonzero(missing)[:5]]
        raise ValueError(f"{name}: {int(missing.sum())} missing value(s) (first positions {rows}); "
                         "remove or resolve them before the analysis")
    if event_value is None:
        event_codes, censor_codes = [1], [0]
        hint = ("are not 0/1 (0 = censored, 1 = event) or booleans; "
                "for R-style 1 = censored / 2 = event coding pass event_value=2")
    else:
        if censor_value is None:
            censor_value = 1 if _is_code(event_value, 2) else 0
        if _is_code(censor_value, event_value):
            raise ValueError(f"{name}: event_value and censor_value must differ")
        event_codes, censor_codes = [event_value], [censor_value]
        hint = f"are neither the event code {event_value!r} nor the censored code {censor_value!r}"
    uniq = pd.unique(s)
    ev = [v for v in uniq if any(_is_code(v, c) for c in event_codes)]
    bad = [v for v in uniq if v not in ev and not any(_is_code(v, c) for c in censor_codes)]
    if bad:
        bad = sorted((v.item() if isinstance(v, np.generic) else v for v in bad), key=str)
        raise ValueError(f"{name}: values {bad[:10]} {hint}")
    return s.isin(ev).to_numpy()


def _is_code(v, code) -> bool:
    """v equals the code, with booleans read as 0/1 and strings never equal to numbers."""
    if isinstance(v, str) != isinstance(code, str):
        return False
    try:
        return bool(v == code)
    except (TypeError, ValueError):
        return False
