"""Data cut-off, eligibility (CONSORT), prior therapy in depth, populations, and ADSL.

Eligibility applies the registry criteria (NCT04984096 inclusion 1-5, exclusion 1-6) and the
two the publication adds (Zhu et al., Ann Med 2025: progression on a prior ICI; study treatment
started July 2020 - March 2022), in that order; a patient's exclusion reason is the first
criterion failed.

Populations (post_ici_definitions 8): the eligible set is the efficacy set (EFFFL); the safety
set (SAFFL) is every screened patient (after de-duplication) who received at least one dose of
either study drug, analysed as treated (TRT01A); the response-evaluable set (RSEVALFL, derived
with ADRS) is eligible patients with measurable disease at baseline and at least one
post-baseline assessment.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

WINDOW = (pd.Timestamp("2020-07-01"), pd.Timestamp("2022-03-31"))

CRITERIA = [
    ("IN1", "Registry inclusion 1", "Aged 18 years or older"),
    ("IN2", "Registry inclusion 2", "ECOG performance status 0-2"),
    ("IN3", "Registry inclusion 3", "Histologically confirmed oesophageal squamous cell carcinoma"),
    ("IN4", "Registry inclusion 4", "Progression after at least one prior systemic line for advanced disease"),
    ("IN5", "Registry inclusion 5", "Received anlotinib combined with a PD-1 inhibitor"),
    ("PUB1", "Publication (Zhu et al. 2025)", "Progressed on a prior immune checkpoint inhibitor"),
    ("PUB2", "Publication (Zhu et al. 2025)", "Study treatment started July 2020 to March 2022"),
    ("EX1", "Registry exclusion 1", "Prior anlotinib"),
    ("EX2", "Registry exclusion 2", "Small-cell or other carcinoma component"),
    ("EX3", "Registry exclusion 3", "Other malignancy within 5 years"),
    ("EX4", "Registry exclusion 4", "Symptomatic or uncontrolled brain metastases"),
    ("EX5", "Registry exclusion 5", "Unstable systemic disease"),
    ("EX6", "Registry exclusion 6", "Pregnancy or lactation"),
]
CRITERION_TEXT = {c: t for c, _, t in CRITERIA}
# why a patient who fails a criterion is excluded: an inclusion criterion not met, an exclusion
# criterion present (the CONSORT flow names the reason, not the criterion)
EXCLUSION_REASON = {
    "IN1": "Aged under 18 years", "IN2": "ECOG performance status above 2",
    "IN3": "Not a histologically confirmed oesophageal squamous cell carcinoma",
    "IN4": "No progression after a prior systemic line for advanced disease",
    "IN5": "Did not receive anlotinib combined with a PD-1 inhibitor",
    "PUB1": "No documented progression on or after a prior immune checkpoint inhibitor",
    "PUB2": "Study treatment started outside July 2020 to March 2022",
    "EX1": "Prior anlotinib", "EX2": "Small-cell or other carcinoma component", "EX3": "Other malignancy within 5 years",
    "EX4": "Symptomatic or uncontrolled brain metastases", "EX5": "Unstable systemic disease",
    "EX6": "Pregnancy or lactation",
}
SITC_WINDOW_DAYS = 84          # PD within 12 weeks of the last ICI dose (SITC; post_ici_definitions 1)
SITC_MIN_PRIMARY_DAYS = 42     # >= 6 weeks of exposure
SITC_SIX_MONTHS_DAYS = 183
ICI_CLASSES = ("PD1", "PDL1")


# --- data cut-off --------------------------------------------------------------------------

def apply_cutoff(tables: dict[str, pd.DataFrame], cutoff: dt.date) -> tuple[dict[str, pd.DataFrame], dict[str, int]]:
    """Keep what was known on the cut-off date. Returns the cut tables and, per file, the
    number of records excluded as after the cut-off.

    Records dated after the cut-off are dropped (screening, labs, prior therapy, assessments,
    exposure courses started, AE onsets, contacts, new therapies, deaths). An anlotinib course
    running over the cut-off keeps its start; its end becomes unknown (``END_DATE`` missing,
    ``ONGOING_AT_CUTOFF`` Y). An AE ending after the cut-off is ongoing (end missing).
    """
    c = pd.Timestamp(cutoff)
    date_col = {"screening_log": "SCREENDT", "baseline_labs": "LAB_DATE", "prior_therapy": "START_DATE",
                "tumour_assessments": "ASSESS_DATE", "exposure": "START_DATE", "adverse_events": "START_DATE",
                "subsequent_therapy": "START_DATE"}
    out, excluded = {}, {}
    for f, df in tables.items():
        if f == "follow_up":
            keep = np.where(df.STATUS == "DEAD", df.DEATH_DATE <= c, df.CONTACT_DATE <= c)
        elif f in date_col:
            d = df[date_col[f]]
            keep = (d <= c) | d.isna()
        else:
            keep = np.ones(len(df), dtype=bool)
        keep = np.asarray(keep, dtype=bool)
        excluded[f] = int((~keep).sum())
        df = df.copy() if keep.all() else df.take(np.flatnonzero(keep))    # a new frame either way
        if f == "exposure":
            over = df.END_DATE > c
            df["ONGOING_AT_CUTOFF"] = np.where(over, "Y", None)
            df.loc[over, "END_DATE"] = pd.NaT
            df["LAST_DOSE"] = df.LAST_DOSE.where(~over, c)
        if f == "adverse_events":
            over = df.END_DATE > c
            df.loc[over, "END_DATE"] = pd.NaT
            df.loc[over, "END_DATE_F"] = ""
        df.index = pd.RangeIndex(len(df))          # reset_index(drop=True), without copying the frame again
        out[f] = df
    return out, excluded


# --- subject-level facts -------------------------------------------------------------------

def subject_facts(t: dict[str, pd.DataFrame], cutoff: dt.date) -> pd.DataFrame:
    """One row per screened subject with everything eligibility and ADSL need."""
    scr = t["screening_log"].set_index("USUBJID")
    dm = t["demographics"].set_index("USUBJID")
    bd = t["baseline_disease"].set_index("USUBJID")
    ex = t["exposure"]
    s = pd.DataFrame(index=scr.index)
    s["SITEID"] = scr.SITEID
    s["SCREENDT"] = scr.SCREENDT
    s = s.join(dm[["BIRTH_DATE", "BIRTH_DATE_F", "SEX", "ECOG", "SMOKING", "ALCOHOL", "HEIGHT_CM", "WEIGHT_KG", "PREGNANT"]])
    s = s.join(bd[["DIAGNOSIS_DATE", "HISTOLOGY", "PRIMARY_SITE", "DISEASE_STATUS", "PRIOR_RESECTION", "RESECTION_DATE",
                   "PRIOR_RADIOTHERAPY", "PDL1_CPS", "BRAIN_METASTASIS", "OTHER_MALIGNANCY_5Y", "UNSTABLE_SYSTEMIC_DISEASE"]])
    # study treatment
    anl = ex[ex.DRUG_CLASS == "ANLOTINIB"]
    pd1 = ex[ex.DRUG_CLASS.isin(["PD1", "PDL1"])]
    s["TRTSDT"] = ex.groupby("USUBJID").START_DATE.min()
    s["TRTEDT"] = ex.groupby("USUBJID").LAST_DOSE.max()
    s["RECEIVED_ANLOTINIB"] = s.index.isin(anl.USUBJID)
    s["RECEIVED_PD1"] = s.index.isin(pd1[pd1.DRUG_CLASS == "PD1"].USUBJID)
    first_pd1 = pd1.sort_values(["USUBJID", "START_DATE"], kind="stable").drop_duplicates("USUBJID").set_index("USUBJID")
    s["PD1AGENT"] = first_pd1.DRUG
    s["PD1SDT"] = first_pd1.START_DATE
    s["PD1EDT"] = pd1.groupby("USUBJID").START_DATE.max()
    first_anl = anl.sort_values(["USUBJID", "START_DATE"], kind="stable").drop_duplicates("USUBJID").set_index("USUBJID")
    s["ANLDOSE0"] = first_anl.DOSE
    last = ex.sort_values(["USUBJID", "START_DATE", "CYCLE"], kind="stable").drop_duplicates("USUBJID", keep="last")
    s["EOTREAS"] = last.set_index("USUBJID").EOT_REASON
    s["TRTONGFL"] = np.where(s.TRTSDT.notna() & s.EOTREAS.isna(), "Y", "N")   # on treatment at the cut-off
    # prior therapy (advanced-setting lines only)
    pt = t["prior_therapy"]
    adv = pt[pt.SETTING == "Advanced"]
    s["PRLINES"] = adv.groupby("USUBJID").size().reindex(s.index).fillna(0).astype(int)
    s["PRIORICI"] = np.where(s.index.isin(pt[pt.HAS_ICI].USUBJID), "Y", "N")
    s = s.join(prior_ici_line(pt))
    s["PRANLOT"] = np.where(s.index.isin(pt[pt.HAS_ANLOTINIB].USUBJID), "Y", "N")
    # metastases and labs
    ms = t["metastatic_sites"]
    for code, site in [("METDLN", "Distant lymph nodes"), ("METLUNG", "Lung"), ("METLIVER", "Liver"), ("METBONE", "Bone")]:
        s[code] = np.where(s.index.isin(ms[ms.MET_SITE == site].USUBJID), "Y", "N")
    s["NMETORG"] = ms.groupby("USUBJID").MET_SITE.nunique().reindex(s.index).fillna(0).astype(int)
    labs = t["baseline_labs"].pivot_table(index="USUBJID", columns="LAB_TEST", values="RESULT_SI", aggfunc="last")
    for test in ("WBC", "NEUT", "LYMPH", "HGB", "PLT", "ALB"):
        s[test] = labs[test] if test in labs else np.nan
    # survival facts known at the cut-off
    fu = t["follow_up"]
    dead = fu[fu.STATUS == "DEAD"].set_index("USUBJID")
    s["DTHDT"] = dead.DEATH_DATE
    s["DTHDTF"] = dead.DEATH_DATE_F
    s["DTHCAUS"] = dead.DEATH_CAUSE
    s["LSTALVDT"] = last_known_alive(t, s.index).reindex(s.index)
    sub = t["subsequent_therapy"]
    s["NACTDT"] = sub.groupby("USUBJID").START_DATE.min()
    first_sub = sub.sort_values(["USUBJID", "START_DATE"], kind="stable").drop_duplicates("USUBJID").set_index("USUBJID")
    s["NACTTHER"] = first_sub.THERAPY
    s["NACTTYP"] = therapy_type(first_sub.THERAPY_CLASS).reindex(s.index).fillna("None")
    s["DCUTDT"] = pd.Timestamp(cutoff)
    return s


def _first_ici(regimen: str, classes: str) -> str | None:
    """The first drug of a regimen ('paclitaxel+sintilimab') whose class ('CHEMOTHERAPY+PD1') is an ICI."""
    return next((d for d, c in zip(regimen.split("+"), classes.split("+")) if c in ICI_CLASSES), None)


def prior_ici_line(pt: pd.DataFrame) -> pd.DataFrame:
    """Per subject, the prior-ICI line the SAR describes: among the advanced-setting lines
    containing an immune checkpoint inhibitor, the most recent one with a documented
    progression (PD_DATE), else the most recent one. Returns PRICILN (line), PRICIAG (the ICI,
    INN), PRICISDT / PRICIEDT (first / last dose of the line), PRICIPDT (progression date),
    PRICIBR (best response on the line), PRICISTP (stop reason), and PRICIPFL: Y when that line
    has a documented progression on or after it, before any later line."""
    cols = ["PRICILN", "PRICIAG", "PRICISDT", "PRICIEDT", "PRICIPDT", "PRICIBR", "PRICISTP", "PRICIPFL"]
    ici = pt[(pt.SETTING == "Advanced") & pt.HAS_ICI].copy()
    if ici.empty:
        return pd.DataFrame(columns=cols)
    ici["_prog"] = ici.PD_DATE.notna()
    ici = ici.sort_values(["USUBJID", "_prog", "START_DATE"], kind="stable").drop_duplicates("USUBJID", keep="last")
    memo: dict = {}                    # a few dozen distinct regimens: each split once
    agent = [memo[rk] if rk in memo else memo.setdefault(rk, _first_ici(*rk))
             for rk in zip(ici.REGIMEN, ici.REGIMEN_CLASS)]
    out = pd.DataFrame({"PRICILN": ici.LINE.to_numpy(), "PRICIAG": agent, "PRICISDT": ici.START_DATE.to_numpy(),
                        "PRICIEDT": ici.END_DATE.to_numpy(), "PRICIPDT": ici.PD_DATE.to_numpy(),
                        "PRICIBR": ici.BEST_RESPONSE.to_numpy(), "PRICISTP": ici.STOP_REASON.to_numpy(),
                        "PRICIPFL": np.where(ici._prog, "Y", "N")}, index=ici.USUBJID.to_numpy())
    later = pt[pt.SETTING == "Advanced"].merge(out[["PRICIEDT"]], left_on="USUBJID", right_index=True)
    out["ICIINTFL"] = np.where(out.index.isin(later[later.START_DATE > later.PRICIEDT].USUBJID), "Y", "N")
    return out


def sitc_resistance(first: pd.Series, last: pd.Series, pd_date: pd.Series, best: pd.Series) -> pd.Series:
    """Resistance to the prior ICI per the SITC taskforce (Kluger et al., JITC 2020, with the
    12-week window; post_ici_definitions 1 coding rule):
    exposure = last dose - first dose + 1 day; gap = PD date - last dose.
    - no documented progression on or after the ICI line -> 'No progression on ICI';
    - gap > 84 days -> 'PD after discontinuation';
    - primary: exposure >= 42 days and best response PD, or SD with PD - first dose < 183 days;
    - secondary (acquired): exposure >= 183 days and best response CR/PR, or SD with
      PD - first dose > 183 days;
    - otherwise 'Unclassifiable' (e.g. exposure < 6 weeks, a PR lasting < 6 months, best
      response NE). No confirmatory PD scan is collected, so SITC's confirmation requirement
      is not applied. Missing first/last dose -> 'Unclassifiable'."""
    exposure = (last - first).dt.days + 1
    gap = (pd_date - last).dt.days
    from_start = (pd_date - first).dt.days
    has_pd = pd_date.notna()
    primary = (exposure >= SITC_MIN_PRIMARY_DAYS) & ((best == "PD") | ((best == "SD") & (from_start < SITC_SIX_MONTHS_DAYS)))
    secondary = (exposure >= SITC_SIX_MONTHS_DAYS) & (best.isin(["CR", "PR"]) |
                                                     ((best == "SD") & (from_start > SITC_SIX_MONTHS_DAYS)))
    out = np.select([~has_pd, gap > SITC_WINDOW_DAYS, primary, secondary],
                    ["No progression on ICI", "PD after discontinuation", "Primary", "Secondary (acquired)"],
                    "Unclassifiable")
    return pd.Series(out, index=first.index, dtype=object)


def prior_ici_variables(a: pd.DataFrame) -> pd.DataFrame:
    """From the prior-ICI line (PRICISDT, PRICIEDT, PRICIPDT, PRICIBR), PRIORICI, PD1SDT and
    TRTSDT: RESISTYP (:func:`sitc_resistance`; 'No prior ICI' without one), ICIEXPD (exposure,
    last - first dose + 1 days) and the ICI-free interval in days (a date difference):
    ICIFRA (a) last prior-ICI dose to the first study PD-1 dose; ICIFRB (b) prior-ICI
    progression to the first study dose (post_ici_definitions 1; the consensus definition is
    NSF); variant (c), another line in between, is ICIINTFL."""
    res = sitc_resistance(a.PRICISDT, a.PRICIEDT, a.PRICIPDT, a.PRICIBR)
    return pd.DataFrame({"RESISTYP": np.where(a.PRIORICI == "Y", res, "No prior ICI"),
                         "ICIEXPD": (a.PRICIEDT - a.PRICISDT).dt.days + 1,
                         "ICIFRA": (a.PD1SDT - a.PRICIEDT).dt.days,
                         "ICIFRB": (a.TRTSDT - a.PRICIPDT).dt.days}, index=a.index)


def therapy_type(therapy_class: pd.Series) -> pd.Series:
    """Type of a (subsequent) anticancer therapy from its drug classes ('+'-joined): any PD-1 /
    PD-L1 inhibitor -> 'Immunotherapy-containing'; else any VEGFR TKI -> 'Anti-angiogenic TKI';
    else radiotherapy -> 'Radiotherapy'; else chemotherapy -> 'Chemotherapy'; else 'Other'."""
    c = therapy_class.fillna("").astype(str)
    out = np.select([c.str.contains("PD1|PDL1"), c.str.contains("VEGFR_TKI"), c.str.contains("RADIOTHERAPY"),
                     c.str.contains("CHEMOTHERAPY")],
                    ["Immunotherapy-containing", "Anti-angiogenic TKI", "Radiotherapy", "Chemotherapy"], "Other")
    return pd.Series(out, index=therapy_class.index, dtype=object)


def pdl1_group(cps: pd.Series) -> pd.Series:
    """PD-L1 combined positive score group: '<1', '1-9', '>=10', 'Not tested' (missing)."""
    out = np.select([cps.isna(), cps < 1, cps < 10], ["Not tested", "<1", "1-9"], ">=10")
    return pd.Series(out, index=cps.index, dtype=object)


def last_known_alive(t: dict[str, pd.DataFrame], index) -> pd.Series:
    """LSTALVDT, the OS censoring date (admiral: the last date known alive): the latest date,
    already cut at the data cut-off, with evidence the patient was alive: an ALIVE survival
    contact, a tumour assessment, a study-drug administration, or the last day of an anlotinib
    course (``LAST_DOSE``). A course still running at the cut-off has ``LAST_DOSE`` = the
    cut-off (see :func:`apply_cutoff`): a patient taking study drug on the cut-off day is known
    alive on it. Never before the first dose."""
    idx = pd.Index(index)
    lo = np.iinfo(np.int64).min
    best = np.full(len(idx), lo, dtype=np.int64)
    first = np.full(len(idx), np.iinfo(np.int64).max, dtype=np.int64)

    def update(target, subjects, dates, op):
        codes = idx.get_indexer(subjects)
        d = pd.to_datetime(dates, cache=False).to_numpy(dtype="datetime64[ns]").view(np.int64)   # cache: a Series.map
        ok = (codes >= 0) & (d != np.iinfo(np.int64).min)          # NaT is int64 min
        op.at(target, codes[ok], d[ok])

    fu = t["follow_up"]
    alive = fu[fu.STATUS == "ALIVE"]
    ex = t["exposure"]
    ta = t["tumour_assessments"]
    update(best, alive.USUBJID, alive.CONTACT_DATE, np.maximum)
    update(best, ta.USUBJID, ta.ASSESS_DATE, np.maximum)
    update(best, ex.USUBJID, ex.START_DATE, np.maximum)
    update(best, ex.USUBJID, ex.LAST_DOSE, np.maximum)
    update(first, ex.USUBJID, ex.START_DATE, np.minimum)
    out = np.where(first != np.iinfo(np.int64).max, np.maximum(best, first), best)
    return pd.Series(out.view("datetime64[ns]"), index=idx)     # int64 min is NaT


def eligibility(s: pd.DataFrame) -> pd.DataFrame:
    """Per subject: one column per criterion (True = met), ELIGFL and the first failed
    criterion (EXCLCRIT, EXCLREAS)."""
    ref = s.TRTSDT.fillna(s.SCREENDT)
    age = _age(s.BIRTH_DATE, ref)
    e = pd.DataFrame(index=s.index)
    e["IN1"] = age >= 18
    e["IN2"] = s.ECOG.between(0, 2)
    e["IN3"] = s.HISTOLOGY.isin(["Squamous cell carcinoma", "Squamous cell carcinoma with small cell component"])
    e["IN4"] = s.PRLINES >= 1
    e["IN5"] = s.RECEIVED_ANLOTINIB & s.RECEIVED_PD1
    e["PUB1"] = progressed_on_prior_ici(s)
    e["PUB2"] = s.TRTSDT.between(*WINDOW)
    e["EX1"] = s.PRANLOT != "Y"
    e["EX2"] = s.HISTOLOGY != "Squamous cell carcinoma with small cell component"
    e["EX3"] = s.OTHER_MALIGNANCY_5Y != "Y"
    e["EX4"] = s.BRAIN_METASTASIS != "Symptomatic"
    e["EX5"] = s.UNSTABLE_SYSTEMIC_DISEASE != "Y"
    e["EX6"] = s.PREGNANT != "Y"
    crit = [c for c, _, _ in CRITERIA]
    failed = ~e[crit].fillna(False).astype(bool).to_numpy()   # an unknown criterion counts as not met
    first = np.where(failed.any(axis=1), np.argmax(failed, axis=1), -1)
    e["ELIGFL"] = np.where(first < 0, "Y", "N")
    e["EXCLCRIT"] = np.where(first < 0, None, np.asarray(crit, dtype=object)[np.maximum(first, 0)])
    e["EXCLREAS"] = e.EXCLCRIT.map(EXCLUSION_REASON)
    e["AGE"] = age
    return e


def progressed_on_prior_ici(s: pd.DataFrame) -> pd.Series:
    """The publication's criterion "progressed on a prior immune checkpoint inhibitor": a prior
    advanced-setting line containing a PD-1/PD-L1 inhibitor with a documented progression on or
    after it (its PD_DATE) before any later line (PRICIPFL). The publication gives no
    operational rule (post_ici_definitions 1: NSF); a line stopped for toxicity (or completed)
    and followed by another line without a documented progression does not qualify; a
    progression more than 12 weeks after the last ICI dose does (it is classified 'PD after
    discontinuation' by :func:`sitc_resistance`)."""
    return (s.PRIORICI == "Y") & (s.get("PRICIPFL", pd.Series("N", index=s.index)) == "Y")


def _age(birth: pd.Series, ref: pd.Series) -> pd.Series:
    """Completed years between two dates."""
    years = ref.dt.year - birth.dt.year
    before = (ref.dt.month < birth.dt.month) | ((ref.dt.month == birth.dt.month) & (ref.dt.day < birth.dt.day))
    return (years - before.astype(int)).astype("Int64")


def consort(e: pd.DataFrame, n_records: int, n_duplicates: int, adsl: pd.DataFrame | None = None) -> pd.DataFrame:
    """CONSORT flow: records screened, duplicates removed, patients screened (identified),
    excluded by first failed criterion, eligible (analysed, the efficacy set), then, from ADSL,
    eligible and treated, response-evaluable, and the safety set (every screened patient
    treated, eligible or not)."""
    rows = [("Records screened", "", n_records),
            ("Duplicate patient records removed", "", n_duplicates),
            ("Patients screened", "", len(e))]
    for c, src, text in CRITERIA:
        rows.append((f"Excluded: {EXCLUSION_REASON[c]}", f"{c} ({src}): {text}", int((e.EXCLCRIT == c).sum())))
    rows.append(("Patients excluded", "", int((e.ELIGFL == "N").sum())))
    rows.append(("Patients analysed", "every criterion met: the analysis (efficacy) set", int((e.ELIGFL == "Y").sum())))
    if adsl is not None:
        eff = adsl.EFFFL == "Y"
        rows.append(("Eligible and treated", "eligible, at least one dose", int((eff & (adsl.SAFFL == "Y")).sum())))
        rows.append(("Response-evaluable", "measurable disease at baseline, at least one post-baseline assessment",
                     int((adsl.RSEVALFL == "Y").sum())))
        rows.append(("Safety set: screened patients treated", "at least one dose of either drug",
                     int((adsl.SAFFL == "Y").sum())))
        rows.append(("  of whom not eligible", "treated, not eligible", int((~eff & (adsl.SAFFL == "Y")).sum())))
    return pd.DataFrame(rows, columns=["STEP", "CRITERION", "N"])


def ecog_group(ecog: pd.Series) -> pd.Series:
    """ECOGGR1: '0' or '>=1' (1 or 2; a label that is true whether or not anyone has PS 2)."""
    return pd.Series(np.where(ecog.isna(), None, np.where(ecog == 0, "0", ">=1")), index=ecog.index, dtype=object)


def treatment_received(s: pd.DataFrame) -> pd.Series:
    """TRT01A, the treatment actually received (safety analyses are by treatment received)."""
    out = np.select([s.RECEIVED_ANLOTINIB & s.RECEIVED_PD1, s.RECEIVED_ANLOTINIB, s.RECEIVED_PD1],
                    ["Anlotinib + PD-1 inhibitor", "Anlotinib alone", "PD-1 inhibitor alone"], "Not treated")
    return pd.Series(out, index=s.index, dtype=object)


def build_adsl(s: pd.DataFrame, e: pd.DataFrame) -> pd.DataFrame:
    """ADSL, one row per screened patient. Besides the subject facts: AGEGR1, ECOGGR1, BMI,
    PRLINEGR, NLR/NLRGR1, TRTDURD (last - first dose + 1), DTHFL, prior-ICI variables (SITC
    resistance RESISTYP, exposure ICIEXPD, ICI-free intervals ICIFRA / ICIFRB in days), PD-L1
    group PDL1GR, survival status at the cut-off, the population flags EFFFL and SAFFL and
    TRT01A (RSEVALFL and BMEASIFL are added with ADRS)."""
    a = s.join(e[["AGE", "ELIGFL", "EXCLCRIT", "EXCLREAS"]])
    a["AGEGR1"] = np.where(a.AGE >= 65, ">=65", "<65")
    a["ECOGGR1"] = ecog_group(a.ECOG)
    a["BMI"] = (a.WEIGHT_KG / (a.HEIGHT_CM / 100) ** 2).round(1)
    a["PRLINEGR"] = np.where(a.PRLINES >= 2, ">=2", "1")
    a["NLR"] = (a.NEUT / a.LYMPH).round(2)
    a["NLRGR1"] = np.where(a.NLR.isna(), None, np.where(a.NLR >= 5, ">=5", "<5"))
    a["TRTDURD"] = (a.TRTEDT - a.TRTSDT).dt.days + 1
    a["DTHFL"] = np.where(a.DTHDT.notna(), "Y", None)
    a["SURVSTAT"] = np.where(a.DTHDT.notna(), "Dead", np.where(a.LSTALVDT.notna(), "Alive (censored)", None))
    # prior ICI in depth (post_ici_definitions 1)
    for c in ("PRICILN", "PRICIAG", "PRICISDT", "PRICIEDT", "PRICIPDT", "PRICIBR", "PRICISTP", "PRICIPFL", "ICIINTFL",
              "PD1SDT"):
        if c not in a:
            a[c] = None
        if c.endswith("DT"):
            a[c] = pd.to_datetime(a[c], cache=False)
    a = a.join(prior_ici_variables(a))
    a["PDL1GR"] = pdl1_group(a.PDL1_CPS)
    a["NACTFL"] = np.where(a.NACTDT.notna(), "Y", "N")
    a["TRT01A"] = treatment_received(a)
    a["SAFFL"] = np.where(a.TRTSDT.notna(), "Y", "N")
    a["EFFFL"] = np.where(a.ELIGFL == "Y", "Y", "N")
    a = a.reset_index().rename(columns={"index": "USUBJID"})
    return a
