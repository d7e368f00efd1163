"""Data cut-off, eligibility (CONSORT), and ADSL.

Eligibility applies the registry criteria (NCT04984096 inclusion 1-5, exclusion 1-6) and the
two the publication adds (progression on a prior ICI; study treatment started July 2020 -
March 2022), in that order; a patient's exclusion reason is the first criterion failed.
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
    ("PUB1", "Publication", "Progressed on a prior immune checkpoint inhibitor"),
    ("PUB2", "Publication", "Study treatment started July 2020 - March 2022"),
    ("EX1", "Registry exclusion 1", "Prior anlotinib"),
    ("EX2", "Registry exclusion 2", "Small-cell or other carcinoma component"),
    ("EX3", "Registry exclusion 3", "Other malignancy within 5 years"),
    ("EX4", "Registry exclusion 4", "Symptomatic or uncontrolled brain metastases"),
    ("EX5", "Registry exclusion 5", "Unstable systemic disease"),
    ("EX6", "Registry exclusion 6", "Pregnancy or lactation"),
]
CRITERION_TEXT = {c: t for c, _, t in CRITERIA}


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
        df = df[keep].copy()
        if f == "exposure":
            over = df.END_DATE > c
            df["ONGOING_AT_CUTOFF"] = np.where(over, "Y", None)
            df.loc[over, "END_DATE"] = pd.NaT
            df["LAST_DOSE"] = df.LAST_DOSE.where(~over, c)
        if f == "adverse_events":
            over = df.END_DATE > c
            df.loc[over, "END_DATE"] = pd.NaT
            df.loc[over, "END_DATE_F"] = ""
        out[f] = df.reset_index(drop=True)
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
    ici = pt[pt.HAS_ICI].sort_values(["USUBJID", "START_DATE"], kind="stable").drop_duplicates("USUBJID", keep="last")
    s["PRICILN"] = ici.set_index("USUBJID").LINE
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
    s["NACTTHER"] = sub.sort_values(["USUBJID", "START_DATE"], kind="stable").drop_duplicates("USUBJID").set_index("USUBJID").THERAPY
    s["DCUTDT"] = pd.Timestamp(cutoff)
    return s


def last_known_alive(t: dict[str, pd.DataFrame], index) -> pd.Series:
    """Latest date with evidence the patient was alive (already cut at the data cut-off): an
    ALIVE survival contact, a tumour assessment, a study-drug administration start or a
    completed anlotinib course end. Never before the first dose."""
    idx = pd.Index(index)
    lo = np.iinfo(np.int64).min
    best = np.full(len(idx), lo, dtype=np.int64)
    first = np.full(len(idx), np.iinfo(np.int64).max, dtype=np.int64)

    def update(target, subjects, dates, op):
        codes = idx.get_indexer(subjects)
        d = pd.to_datetime(dates).to_numpy(dtype="datetime64[ns]").view(np.int64)
        ok = (codes >= 0) & (d != np.iinfo(np.int64).min)          # NaT is int64 min
        op.at(target, codes[ok], d[ok])

    fu = t["follow_up"]
    alive = fu[fu.STATUS == "ALIVE"]
    ex = t["exposure"]
    ta = t["tumour_assessments"]
    update(best, alive.USUBJID, alive.CONTACT_DATE, np.maximum)
    update(best, ta.USUBJID, ta.ASSESS_DATE, np.maximum)
    update(best, ex.USUBJID, ex.START_DATE, np.maximum)
    update(best, ex.USUBJID, ex.END_DATE, np.maximum)
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
    e["PUB1"] = s.PRIORICI == "Y"
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
    e["EXCLREAS"] = e.EXCLCRIT.map(CRITERION_TEXT)
    e["AGE"] = age
    return e


def _age(birth: pd.Series, ref: pd.Series) -> pd.Series:
    """Completed years between two dates."""
    years = ref.dt.year - birth.dt.year
    before = (ref.dt.month < birth.dt.month) | ((ref.dt.month == birth.dt.month) & (ref.dt.day < birth.dt.day))
    return (years - before.astype(int)).astype("Int64")


def consort(e: pd.DataFrame, n_records: int, n_duplicates: int) -> pd.DataFrame:
    """CONSORT flow: records screened, duplicates removed, patients screened, excluded by
    first failed criterion, analysed."""
    rows = [("Records screened", "", n_records),
            ("Duplicate patient records removed", "", n_duplicates),
            ("Patients screened", "", len(e))]
    for c, src, text in CRITERIA:
        rows.append((f"Excluded: {text}", f"{c} ({src})", int((e.EXCLCRIT == c).sum())))
    rows.append(("Patients excluded", "", int((e.ELIGFL == "N").sum())))
    rows.append(("Patients analysed", "", int((e.ELIGFL == "Y").sum())))
    return pd.DataFrame(rows, columns=["STEP", "CRITERION", "N"])


def build_adsl(s: pd.DataFrame, e: pd.DataFrame) -> pd.DataFrame:
    a = s.join(e[["AGE", "ELIGFL", "EXCLCRIT", "EXCLREAS"]])
    a["AGEGR1"] = np.where(a.AGE >= 65, ">=65", "<65")
    a["ECOGGR1"] = np.where(a.ECOG == 0, "0", "1-2")
    a["BMI"] = (a.WEIGHT_KG / (a.HEIGHT_CM / 100) ** 2).round(1)
    a["PRLINEGR"] = np.where(a.PRLINES >= 2, ">=2", "1")
    a["NLR"] = (a.NEUT / a.LYMPH).round(2)
    a["NLRGR1"] = np.where(a.NLR.isna(), None, np.where(a.NLR >= 5, ">=5", "<5"))
    a["TRTDURD"] = (a.TRTEDT - a.TRTSDT).dt.days + 1
    a["DTHFL"] = np.where(a.DTHDT.notna(), "Y", None)
    a["SAFFL"] = np.where((a.ELIGFL == "Y") & a.TRTSDT.notna(), "Y", "N")
    a["EFFFL"] = np.where(a.ELIGFL == "Y", "Y", "N")
    a = a.reset_index().rename(columns={"index": "USUBJID"})
    return a
