"""Analysis results dataset (ARD, SAR_SPEC 7): every statistic shown in a table or figure,
in long format, written by each analysis notebook to ``data/ard/<notebook>.csv``.

Columns: OUTPUT_ID (the table/figure id, e.g. ``14.2.3``), ANALYSIS, POPULATION, PARAMETER,
GROUP, STAT, VALUE (a float, or NaN when not estimable), METHOD. Tables are formatted from
these rows, the concordance table compares them with the publication, and the next SAR
version's "what changed" appendix diffs them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .paths import data_dir

COLUMNS = ["OUTPUT_ID", "ANALYSIS", "POPULATION", "PARAMETER", "GROUP", "STAT", "VALUE", "METHOD"]


def ard_dir() -> Path:
    return data_dir() / "ard"


@dataclass
class ARD:
    rows: list[dict] = field(default_factory=list)

    def add(self, output_id: str, analysis: str, population: str, parameter: str, group: str, stat: str,
            value, method: str = "") -> None:
        v = float(value) if value is not None and not (isinstance(value, float) and np.isnan(value)) else np.nan
        self.rows.append(dict(OUTPUT_ID=output_id, ANALYSIS=analysis, POPULATION=population, PARAMETER=parameter,
                              GROUP=group, STAT=stat, VALUE=v, METHOD=method))

    def extend(self, other: "ARD") -> None:
        self.rows.extend(other.rows)

    def frame(self) -> pd.DataFrame:
        return pd.DataFrame(self.rows, columns=COLUMNS)

    def get(self, **kw) -> float:
        df = self.frame()
        for k, v in kw.items():
            df = df[df[k.upper()] == v]
        if len(df) != 1:
            raise KeyError(f"{kw}: {len(df)} ARD rows")
        return float(df.VALUE.iloc[0])

    def write(self, name: str, folder: Path | None = None) -> Path:
        folder = Path(folder or ard_dir())
        folder.mkdir(parents=True, exist_ok=True)
        p = folder / f"{name}.csv"
        self.frame().to_csv(p, index=False, float_format="%.17g", lineterminator="\n")
        return p


def load_ard(folder: Path | None = None) -> pd.DataFrame:
    folder = Path(folder or ard_dir())
    parts = [pd.read_csv(p, keep_default_na=False, na_values=[""]) for p in sorted(folder.glob("*.csv"))]
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=COLUMNS)
