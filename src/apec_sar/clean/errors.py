"""Errors that stop the run, and the query log of recoverable problems.

Bad input never disappears silently: an unrecoverable problem raises :class:`DataError`
naming file, row, column and rule; a recoverable one becomes a query-log entry (file, row,
subject, column, rule, original value, action) and the data are changed only as the action says.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

QUERY_COLUMNS = ["FILE", "ROW", "SUBJID", "COLUMN", "RULE", "ORIGINAL", "ACTION"]


class DataError(ValueError):
    """An unrecoverable problem in the raw data: the run stops."""

    def __init__(self, file: str, row: int | None, column: str | None, rule: str, detail: str):
        self.file, self.row, self.column, self.rule, self.detail = file, row, column, rule, detail
        where = f"data/raw/{file}.csv"
        if row is not None:
            where += f", row {row}"
        if column:
            where += f", column {column}"
        super().__init__(f"{where}: rule '{rule}' failed: {detail}")


@dataclass
class QueryLog:
    parts: list[pd.DataFrame] = field(default_factory=list)

    def add(self, file: str, rows, subjects, column: str, rule: str, original, action) -> None:
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
            "RULE": col(rule), "ORIGINAL": col(original), "ACTION": col(action)}))

    def frame(self) -> pd.DataFrame:
        if not self.parts:
            return pd.DataFrame({c: pd.Series(dtype="int64" if c == "ROW" else object) for c in QUERY_COLUMNS})
        df = pd.concat(self.parts, ignore_index=True)
        return df.sort_values(["FILE", "ROW", "COLUMN", "RULE"], kind="stable").reset_index(drop=True)
