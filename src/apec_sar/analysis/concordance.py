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


def publication_ard() -> pd.DataFrame:
    """The ARD rows the concordance needs, always at the publication's data cut-off
    (2022-07-03), whatever the SAR version's cut-off: derived again from the clean tables."""
    from ..clean import load_clean
    from ..config import PUBLICATION_CUTOFF
    from ..derive import derive_all
    from ..paths import clean_dir
    from .response import response_summary
    from .safety import overview
    from .summary import describe
    from .survival import tte_summary
    from ..ard import ARD

    d = derive_all(load_clean(clean_dir()), PUBLICATION_CUTOFF)
    adsl = d.datasets["adsl"]
    a = adsl[adsl.EFFFL == "Y"]
    eff = set(a.USUBJID)
    ard = ARD()
    ard.extend(describe(a, [], "14.1.2", "demographics and baseline", "Analysis set"))
    ard.extend(describe(a, [("PRLINES", "Prior systemic lines for advanced disease", [1, 2, 3]),
                            ("PRIOR_RESECTION", "Prior oesophagectomy", ["Y", "N"])], "14.1.3", "prior therapy",
                        "Analysis set"))
    adrs = d.datasets["adrs"]
    ard.extend(response_summary(adrs[adrs.USUBJID.isin(eff)], "14.2.1", "BOR"))
    adtte = d.datasets["adtte"]
    for p in ("PFS", "OS"):
        ard.extend(tte_summary(adtte[adtte.USUBJID.isin(eff)], p, "14.2.5")[0])
    # the publication's safety analysis covers its 29 eligible patients
    ard.extend(overview(d.datasets["adae"], adsl, "14.3.1", flag="EFFFL", population="Safety set"))
    return ard.frame()
