"""Errors that stop the run, and the trail of everything cleaning did to the data.

Bad input never disappears silently: an unrecoverable problem raises :class:`DataError`
naming file, row, column, the rule (with its registry id), the offending value and what to
do; a recoverable one becomes a query-log entry (file, row, subject, column, check id, rule,
original value, action) and the data are changed only as the action says. Rows rejected by a
query are counted per file (record reconciliation); site conventions converted to the
canonical form are counted in the harmonisation summary.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .registry import BY_RULE, check_of

QUERY_COLUMNS = ["FILE", "ROW", "SUBJID", "COLUMN", "CHECK", "RULE", "ORIGINAL", "ACTION"]
HARMONISATION_COLUMNS = ["FILE", "COLUMN", "RULE", "CELLS"]
_GENERIC_TODO = "correct the value at the site, re-export the file and re-lock the extract (make relock)"


def _where(file: str, row: int | None, column: str | None) -> str:
    where = f"data/raw/{file}.csv"
    if row is not None:
        where += f", row {row}"
    if column:
        where += f", column {column}"
    return where


class DataError(ValueError):
    """An unrecoverable problem in the raw data: the run stops.

    ``file`` (raw file stem), ``row`` (1-based data row = the file's line number minus one),
    ``column``, ``rule`` (a rule name of :mod:`apec_sar.clean.registry`), ``detail`` (what is
    wrong), ``value`` (the offending value, when there is one), ``todo`` (what to do; the
    rule's default from the registry when not given), ``other_rows`` (further rows failing the
    same rule, listed in the message).
    """

    def __init__(self, file: str, row: int | None, column: str | None, rule: str, detail: str, *,
                 value=None, todo: str | None = None, other_rows=()):
        self.file, self.row, self.column, self.rule, self.detail = file, row, column, rule, detail
        self.value = value.item() if isinstance(value, np.generic) else value
        check = BY_RULE.get(rule)
        self.check = check.id if check else None
        self.todo = todo or (check.todo if check and check.todo else _GENERIC_TODO)
        self.other_rows = [int(r) for r in other_rows]
        where = _where(file, row, column)
        if self.value is not None:
            if isinstance(self.value, str) and len(self.value) > 80:       # the start of a long value
                where += f", value {self.value[:60]!r}... ({len(self.value):,d} characters)"
            else:
                where += f", value {self.value!r}"
        rule_txt = f"rule {self.check} '{rule}'" if self.check else f"rule '{rule}'"
        also = ""
        if self.other_rows:
            shown = ", ".join(str(r) for r in self.other_rows[:5])
            more = f" and {len(self.other_rows) - 5} more" if len(self.other_rows) > 5 else ""
            also = f" (the same in row{'s' if len(self.other_rows) > 1 else ''} {shown}{more})"
        super().__init__(f"{where}: {rule_txt} failed: {detail}{also}. What to do: {self.todo}.")

    def __reduce__(self):
        """Pickled with its fields (a worker process of the partitioned run sends it back)."""
        return (_data_error, (self.file, self.row, self.column, self.rule, self.detail, self.value, self.todo,
                              self.other_rows))


def _data_error(file, row, column, rule, detail, value, todo, other_rows) -> DataError:
    return DataError(file, row, column, rule, detail, value=value, todo=todo, other_rows=other_rows)


def value_text(v) -> str | None:
    """A cleaned value as the query log and messages show it (see :func:`original_text`)."""
    if v is None or isinstance(v, str):
        return v
    if isinstance(v, (bool, np.bool_)):
        return str(bool(v))
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    try:
        if pd.isna(v):
            return None
    except (TypeError, ValueError):
        pass
    if isinstance(v, (float, np.floating)):
        if v == 0 or 1e-6 <= abs(v) < 1e16:
            return np.format_float_positional(v, trim="-")      # shortest digits that read back as v
        return str(v)
    if isinstance(v, (pd.Timestamp, np.datetime64, dt.datetime, dt.date)):
        t = pd.Timestamp(v)
        return t.date().isoformat() if t == t.normalize() else t.isoformat()
    return str(v)


def original_text(values) -> np.ndarray:
    """The query log's ORIGINAL as text, whatever type the cleaned column holds: a number in its
    shortest form, without a spurious ``.0`` (12.0 -> "12", 2.5 -> "2.5"), a date as ISO, missing
    as None. One type in the column, so the log reads the same from memory, from its CSV and from
    the partitioned run's Parquet files."""
    if isinstance(values, np.ndarray) and values.dtype == object:
        a = values
    elif isinstance(values, (np.ndarray, pd.Series, pd.Index)):
        a = pd.Series(values).astype(object).to_numpy()          # datetime64 as Timestamps
    else:
        a = np.array(list(values), dtype=object)                 # a list's numbers stay numbers
    if all(v is None or type(v) is str for v in a):
        return a
    return np.array([value_text(v) for v in a], dtype=object)


@dataclass
class QueryLog:
    """The query log, the rejected-row counts and the harmonisation notes of one cleaning run.

    ROW is the raw file's data row; ROW 0 means the entry concerns the file (an unknown column)
    or a patient with no row in it (a missing domain)."""

    parts: list[pd.DataFrame] = field(default_factory=list)
    rejected: dict[str, int] = field(default_factory=dict)
    notes: list[tuple[str, str, str, int]] = field(default_factory=list)

    def add(self, file: str, rows, subjects, column: str, rule: str, original, action) -> None:
        """One entry per row in ``rows``; ``rule`` must be registered (its id goes in CHECK)."""
        check = check_of(rule).id
        rows = np.asarray(rows)
        if len(rows) == 0:
            return
        n = len(rows)

        def col(x):
            if x is None or isinstance(x, str):
                return np.full(n, x, dtype=object)
            return np.asarray(x, dtype=object)

        self.parts.append(pd.DataFrame({
            "FILE": col(file), "ROW": rows.astype(np.int64), "SUBJID": col(subjects), "COLUMN": col(column),
            "CHECK": col(check), "RULE": col(rule),
            "ORIGINAL": col(original) if original is None or isinstance(original, str) else
            col(value_text(original)) if np.ndim(original) == 0 else original_text(original),
            "ACTION": col(action)}))

    def reject(self, file: str, df: pd.DataFrame, mask, column: str, rule: str, original, action) -> pd.DataFrame:
        """Log the rows of ``df`` where ``mask`` holds, count them as rejected, return the others."""
        mask = np.asarray(mask, dtype=bool)
        idx = np.flatnonzero(mask)
        if not len(idx):
            return df
        orig = original if original is None or isinstance(original, str) else np.asarray(original, dtype=object)[idx]
        act = action if isinstance(action, str) else np.asarray(action, dtype=object)[idx]
        self.add(file, df.SRC_ROW.to_numpy()[idx], df.SUBJID.astype(object).to_numpy()[idx], column, rule, orig, act)
        self.rejected[file] = self.rejected.get(file, 0) + len(idx)
        return df[~mask].reset_index(drop=True)

    def note(self, file: str, column: str, rule: str, cells: int) -> None:
        """Count ``cells`` converted from a site convention to the canonical form."""
        self.notes.append((file, column, rule, int(cells)))

    def frame(self) -> pd.DataFrame:
        if not self.parts:
            return pd.DataFrame({c: pd.Series(dtype="int64" if c == "ROW" else object) for c in QUERY_COLUMNS})
        return sort_queries(pd.concat(self.parts, ignore_index=True))

    def harmonisation(self) -> pd.DataFrame:
        return harmonisation_summary(self.notes)


def sort_queries(df: pd.DataFrame) -> pd.DataFrame:
    """The query log's order: file, row, column, rule (stable)."""
    return df.sort_values(["FILE", "ROW", "COLUMN", "RULE"], kind="stable").reset_index(drop=True)


def harmonisation_summary(notes: list[tuple[str, str, str, int]]) -> pd.DataFrame:
    """Cells converted per (file, column, rule), rules in the order first used."""
    h = pd.DataFrame(notes, columns=HARMONISATION_COLUMNS)
    h = h[h.CELLS > 0].groupby(["FILE", "COLUMN", "RULE"], as_index=False, sort=False).CELLS.sum()
    return h.reset_index(drop=True)


def interleave_notes(parts: list[list[tuple[str, str, str, int]]]) -> list[tuple[str, str, str, int]]:
    """The notes of several parts of one run (patient partitions, each running the same calls)
    merged call by call, so :func:`harmonisation_summary` lists the rules in the order of an
    unsplit run."""
    out = []
    for k in range(max((len(p) for p in parts), default=0)):
        out.extend(p[k] for p in parts if k < len(p))
    return out
