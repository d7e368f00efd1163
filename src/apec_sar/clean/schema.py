"""Declared schemas of the raw files (pandera), built from the data dictionary.

Raw values are strings; the schema checks, per column, the shape a site may legitimately send:
codes within the dictionary's site codes, numbers that parse, dates in a site format (complete
or partial), identifiers and required fields present. A failure stops the run with the file,
the 1-based data row, the column and the rule (:class:`DataError`).
"""

from __future__ import annotations

import pandas as pd
import pandera.pandas as pa

from ..dictionary import load_dictionary
from .errors import DataError

# a date in any site format, complete or partial (validated for real calendar dates later)
DATE_RE = (r"^\s*(\d{4}([-/.]\d{1,2}([-/.](\d{1,2}|UNK))?|[-/.](UNK)([-/.]UNK)?)?|\d{4}年\d{1,2}月(\d{1,2}日)?|\d{5})\s*$")
INT_RE = r"^-?[0-9]+$"                 # ASCII digits: Python's \d also matches full-width and other
DEC_RE = r"^-?[0-9]+(\.[0-9]+)?$"      # scripts' digits, which the numeric parser then refuses

# columns that must never be empty (the record is meaningless without them)
REQUIRED = {
    "screening_log": ["SITE_ID", "SUBJID", "SCREEN_DATE"],
    "demographics": ["SUBJID", "SEX", "BIRTH_DATE", "ECOG"],
    "baseline_disease": ["SUBJID", "HISTOLOGY", "PRIOR_RESECTION", "BRAIN_METASTASIS",
                         "OTHER_MALIGNANCY_5Y", "UNSTABLE_SYSTEMIC_DISEASE"],
    "metastatic_sites": ["SUBJID", "MET_SITE"],
    "baseline_labs": ["SUBJID", "LAB_DATE", "LAB_TEST", "UNIT"],
    "prior_therapy": ["SUBJID", "SETTING", "REGIMEN", "START_DATE"],
    "exposure": ["SUBJID", "CYCLE", "DRUG", "START_DATE", "DOSE", "DOSE_UNIT"],
    "tumour_assessments": ["SUBJID", "VISIT", "ASSESS_DATE"],
    "adverse_events": ["SUBJID", "AE_VERBATIM", "START_DATE", "CTCAE_GRADE"],
    "follow_up": ["SUBJID", "CONTACT_DATE", "STATUS"],
    "subsequent_therapy": ["SUBJID", "THERAPY", "START_DATE"],
}


# pandera check -> registry rule
RULES = {"not_nullable": "required value", "not a date in any site format": "date in a site format",
         "not an integer": "integer", "value not allowed": "allowed value", "not a number": "number",
         "unknown code (not in the data dictionary)": "code in the dictionary",
         "does not match the id pattern": "id pattern",
         "more than 9 digits (not a count or a code)": "integer",
         "more than 15 digits before the decimal point (no measurement has as many)": "number"}

# an integer or a number too long for the numeric parser (int64, float) to hold exactly: the check
# fails only on such a value (leading zeros do not count), so other values keep their own message
TOO_LONG_INT_RE = r"^(?!-?0*[1-9][0-9]{9,}$)"
TOO_LONG_DEC_RE = r"^(?!-?0*[1-9][0-9]{15,}(\.[0-9]+)?$)"


def _checks(spec: dict) -> list[pa.Check]:
    t = spec["type"]
    if t == "date":
        return [pa.Check.str_matches(DATE_RE, error="not a date in any site format")]
    if t == "integer":
        checks = [pa.Check.str_matches(INT_RE, error="not an integer"),
                  pa.Check.str_matches(TOO_LONG_INT_RE, error="more than 9 digits (not a count or a code)")]
        if "allowed" in spec:
            checks.append(pa.Check.isin([str(a) for a in spec["allowed"]], error="value not allowed"))
        return checks
    if t == "decimal":
        return [pa.Check.str_matches(DEC_RE, error="not a number"),
                pa.Check.str_matches(TOO_LONG_DEC_RE,
                                     error="more than 15 digits before the decimal point (no measurement has as many)")]
    if t == "code":
        allowed = [str(c) for c in spec.get("site_codes", spec["codes"])]
        return [pa.Check.isin(allowed, error="unknown code (not in the data dictionary)")]
    if "pattern" in spec:
        return [pa.Check.str_matches(spec["pattern"], error="does not match the id pattern")]
    return []


_SCHEMAS: dict[str, tuple[dict, pa.DataFrameSchema]] = {}     # file -> (its dictionary entry, schema)


def raw_schema(file: str) -> pa.DataFrameSchema:
    """The pandera schema of a raw file, built once per dictionary entry (a Dask worker validates
    every partition it cleans with it)."""
    spec = load_dictionary()["files"][file]["columns"]
    hit = _SCHEMAS.get(file)
    if hit is not None and hit[0] is spec:
        return hit[1]
    req = set(REQUIRED[file])
    cols = {c: pa.Column(None, checks=_checks(s), nullable=c not in req, coerce=False, required=True)
            for c, s in spec.items()}
    schema = pa.DataFrameSchema(cols, strict=False, name=file)
    _SCHEMAS[file] = (spec, schema)
    return schema


def validate_raw(file: str, df: pd.DataFrame) -> None:
    """Validate a raw frame (strings, None for empty); raise DataError on the first failure
    (lowest row, then dictionary column order), naming file, row, column, rule and value, and
    listing the further rows that fail the same check. Raised outside pandera's exception, so
    it carries no pandera object (a Dask worker's error reaches the client without one)."""
    try:
        raw_schema(file).validate(df.drop(columns=["SRC_ROW"]), lazy=True)
        return
    except pa.errors.SchemaErrors as exc:
        err = _first_failure(file, df, exc.failure_cases)
    raise err


def _first_failure(file: str, df: pd.DataFrame, failure_cases: pd.DataFrame) -> DataError:
    fc = failure_cases[failure_cases["index"].notna()].copy()
    if fc.empty:
        first = failure_cases.iloc[0]
        return DataError(file, None, first["column"], RULES.get(str(first["check"]), str(first["check"])),
                         str(first["failure_case"]))
    order = {c: i for i, c in enumerate(df.columns)}
    fc["index"] = fc["index"].astype(int)
    fc["_col"] = fc["column"].map(order)
    fc = fc.sort_values(["index", "_col"], kind="stable")
    first = fc.iloc[0]
    check = str(first["check"])
    same = fc[(fc["column"] == first["column"]) & (fc["check"] == check)]["index"].unique()
    rows = df["SRC_ROW"].to_numpy()[same]
    rule = RULES.get(check, check)
    if check == "not_nullable":
        return DataError(file, int(rows[0]), str(first["column"]), rule, "required value missing",
                         other_rows=rows[1:])
    return DataError(file, int(rows[0]), str(first["column"]), rule, check, value=first["failure_case"],
                     other_rows=rows[1:])
