"""Controlled-term mapping tables kept as data files in ``data/mappings/``.

- ``drug_names.csv``: any spelling of a drug (INN, Chinese, brand, code) -> INN, drug class, ICI flag
- ``ae_terms.csv``: verbatim AE term -> CTCAE v5 term, system organ class, immune-related flag
- ``codes.csv``: site codings of sex and yes/no -> canonical code
- ``lab_units.csv``: (test, unit) -> factor to the SI unit

A value missing from a table stops the run (it must be added to the table, by a person).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import pandas as pd

from ..paths import data_dir
from .errors import DataError


@lru_cache(maxsize=None)
def table(name: str) -> pd.DataFrame:
    path = data_dir() / "mappings" / f"{name}.csv"
    df = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8")
    key = {"lab_units": ["LAB_TEST", "UNIT"], "codes": ["CODELIST", "RAW"]}.get(name, df.columns[0])
    if df.duplicated(key).any():
        raise ValueError(f"{path}: duplicate entries for {df[df.duplicated(key)].iloc[0].tolist()}")
    return df


def _lookup(values: pd.Series, mapping: dict, file: str, column: str, rule: str, hint: str,
            src_rows: np.ndarray, case_insensitive: bool = False) -> pd.Series:
    """Map values through a dict via their unique values (fast on big columns)."""
    cat = values.astype("category")
    cats = list(cat.cat.categories)
    low = {k.lower(): v for k, v in mapping.items()} if case_insensitive else {}
    mapped = []
    for c in cats:
        if c in mapping:
            mapped.append(mapping[c])
        elif case_insensitive and c.strip().lower() in low:
            mapped.append(low[c.strip().lower()])
        else:
            row = int(src_rows[np.flatnonzero((values == c).fillna(False).to_numpy())[0]])
            raise DataError(file, row, column, rule, f"not in {hint}", value=c)
    codes = cat.cat.codes.to_numpy()
    out = np.asarray(mapped, dtype=object)[np.maximum(codes, 0)] if len(mapped) else np.full(len(values), None, dtype=object)
    out[codes < 0] = None
    return pd.Series(out, index=values.index, dtype=object)


def map_codes(values: pd.Series, codelist: str, file: str, column: str, src_rows: np.ndarray) -> pd.Series:
    t = table("codes")
    m = dict(zip(t.RAW[t.CODELIST == codelist], t.CANONICAL[t.CODELIST == codelist]))
    return _lookup(values, m, file, column, "code mapping", f"data/mappings/codes.csv ({codelist})", src_rows)


def map_drugs(values: pd.Series, file: str, column: str, src_rows: np.ndarray) -> pd.DataFrame:
    """Split '+'-joined regimens and map every drug: returns INN ('+'-joined, in order),
    classes ('+'-joined) and flags for an ICI, anlotinib and a PD-1/PD-L1 inhibitor."""
    t = table("drug_names")
    inn = dict(zip(t.NAME, t.INN))
    cls = dict(zip(t.INN, t.DRUG_CLASS))
    ici = dict(zip(t.INN, t.ICI))
    uniq = pd.Series(values.dropna().unique())
    rows = {}
    for v in uniq:
        parts = [p.strip() for p in str(v).split("+")]
        names = []
        for p in parts:
            if p in inn:
                names.append(inn[p])
            elif p.lower() in {k.lower(): 1 for k in inn}:
                names.append(next(val for k, val in inn.items() if k.lower() == p.lower()))
            else:
                row = int(src_rows[np.flatnonzero((values == v).fillna(False).to_numpy())[0]])
                raise DataError(file, row, column, "drug name mapping",
                                f"drug {p!r} is not in data/mappings/drug_names.csv", value=v)
        rows[v] = ("+".join(names), "+".join(cls[n] for n in names), any(ici[n] == "Y" for n in names),
                   "anlotinib" in names)
    res = pd.DataFrame.from_dict(rows, orient="index", columns=["INN", "CLASS", "HAS_ICI", "HAS_ANLOTINIB"])
    out = res.reindex(values.astype(object).to_numpy())
    out.index = values.index
    return out


def map_ae_terms(values: pd.Series, file: str, src_rows: np.ndarray) -> pd.DataFrame:
    t = table("ae_terms")
    term = _lookup(values, dict(zip(t.VERBATIM, t.CTCAE_TERM)), file, "AE_VERBATIM", "AE term mapping",
                   "data/mappings/ae_terms.csv", src_rows, case_insensitive=True)
    soc = dict(zip(t.CTCAE_TERM, t.SOC))
    ir = dict(zip(t.CTCAE_TERM, t.IMMUNE_RELATED))
    return pd.DataFrame({"AEDECOD": term, "AESOC": term.map(soc), "AEIRFL": term.map(ir)}, index=values.index)


def si_factor(test: pd.Series, unit: pd.Series, file: str, src_rows: np.ndarray) -> tuple[np.ndarray, pd.Series]:
    t = table("lab_units")
    m = {(a, b): (float(c), d) for a, b, c, d in zip(t.LAB_TEST, t.UNIT, t.FACTOR_TO_SI, t.SI_UNIT)}
    key = test.astype(object) + "|" + unit.astype(object)
    uniq = key.unique()
    fac, si = {}, {}
    for k in uniq:
        a, b = k.split("|", 1)
        if (a, b) not in m:
            row = int(src_rows[np.flatnonzero((key == k).to_numpy())[0]])
            raise DataError(file, row, "UNIT", "lab unit", f"no conversion for {a} in data/mappings/lab_units.csv", value=b)
        fac[k], si[k] = m[(a, b)]
    return key.map(fac).to_numpy(dtype=float), key.map(si)
