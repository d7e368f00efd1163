"""Cross-domain consistency: AE <-> exposure <-> end of treatment <-> death <-> tumour assessments,
and patients missing a whole domain. Each rule one function, on the harmonised tables (site ids,
``SRC_ROW`` kept), vectorised over subjects (merges within subject, no per-row loops).

Rules (registry ids in brackets). Stops where an endpoint's timeline cannot be true:
- [D05] death before the first study dose;
- [C16] a study-drug administration before the diagnosis date;
- [C02] a grade 5 or fatal AE for a patient with no death in the follow-up log;
- [C05] a study-drug administration (start or course end) or a tumour assessment after death;
- [C13] a post-baseline PD dated before the first dose or the baseline scan (the derivation
  would drop it: PFS would jump to a later event).
Queries (data kept as collected unless the action says otherwise):
- [C03] grade 5 with outcome not Fatal, or Fatal below grade 5; [C04] death cause 'Adverse
  event' with no grade 5/fatal AE; [C18] a death within 30 days of the last dose, cause not
  progression, with no fatal AE; [C05] an AE starting after death;
- [C06] AE 'Dose reduced' with no 'Reduced' administration from its onset to 30 days after its
  end (any time after onset if ongoing); [C07] a 'Reduced' administration with no such AE;
  [C19] / [C20] the same for an AE 'Drug interrupted' and a course flagged 'Interrupted';
  [C08] an anlotinib dose lower than the previous course without 'Reduced', or 'Reduced' without
  a lower dose;
- [C09] end-of-treatment reason 'Toxicity' with no AE 'Drug withdrawn'; [C10] reason 'Death' with
  no death; [C11] reason 'Progressive disease' with no RECIST PD; [C12] an AE 'Drug withdrawn'
  followed by administrations starting more than 30 days after its onset;
- [C14] a post-baseline assessment (not PD) before the first dose or the baseline scan (before the
  first dose it is not used: ANL01FL), or a baseline scan after the first dose;
- [C15] a subsequent therapy starting on/before the last study dose; [C17] more than one baseline
  scan (the latest is the baseline of ADTR);
- [X01] a screened patient with no study-drug record; [X02] a treated patient with no
  post-baseline assessment or no baseline scan. These name no row (ROW 0: the file has none).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .errors import DataError, QueryLog

WINDOW_DAYS = 30


def _iso(ts) -> str:
    return pd.Timestamp(ts).date().isoformat()


def _shown(v):
    return _iso(v) if isinstance(v, pd.Timestamp) else v


def _stop(file: str, t: pd.DataFrame, mask, column: str, rule: str, detail_of) -> None:
    bad = np.flatnonzero(np.asarray(mask, dtype=bool))
    if len(bad):
        i = bad[0]
        raise DataError(file, int(t.SRC_ROW.iloc[i]), column, rule, detail_of(i), value=_shown(t[column].iloc[i]),
                        other_rows=t.SRC_ROW.to_numpy()[bad[1:]])


def _add(log: QueryLog, file: str, t: pd.DataFrame, mask, column: str, rule: str, action, original=None) -> None:
    """Query the rows of ``t`` in ``mask``; ``action``: one text, or a function of the masked
    positions giving one text per masked row (built only for the rows queried)."""
    m = np.asarray(mask, dtype=bool)
    if not m.any():
        return
    if callable(action):
        action = action(np.flatnonzero(m))
    if original is None and column in t:      # the query log shows it as text (QueryLog.add)
        original = t[column].to_numpy(dtype=object)[m]
    log.add(file, t.SRC_ROW.to_numpy()[m], t.SUBJID.to_numpy()[m], column, rule, original,
            action if isinstance(action, str) else np.asarray(action, dtype=object))


# -- death and the treatment timeline ---------------------------------------------------------------

def check_death_not_before_first_dose(fu: pd.DataFrame, trt: pd.DataFrame) -> None:
    """Rule D05."""
    first = fu.SUBJID.map(trt.TRTSDT)
    dead = (fu.STATUS == "DEAD") & (fu.DEATH_DATE < first)
    _stop("follow_up", fu, dead.to_numpy(), "DEATH_DATE", "death on/after first dose",
          lambda i: f"death {_iso(fu.DEATH_DATE.iloc[i])} before the first study dose {_iso(first.iloc[i])}")


def check_study_drug_not_before_diagnosis(ex: pd.DataFrame, bd: pd.DataFrame) -> None:
    """Rule C16."""
    dx = ex.SUBJID.map(bd.drop_duplicates("SUBJID").set_index("SUBJID").DIAGNOSIS_DATE)
    _stop("exposure", ex, (ex.START_DATE < dx).fillna(False).to_numpy(), "START_DATE", "study drug before diagnosis",
          lambda i: f"the study drug starts before the diagnosis date {_iso(dx.iloc[i])} (baseline_disease)")


def check_fatal_ae_has_death(ae: pd.DataFrame, death: pd.Series) -> None:
    """Rule C02."""
    alive = ~ae.SUBJID.isin(death.index)
    g5 = (ae.CTCAE_GRADE == 5) & alive
    _stop("adverse_events", ae, g5.to_numpy(), "CTCAE_GRADE", "fatal AE without a death",
          lambda i: f"grade 5 (death) for {ae.SUBJID.iloc[i]}, who has no death in follow_up.csv")
    fatal = (ae.OUTCOME == "Fatal") & alive
    _stop("adverse_events", ae, fatal.to_numpy(), "OUTCOME", "fatal AE without a death",
          lambda i: f"outcome Fatal for {ae.SUBJID.iloc[i]}, who has no death in follow_up.csv")


def query_fatal_ae_coding(ae: pd.DataFrame, log: QueryLog) -> None:
    """Rule C03."""
    g5_not_fatal = (ae.CTCAE_GRADE == 5) & (ae.OUTCOME != "Fatal")
    _add(log, "adverse_events", ae, g5_not_fatal, "OUTCOME", "fatal AE coding",
         "kept as collected: grade 5 with a non-fatal outcome (grade 5 counts as fatal); site to confirm")
    fatal_low = (ae.OUTCOME == "Fatal") & (ae.CTCAE_GRADE < 5)
    _add(log, "adverse_events", ae, fatal_low, "CTCAE_GRADE", "fatal AE coding",
         "kept as collected: outcome Fatal below grade 5 (CTCAE: death is grade 5); site to confirm")


def query_ae_death_without_fatal_ae(fu: pd.DataFrame, ae: pd.DataFrame, log: QueryLog) -> None:
    """Rule C04."""
    fatal = ae[(ae.CTCAE_GRADE == 5) | (ae.OUTCOME == "Fatal")].SUBJID.unique()
    bad = (fu.STATUS == "DEAD") & (fu.DEATH_CAUSE == "Adverse event") & ~fu.SUBJID.isin(fatal)
    _add(log, "follow_up", fu, bad, "DEATH_CAUSE", "AE death without a fatal AE",
         "kept as collected: death attributed to an AE with no grade 5 or fatal AE recorded; site to add the AE")


def query_unexplained_death_after_treatment(fu: pd.DataFrame, ae: pd.DataFrame, trt: pd.DataFrame,
                                            log: QueryLog) -> None:
    """Rule C18: a death within 30 days of the last study dose whose cause is not progression (other,
    unknown or missing) and with no grade 5 or fatal AE: a fatal AE may be unreported. Queried,
    kept as collected."""
    fatal = ae[(ae.CTCAE_GRADE == 5) | (ae.OUTCOME == "Fatal")].SUBJID.unique()
    last = fu.SUBJID.map(trt.TRTEDT)
    days = (fu.DEATH_DATE - last).dt.days
    bad = ((fu.STATUS == "DEAD") & (fu.DEATH_CAUSE.fillna("") != "Progressive disease") & (days >= 0)
           & (days <= WINDOW_DAYS) & ~fu.SUBJID.isin(fatal))
    _add(log, "follow_up", fu, bad, "DEATH_CAUSE", "unexplained death after treatment",
         lambda pos: [f"kept as collected: death {int(d)} day{'' if d == 1 else 's'} after the last study dose, cause not progression, no "
                      "fatal AE recorded; site to confirm the cause (a fatal AE would be reported as one)"
                      for d in days.to_numpy()[pos]])


def check_records_after_death(ex: pd.DataFrame, ta: pd.DataFrame, ae: pd.DataFrame, death: pd.Series,
                              log: QueryLog) -> None:
    """Rule C05: study drug and assessments after death stop the run; an AE onset is queried."""
    for col in ("START_DATE", "END_DATE"):
        d = ex.SUBJID.map(death)
        _stop("exposure", ex, (ex[col] > d).fillna(False).to_numpy(), col, "record after death",
              lambda i, d=d: f"study drug after the date of death {_iso(d.iloc[i])}")
    d = ta.SUBJID.map(death)
    _stop("tumour_assessments", ta, (ta.ASSESS_DATE > d).fillna(False).to_numpy(), "ASSESS_DATE", "record after death",
          lambda i: f"assessment after the date of death {_iso(d.iloc[i])}")
    d = ae.SUBJID.map(death)
    late = (ae.START_DATE > d).fillna(False).to_numpy()
    _add(log, "adverse_events", ae, late, "START_DATE", "record after death",
         lambda i: [f"kept as collected: onset after the date of death {_iso(x)}; site to confirm" for x in d.iloc[i]])


# -- AE actions, dose changes and end of treatment ------------------------------------------------

def _action_pairs(ae: pd.DataFrame, ex: pd.DataFrame, action: str = "Dose reduced",
                  change: str = "Reduced") -> pd.DataFrame:
    """Every (AE with ``action``, administration flagged ``change``) pair of a subject that
    matches: the administration starts on/after the AE onset and no later than 30 days after its
    end."""
    a = ae[ae.ACTION_TAKEN == action][["SUBJID", "START_DATE", "END_DATE"]].assign(_A=lambda x: x.index)
    e = ex[ex.DOSE_CHANGE == change][["SUBJID", "START_DATE"]].rename(columns={"START_DATE": "EX_START"})
    m = a.merge(e.assign(_E=e.index), on="SUBJID")
    limit = m.END_DATE + pd.Timedelta(days=WINDOW_DAYS)
    ok = (m.EX_START >= m.START_DATE) & (m.END_DATE.isna() | (m.EX_START <= limit))
    return m[ok.to_numpy()]


def _query_ae_action_not_in_exposure(ae, ex, log, action, change, rule, what) -> None:
    matched = ae.index.isin(_action_pairs(ae, ex, action, change)._A)
    bad = (ae.ACTION_TAKEN == action).to_numpy() & ~matched & ae.START_DATE.notna().to_numpy()
    _add(log, "adverse_events", ae, bad, "ACTION_TAKEN", rule,
         f"kept as collected: no {what} administration from the AE onset to 30 days after it ends; site to confirm")


def _query_exposure_change_without_ae(ex, ae, log, action, change, rule) -> None:
    matched = ex.index.isin(_action_pairs(ae, ex, action, change)._E)
    bad = (ex.DOSE_CHANGE == change).to_numpy() & ~matched
    _add(log, "exposure", ex, bad, "DOSE_CHANGE", rule,
         f"kept as collected: no AE with action '{action}' ongoing or ended within 30 days before; "
         "site to confirm the reason")


def query_ae_dose_reduction_not_in_exposure(ae: pd.DataFrame, ex: pd.DataFrame, log: QueryLog) -> None:
    """Rule C06."""
    _query_ae_action_not_in_exposure(ae, ex, log, "Dose reduced", "Reduced", "AE dose reduction not in exposure",
                                     "reduced")


def query_dose_reduction_without_ae(ex: pd.DataFrame, ae: pd.DataFrame, log: QueryLog) -> None:
    """Rule C07."""
    _query_exposure_change_without_ae(ex, ae, log, "Dose reduced", "Reduced", "dose reduction without an AE")


def query_ae_interruption_not_in_exposure(ae: pd.DataFrame, ex: pd.DataFrame, log: QueryLog) -> None:
    """Rule C19: an AE with action 'Drug interrupted' and no course flagged 'Interrupted' from its
    onset to 30 days after its end."""
    _query_ae_action_not_in_exposure(ae, ex, log, "Drug interrupted", "Interrupted",
                                     "AE interruption not in exposure", "interrupted")


def query_interruption_without_ae(ex: pd.DataFrame, ae: pd.DataFrame, log: QueryLog) -> None:
    """Rule C20: a course flagged 'Interrupted' with no AE 'Drug interrupted' ongoing or ended within
    30 days before it."""
    _query_exposure_change_without_ae(ex, ae, log, "Drug interrupted", "Interrupted", "interruption without an AE")


def query_dose_change_flag(ex: pd.DataFrame, log: QueryLog) -> None:
    """Rule C08 (anlotinib courses in date order)."""
    anl = ex[ex.DRUG_CLASS == "ANLOTINIB"].sort_values(["SUBJID", "START_DATE", "CYCLE"], kind="stable")
    prev = anl.groupby("SUBJID", sort=False).DOSE.shift(1)
    known = prev.notna() & anl.DOSE.notna()
    reduced = anl.DOSE_CHANGE == "Reduced"
    lower_unflagged = known & (anl.DOSE < prev) & ~reduced
    flagged_not_lower = known & (anl.DOSE >= prev) & reduced
    _add(log, "exposure", anl, lower_unflagged, "DOSE", "dose change flag",
         lambda i: [f"kept as collected: lower than the previous course ({p:g} mg) but not marked 'Reduced'; site to "
                    "confirm" for p in prev.iloc[i]])
    _add(log, "exposure", anl, flagged_not_lower, "DOSE_CHANGE", "dose change flag",
         lambda i: [f"kept as collected: marked 'Reduced' but not lower than the previous course ({p:g} mg); site to "
                    "confirm" for p in prev.iloc[i]])


def _first_eot(ex: pd.DataFrame, reason: str) -> pd.DataFrame:
    e = ex[ex.EOT_REASON == reason].sort_values(["SUBJID", "START_DATE", "SRC_ROW"], kind="stable")
    return e.drop_duplicates("SUBJID")


def query_eot_toxicity_without_ae(ex: pd.DataFrame, ae: pd.DataFrame, log: QueryLog) -> None:
    """Rule C09 (one query per patient, on the first row carrying the reason)."""
    e = _first_eot(ex, "Toxicity")
    withdrawn = ae[ae.ACTION_TAKEN == "Drug withdrawn"].SUBJID.unique()
    _add(log, "exposure", e, ~e.SUBJID.isin(withdrawn), "EOT_REASON", "EOT toxicity without an AE",
         "kept as collected: no AE with action 'Drug withdrawn'; site to add the AE or correct the reason")


def query_eot_death_without_death(ex: pd.DataFrame, death: pd.Series, log: QueryLog) -> None:
    """Rule C10."""
    e = _first_eot(ex, "Death")
    _add(log, "exposure", e, ~e.SUBJID.isin(death.index), "EOT_REASON", "EOT death without a death",
         "kept as collected: no death in follow_up.csv (OS uses the follow-up log); site to add the death "
         "or correct the reason")


def query_eot_progression_without_pd(ex: pd.DataFrame, ta: pd.DataFrame, log: QueryLog) -> None:
    """Rule C11."""
    e = _first_eot(ex, "Progressive disease")
    pd_subjects = ta[ta.INV_RESPONSE == "PD"].SUBJID.unique()
    _add(log, "exposure", e, ~e.SUBJID.isin(pd_subjects), "EOT_REASON", "EOT progression without a PD assessment",
         "kept as collected: no RECIST PD assessment (PFS uses RECIST only); site to confirm (clinical progression?)")


def query_withdrawal_while_dosing(ae: pd.DataFrame, ex: pd.DataFrame, log: QueryLog) -> None:
    """Rule C12."""
    a = ae[ae.ACTION_TAKEN == "Drug withdrawn"][["SUBJID", "START_DATE"]].assign(_A=lambda x: x.index)
    m = a.merge(ex[["SUBJID", "START_DATE"]].rename(columns={"START_DATE": "EX_START"}), on="SUBJID")
    late = m[m.EX_START > m.START_DATE + pd.Timedelta(days=WINDOW_DAYS)]
    _add(log, "adverse_events", ae, ae.index.isin(late._A), "ACTION_TAKEN", "AE withdrawal while dosing continues",
         "kept as collected: study drug given more than 30 days after the onset of an AE that withdrew it; "
         "site to confirm")


# -- tumour assessments and new therapy ---------------------------------------------------------------

def check_assessments_after_treatment_start(ta: pd.DataFrame, trt: pd.DataFrame, log: QueryLog) -> None:
    """Rules C13 (stop: PD) and C14 (query: other visits; a baseline scan after the first dose)."""
    first = ta.SUBJID.map(trt.TRTSDT)
    base = ta[ta.VISIT == "Baseline"].groupby("SUBJID").ASSESS_DATE.max()
    bscan = ta.SUBJID.map(base)
    post = (ta.VISIT != "Baseline").to_numpy()
    before_dose = (ta.ASSESS_DATE < first).fillna(False).to_numpy()
    before_scan = (ta.ASSESS_DATE <= bscan).fillna(False).to_numpy()
    early = post & (before_dose | before_scan)
    is_pd = (ta.INV_RESPONSE == "PD").to_numpy()
    _stop("tumour_assessments", ta, early & is_pd, "ASSESS_DATE", "progression before treatment",
          lambda i: f"PD at {ta.VISIT.iloc[i]} before the first dose {_iso(first.iloc[i])} or the baseline scan "
                    f"{_iso(bscan.iloc[i]) if pd.notna(bscan.iloc[i]) else '(none)'}: the derivation would drop it")
    _add(log, "tumour_assessments", ta, early & ~is_pd & before_dose, "ASSESS_DATE", "assessment before treatment",
         "kept: post-baseline visit before the first dose, not used for response or PFS (ANL01FL not set); "
         "site to confirm the date")
    _add(log, "tumour_assessments", ta, early & ~is_pd & ~before_dose, "ASSESS_DATE", "assessment before treatment",
         "kept and used: post-baseline visit on/before the baseline scan; site to confirm the date")
    late_base = ~post & (ta.ASSESS_DATE > first).fillna(False).to_numpy()
    _add(log, "tumour_assessments", ta, late_base, "ASSESS_DATE", "assessment before treatment",
         "kept as baseline: the baseline scan is after the first dose; site to confirm the date")


def query_extra_baseline_scans(ta: pd.DataFrame, log: QueryLog) -> None:
    """Rule C17: every baseline scan but the latest of a patient is queried."""
    base = ta[ta.VISIT == "Baseline"].sort_values(["SUBJID", "ASSESS_DATE", "SRC_ROW"], kind="stable")
    earlier = base.duplicated("SUBJID", keep="last").to_numpy()
    _add(log, "tumour_assessments", base, earlier, "ASSESS_DATE", "more than one baseline scan",
         "kept: a later baseline scan exists and is the baseline of ADTR; site to confirm")


def query_new_therapy_during_treatment(sub: pd.DataFrame, trt: pd.DataFrame, log: QueryLog) -> None:
    """Rule C15."""
    last = sub.SUBJID.map(trt.TRTEDT)
    bad = (sub.START_DATE <= last).fillna(False).to_numpy()
    _add(log, "subsequent_therapy", sub, bad, "START_DATE", "new therapy during study treatment",
         lambda i: [f"kept: starts on/before the last study dose {_iso(x)} (censors PFSNACT, stops BOR at its start); "
                    "site to confirm" for x in last.iloc[i]])


# -- whole domains missing ------------------------------------------------------------------------------

def _no_row(log: QueryLog, file: str, subjects, rule: str, action: str) -> None:
    subjects = np.asarray(subjects, dtype=object)
    log.add(file, np.zeros(len(subjects), dtype=np.int64), subjects, "SUBJID", rule, None, action)


def query_patients_without_exposure(scr: pd.DataFrame, ex: pd.DataFrame, log: QueryLog) -> None:
    """Rule X01."""
    _no_row(log, "exposure", scr.SUBJID[~scr.SUBJID.isin(ex.SUBJID)], "no study-drug records",
            "patient kept: not treated, so inclusion 5 fails (CONSORT) and the patient is outside the safety set; "
            "site to confirm")


def query_patients_without_tumour_assessment(ex: pd.DataFrame, ta: pd.DataFrame, log: QueryLog) -> None:
    """Rule X02."""
    treated = pd.Index(ex.SUBJID.unique())
    post = treated[~treated.isin(ta[ta.VISIT != "Baseline"].SUBJID)]
    _no_row(log, "tumour_assessments", post, "no tumour assessment",
            "patient kept: no post-baseline assessment, so BOR is MISSING and PFS is censored at day 1; "
            "site to confirm")
    base = treated[~treated.isin(ta[ta.VISIT == "Baseline"].SUBJID)]
    _no_row(log, "tumour_assessments", base, "no tumour assessment",
            "patient kept: no baseline scan, so no change from baseline (ADTR); site to confirm")

