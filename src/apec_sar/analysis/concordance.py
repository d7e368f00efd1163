"""Concordance with the publication: every published APEC figure beside the SAR's value from
the ARD (same method where the publication's can be inferred), with the difference."""

from __future__ import annotations

import pandas as pd

from ..paths import data_dir


def publication_figures() -> pd.DataFrame:
    return pd.read_csv(data_dir() / "reference" / "publication.csv", keep_default_na=False)


def concordance(ard: pd.DataFrame) -> pd.DataFrame:
    pub = publication_figures()
    rows = []
    for r in pub.itertuples():
        hit = ard[(ard.OUTPUT_ID.astype(str) == r.OUTPUT_ID) & (ard.PARAMETER == r.PARAMETER) & (ard.GROUP == r.GROUP)
                  & (ard.STAT == r.STAT)]
        sar = float(hit.VALUE.iloc[0]) if len(hit) == 1 else float("nan")
        published = float(r.PUBLISHED)
        rows.append({"ID": r.ID, "Quantity": r.QUANTITY, "Unit": r.UNIT, "Published": published, "SAR": sar,
                     "Difference": sar - published, "Source": r.SOURCE, "Note": r.NOTE,
                     "ARD rows": len(hit)})
    return pd.DataFrame(rows)
