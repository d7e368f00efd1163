"""ADAE (treatment-emergent flag, relatedness, immune-related AEs) and ADEX (exposure by drug).

TEAE (admiral ``derive_var_trtemfl``, PHUSE WP-087): not treated -> not flagged; AE ended
before the first dose -> not flagged; start missing -> flagged; start on/after TRTSDT and on/
before TRTEDT + 30 days -> flagged.

Relatedness: related = "Related" or "Possibly related" to either drug; a missing attribution
counts as related (the conservative convention: an event nobody attributed is not assumed
unrelated), and ``AERELIFL`` marks the events where that happened.

Immune-related AE (``AEIRFL``, the SAR's primary definition; post_ici_definitions 2; the
standard is NSF, this is the SAR's choice): an AE with onset from the first PD-1 inhibitor dose
to 90 days after the last one, and either (a) called immune-related by the investigator
(``IRAE_INV`` Y), or (b) treated with systemic corticosteroids while attributed (related,
possibly related, or not recorded) to the PD-1 inhibitor. Hormone replacement alone does not
make an event immune-related: anlotinib itself causes hypothyroidism, which is replaced with
levothyroxine whatever its cause; such endocrinopathies count only when the investigator calls
them immune-related. ``AEIRTLFL`` is the term-list flag ("possible irAE" by preferred term,
whatever the attribution; data/mappings/ae_terms.csv), the sensitivity definition.

ADEX: one row per treated patient (safety set), exposure by drug in variables prefixed ANL
(anlotinib, 12 or 10 mg once daily, days 1-14 of each 21-day cycle) and PD1 (the PD-1
antibody, one infusion per 21-day cycle); see :func:`build_adex` for every definition.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

TEAE_WINDOW_DAYS = 30
IRAE_WINDOW_DAYS = 90
RELATED = ("Related", "Possibly related")
CYCLE_DAYS = 21
ANLOTINIB_DAYS_ON = 14
PROTOCOL_ANLOTINIB_MG = 12.0
DELAY_DAYS = 7          # a cycle started >= 7 days late is delayed (JNCCN 2015 chemotherapy convention)


def treatment_emergent(ast: pd.Series, aen: pd.Series, trtsdt: pd.Series, trtedt: pd.Series,
                       window: int = TEAE_WINDOW_DAYS) -> np.ndarray:
    treated = trtsdt.notna()
    ended_before = aen.notna() & (aen < trtsdt)
    in_window = ast.notna() & (ast >= trtsdt) & (ast <= trtedt + pd.Timedelta(days=window))
    flag = treated & ~ended_before & (ast.isna() | in_window)
    return np.where(flag, "Y", None)


def related_to(attribution: pd.Series) -> pd.Series:
    """Y when the attribution to a drug is related or possibly related, or missing (a missing
    attribution is treated as related: the conservative convention)."""
    return pd.Series(np.where(attribution.isin(RELATED) | attribution.isna(), "Y", "N"), index=attribution.index)


def immune_related(ast: pd.Series, pd1_first: pd.Series, pd1_last: pd.Series, irae_inv: pd.Series,
                   steroid: pd.Series, rel_pd1: pd.Series, window: int = IRAE_WINDOW_DAYS) -> np.ndarray:
    """The SAR's irAE definition (module docstring): onset from the first PD-1 dose to
    ``window`` days after the last, and investigator-called immune-related or treated with
    systemic corticosteroids while attributed to the PD-1 inhibitor (missing attribution
    counts as attributed)."""
    in_window = ast.notna() & pd1_first.notna() & (ast >= pd1_first) & (ast <= pd1_last + pd.Timedelta(days=window))
    steroid_pd1 = (steroid == "Y") & (related_to(rel_pd1) == "Y")
    return np.where(in_window & ((irae_inv == "Y") | steroid_pd1), "Y", "N")


def build_adae(ae: pd.DataFrame, adsl: pd.DataFrame) -> pd.DataFrame:
    """ADAE for the patients of ``adsl`` given (the safety set). Besides the collected values:
    ASTDY (from the first dose), TRTEMFL, ARELANL / ARELPD1 / AREL (relatedness, missing =
    related; AERELIFL), AEIRTLFL (term list), IRINVFL (investigator), AESTERFL (systemic
    corticosteroids), AEHRTFL (hormone replacement), IRWINFL (onset in the irAE window),
    AEIRFL (the primary irAE definition) and IRONSDY (days from the first PD-1 dose to onset)."""
    a = ae.merge(adsl[["USUBJID", "TRTSDT", "TRTEDT", "PD1SDT", "PD1EDT", "SAFFL", "EFFFL"]], on="USUBJID",
                 how="left", validate="many_to_one")
    rel_anl, rel_pd1 = related_to(a.REL_ANLOTINIB), related_to(a.REL_PD1)
    win = (a.START_DATE >= a.PD1SDT) & (a.START_DATE <= a.PD1EDT + pd.Timedelta(days=IRAE_WINDOW_DAYS))
    out = pd.DataFrame({
        "USUBJID": a.USUBJID, "AESEQ": a.groupby("USUBJID").cumcount() + 1, "AETERM": a.AE_VERBATIM,
        "AEDECOD": a.AEDECOD, "AESOC": a.AESOC, "AETOXGR": a.CTCAE_GRADE.astype(int),
        "ASTDT": a.START_DATE, "ASTDTF": a.START_DATE_F, "AENDT": a.END_DATE, "AENDTF": a.END_DATE_F,
        "ASTDY": (a.START_DATE - a.TRTSDT).dt.days + 1,
        "TRTEMFL": treatment_emergent(a.START_DATE, a.END_DATE, a.TRTSDT, a.TRTEDT),
        "RELANL": a.REL_ANLOTINIB, "RELPD1": a.REL_PD1, "ARELANL": rel_anl, "ARELPD1": rel_pd1,
        "AREL": np.where((rel_anl == "Y") | (rel_pd1 == "Y"), "Y", "N"),
        "AERELIFL": np.where(a.REL_ANLOTINIB.isna() | a.REL_PD1.isna(), "Y", None),
        "AEIRTLFL": a.AEIRFL, "IRINVFL": a.IRAE_INV, "AESTERFL": a.SYSTEMIC_STEROID, "AEHRTFL": a.HORMONE_REPLACEMENT,
        "IRWINFL": np.where(win, "Y", "N"),
        "AEIRFL": immune_related(a.START_DATE, a.PD1SDT, a.PD1EDT, a.IRAE_INV, a.SYSTEMIC_STEROID, a.REL_PD1),
        "IRONSDY": (a.START_DATE - a.PD1SDT).dt.days + 1,
        "AESER": a.SERIOUS, "AEACN": a.ACTION_TAKEN, "AEOUT": a.OUTCOME,
        "SAFFL": a.SAFFL, "EFFFL": a.EFFFL, "SRC_ROW": a.SRC_ROW})
    return out


def planned_dosing_days(period_days: pd.Series) -> pd.Series:
    """Days of anlotinib the 14-on / 7-off schedule plans in a period of T days from the
    first dose: 14 per full 21-day cycle plus min(14, the remainder)."""
    t = period_days.astype(float)
    return ANLOTINIB_DAYS_ON * np.floor(t / CYCLE_DAYS) + np.minimum(ANLOTINIB_DAYS_ON, np.mod(t, CYCLE_DAYS))


def _period_b(first: pd.Series, last_start: pd.Series, cutoff: pd.Series) -> pd.Series:
    """Treatment period (B) in days: first dose to the end of the last cycle started (its start
    + 21 days, so the final 7-day rest is counted), or to the cut-off when that cycle is still
    running at the cut-off. Delays lengthen it."""
    last_len = np.minimum(CYCLE_DAYS, (cutoff - last_start).dt.days + 1)
    return (last_start - first).dt.days + last_len


def build_adex(ex: pd.DataFrame, adsl: pd.DataFrame) -> pd.DataFrame:
    """One row per treated patient of ``adsl`` (exposure already cut at the data cut-off).

    Overall: CYCLES (cycles started, either drug), TRTSDT/TRTEDT/TRTDURD (last - first dose + 1),
    TRTDURB (period B, below, from the first dose of either drug), DELAYS (cycles started >= 7
    days late, i.e. >= 28 days after the previous cycle).

    Anlotinib (ANL*): ANLCYC courses; ANLDURD = period (B): first dose to the start of the last
    course + 21 days (the last cycle's 7-day rest counted), or to the cut-off when that cycle is
    running at the cut-off; ANLDAYS days taken; ANLCUMD cumulative dose (mg: daily dose x days
    taken, to the cut-off for a running course); ANLDOSE0 starting and ANLFDOSE final daily dose;
    ANLDI dose intensity = ANLCUMD / ANLDURD (mg/day); planned dose = daily dose x the days the
    14-on/7-off schedule plans over ANLDURD (14 per cycle, min(14, days elapsed) in a cycle
    running at the cut-off); ANLRDI = ANLCUMD / planned dose at the patient's starting dose
    (primary: the registry allows 12 or 10 mg, so the starting dose is the planned dose) and
    ANLRDIP = ANLCUMD / planned dose at the protocol dose of 12 mg (secondary); ANLNRED
    reductions (a course at a lower daily dose than the previous one), ANLREDFL, ANLTTRED days
    from the first dose to the first reduced course (start - first dose + 1); ANLNINT
    interruptions (a course other than the last with fewer than 14 days taken); ANLNDLY delays.

    PD-1 inhibitor (PD1*): PD1AGENT; PD1N infusions received; PD1DURD period (B) from the first
    infusion; PD1NEXP infusions expected over it (one per started 21 days, ceil(PD1DURD / 21));
    PD1DI dose intensity = PD1N / PD1NEXP; PD1NDLY delays (>= 28 days since the previous
    infusion). Flat-dosed antibodies: infusions are counted, not mg.
    """
    e = ex[["USUBJID", "DRUG", "DRUG_CLASS", "CYCLE", "START_DATE", "LAST_DOSE", "DOSE"]].merge(
        adsl[["USUBJID", "TRTSDT", "TRTEDT", "DCUTDT"]], on="USUBJID")      # the columns used, not all
    cut = e.groupby("USUBJID").DCUTDT.first()
    anl = e[e.DRUG_CLASS == "ANLOTINIB"].sort_values(["USUBJID", "START_DATE"], kind="stable").copy()
    anl["DAYS"] = (anl.LAST_DOSE - anl.START_DATE).dt.days + 1
    anl["MG"] = anl.DAYS * anl.DOSE
    prev_dose = anl.groupby("USUBJID").DOSE.shift()
    prev_start = anl.groupby("USUBJID").START_DATE.shift()
    anl["REDUCED"] = prev_dose.notna() & (anl.DOSE < prev_dose)
    anl["DELAYED"] = (anl.START_DATE - prev_start).dt.days >= CYCLE_DAYS + DELAY_DAYS
    is_last = ~anl.USUBJID.duplicated(keep="last")
    anl["INTERRUPTED"] = ~is_last & (anl.DAYS < ANLOTINIB_DAYS_ON)
    g = anl.groupby("USUBJID")
    first_red = anl[anl.REDUCED].groupby("USUBJID").START_DATE.min()
    out = pd.DataFrame({"ANLCYC": g.size(), "ANLSDT": g.START_DATE.min(), "ANLLSDT": g.START_DATE.max(),
                        "ANLDAYS": g.DAYS.sum(), "ANLCUMD": g.MG.sum(), "ANLDOSE0": g.DOSE.first(),
                        "ANLFDOSE": g.DOSE.last(), "ANLMIND": g.DOSE.min(), "ANLNRED": g.REDUCED.sum(),
                        "ANLNINT": g.INTERRUPTED.sum(), "ANLNDLY": g.DELAYED.sum()})
    out["ANLDURD"] = _period_b(out.ANLSDT, out.ANLLSDT, cut.reindex(out.index))
    out["ANLDI"] = out.ANLCUMD / out.ANLDURD
    planned_days = planned_dosing_days(out.ANLDURD)
    out["ANLRDI"] = out.ANLCUMD / (out.ANLDOSE0 * planned_days)
    out["ANLRDIP"] = out.ANLCUMD / (PROTOCOL_ANLOTINIB_MG * planned_days)
    out["ANLREDFL"] = np.where(out.ANLNRED > 0, "Y", "N")
    out["ANLTTRED"] = (first_red.reindex(out.index) - out.ANLSDT).dt.days + 1

    pd1 = e[e.DRUG_CLASS.isin(["PD1", "PDL1"])].sort_values(["USUBJID", "START_DATE"], kind="stable").copy()
    pd1["DELAYED"] = (pd1.START_DATE - pd1.groupby("USUBJID").START_DATE.shift()).dt.days >= CYCLE_DAYS + DELAY_DAYS
    h = pd1.groupby("USUBJID")
    p = pd.DataFrame({"PD1AGENT": h.DRUG.first(), "PD1N": h.size(), "PD1SDT": h.START_DATE.min(),
                      "PD1LDT": h.START_DATE.max(), "PD1NDLY": h.DELAYED.sum()})
    p["PD1DURD"] = _period_b(p.PD1SDT, p.PD1LDT, cut.reindex(p.index))
    p["PD1NEXP"] = np.ceil(p.PD1DURD / CYCLE_DAYS).astype(int)
    p["PD1DI"] = p.PD1N / p.PD1NEXP

    all_ = e.groupby("USUBJID")
    overall = pd.DataFrame({"CYCLES": all_.CYCLE.nunique(), "LASTCYDT": all_.START_DATE.max()})
    out = overall.join(out).join(p)
    s = adsl.set_index("USUBJID")
    out = out.join(s[["TRTSDT", "TRTEDT"]])
    out["TRTDURD"] = (out.TRTEDT - out.TRTSDT).dt.days + 1
    out["TRTDURB"] = _period_b(out.TRTSDT, out.LASTCYDT, cut.reindex(out.index))
    out["DELAYS"] = out.ANLNDLY.fillna(0).astype(int)
    for c in ("ANLNRED", "ANLNINT", "ANLNDLY", "PD1N", "PD1NDLY"):
        out[c] = out[c].fillna(0).astype(int)
    out = out.drop(columns=["LASTCYDT"])
    return out.reset_index().rename(columns={"index": "USUBJID"})
