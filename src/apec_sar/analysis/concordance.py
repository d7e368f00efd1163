"""Concordance with the publication: every published APEC figure beside the SAR's value from
the ARD (same method where the publication's can be inferred), with the difference."""

from __future__ import annotations

import pandas as pd

from ..paths import data_dir


def publication_figures() -> pd.DataFrame:
    return pd.read_csv(data_dir() / "reference" / "publication.csv", keep_default_na=False)


def concordance(ard: pd.DataFrame) -> pd.DataFrame:
    """Every published figure beside the SAR's value derived at the publication's cut-off, the
    difference, the tolerance and the verdict ("agrees" when |difference| <= tolerance, else
    "differs"). Tolerances (data/reference/publication.csv): counts exactly; percentages and
    medians within the publication's rounding (0.05); the published median CIs, which are
    symmetric (median +/- 1.96 SE, as SPSS prints them) within 0.3 months of the SAR's
    symmetric CI -- the SAR's own Brookmeyer-Crowley CI is shown beside it and is not expected to
    agree (another method)."""
    pub = publication_figures()

    def value(output_id, parameter, group, stat):
        hit = ard[(ard.OUTPUT_ID.astype(str) == output_id) & (ard.PARAMETER == parameter) & (ard.GROUP == group)
                  & (ard.STAT == stat)]
        return (float(hit.VALUE.iloc[0]) if len(hit) == 1 else float("nan")), len(hit)

    rows = []
    for r in pub.itertuples():
        sar, n_rows = value(r.OUTPUT_ID, r.PARAMETER, r.GROUP, r.STAT)
        alt = value(r.OUTPUT_ID, r.PARAMETER, r.GROUP, r.ALT_STAT)[0] if r.ALT_STAT else float("nan")
        published, tol = float(r.PUBLISHED), float(r.TOLERANCE)
        diff = sar - published
        verdict = "agrees" if abs(diff) <= tol + 1e-9 else "differs"
        rows.append({"ID": r.ID, "Quantity": r.QUANTITY, "Unit": r.UNIT, "Published": published, "SAR": sar,
                     "Difference": diff, "Tolerance": tol, "Verdict": verdict, "SAR primary method": alt,
                     "Source": r.SOURCE, "Note": r.NOTE, "ARD rows": n_rows})
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
    ard.extend(describe(a, [], "tbl-dmt01", "demographics and baseline", "Analysis set"))
    ard.extend(describe(a, [("PRLINES", "Prior systemic lines for advanced disease", [1, 2, 3]),
                            ("PRIOR_RESECTION", "Prior oesophagectomy", ["Y", "N"])], "tbl-prior", "prior therapy",
                        "Analysis set"))
    adrs = d.datasets["adrs"]
    ard.extend(response_summary(adrs[adrs.USUBJID.isin(eff)], "tbl-rspt01", "BOR"))
    adtte = d.datasets["adtte"]
    for p in ("PFS", "OS"):
        ard.extend(tte_summary(adtte[adtte.USUBJID.isin(eff)], p, "tbl-ttet01")[0])
    # the publication's safety analysis covers its 29 eligible patients
    ard.extend(overview(d.datasets["adae"], adsl, "tbl-aet01", flag="EFFFL", population="Safety set"))
    return ard.frame()


def concordance_table(conc: pd.DataFrame) -> pd.DataFrame:
    """Display rows: counts as integers, percentages to one decimal, months to two; the SAR's own
    method beside the symmetric CI limits the publication printed."""
    from ..stats.rounding import fmt

    def show(v, unit):
        if v != v:
            return ""
        return str(int(round(v))) if unit == "patients" else fmt(v, 1 if unit == "%" else 2)

    return pd.DataFrame({
        "Quantity": [f"{q} ({u})" if u != "patients" else f"{q}, n" for q, u in zip(conc.Quantity, conc.Unit)],
        "Published": [show(v, u) for v, u in zip(conc.Published, conc.Unit)],
        "SAR": [show(v, u) for v, u in zip(conc.SAR, conc.Unit)],
        "Difference": [show(v, u) if u != "patients" else str(int(round(v))) for v, u in zip(conc.Difference, conc.Unit)],
        "Tolerance": [fmt(v, 2) if u != "patients" else "exact" for v, u in zip(conc.Tolerance, conc.Unit)],
        "Verdict": conc.Verdict,
        "SAR, Brookmeyer-Crowley CI": [show(v, u) for v, u in zip(conc["SAR primary method"], conc.Unit)],
        "Source": conc.Source})


def concordance_ard(conc: pd.DataFrame, output_id: str) -> "ARD":
    """The concordance table as ARD rows (PARAMETER = the published figure's ID): the published
    value, the SAR's, the difference, the tolerance, the SAR's own-method value (ALT) and AGREES
    (1/0); and, PARAMETER "ALL", the number of figures compared, agreeing and differing."""
    from ..ard import ARD
    from ..config import PUBLICATION_CUTOFF
    ard = ARD()
    pop = f"Analysis set at the publication cut-off ({PUBLICATION_CUTOFF})"
    meth = "published figure beside the SAR's value derived at the publication's cut-off; agrees: |difference| <= tolerance"
    for r in conc.to_dict("records"):
        for stat, v in (("PUBLISHED", r["Published"]), ("SAR", r["SAR"]), ("DIFFERENCE", r["Difference"]),
                        ("TOLERANCE", r["Tolerance"]), ("ALT", r["SAR primary method"]),
                        ("AGREES", float(r["Verdict"] == "agrees"))):
            ard.add(output_id, "concordance", pop, r["ID"], "All", stat, v, meth)
    ard.add(output_id, "concordance", pop, "ALL", "All", "N", len(conc), meth)
    ard.add(output_id, "concordance", pop, "ALL", "All", "AGREE_N", int((conc.Verdict == "agrees").sum()), meth)
    ard.add(output_id, "concordance", pop, "ALL", "All", "DIFFER_N", int((conc.Verdict == "differs").sum()), meth)
    return ard
