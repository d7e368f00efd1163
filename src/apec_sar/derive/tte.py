"""ADTTE: PFS (primary and sensitivity), OS, DOR and time to response.

admiral ``derive_param_tte`` semantics (SAR_SPEC 4, clinical_reporting_rules 1.3):
events take the first qualifying date across sources, censorings the last; an event beats a
censoring; dates before the origin move to the origin; AVAL = ADT - STARTDT + 1 days.

CNSR codes: 0 event; 1 censored at the last adequate assessment; 2 censored at the origin
(no adequate post-baseline assessment); 3 censored at the last adequate assessment before new
anticancer therapy; 4 censored at the last adequate assessment before >= 2 missed assessments;
5 censored at the last date known alive.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

DAYS_PER_MONTH = 30.4375
ADEQUATE = ("CR", "PR", "SD", "NON-CR/NON-PD")
CNSR_TEXT = {
    1: "Last adequate tumour assessment",
    2: "Treatment start (no adequate post-baseline assessment)",
    3: "Last adequate assessment before new anticancer therapy",
    4: "Last adequate assessment before two or more missed assessments",
    5: "Last date known alive",
}


def _tte(param: str, subj: pd.DataFrame, start: pd.Series, event_date: pd.Series, event_desc: pd.Series,
         event_src: pd.Series, censor_date: pd.Series, cnsr: pd.Series, censor_src: pd.Series) -> pd.DataFrame:
    is_event = event_date.notna()
    adt = event_date.where(is_event, censor_date)
    adt = adt.where(adt.isna() | (adt >= start), start)   # origin floor
    out = pd.DataFrame({
        "USUBJID": subj.index, "PARAMCD": param, "STARTDT": start.to_numpy(), "ADT": adt.to_numpy(),
        "CNSR": np.where(is_event, 0, cnsr.to_numpy()).astype(int),
        "EVNTDESC": np.where(is_event, event_desc.to_numpy(), None),
        "CNSDTDSC": np.where(is_event, None, cnsr.map(CNSR_TEXT).to_numpy()),
        "SRCVAR": np.where(is_event, event_src.to_numpy(), censor_src.to_numpy()),
    })
    out["AVAL"] = (out.ADT - out.STARTDT).dt.days + 1
    out["AVALU"] = "DAYS"
    out["AVAL_MONTHS"] = out.AVAL / DAYS_PER_MONTH
    return out


TTE_COLUMNS = ["USUBJID", "PARAMCD", "STARTDT", "ADT", "CNSR", "EVNTDESC", "CNSDTDSC", "SRCVAR", "AVAL", "AVALU",
               "AVAL_MONTHS"]


def empty_tte() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype="datetime64[ns]" if c in ("STARTDT", "ADT") else
                                      ("int64" if c in ("CNSR", "AVAL") else ("float64" if c == "AVAL_MONTHS" else object)))
                         for c in TTE_COLUMNS})


def _adequate(ovr: pd.DataFrame, *flags: str) -> pd.DataFrame:
    m = ovr.AVALC.isin(ADEQUATE)
    for f in ("ANL01FL", *flags):
        m &= ovr[f] == "Y"
    return ovr[m]


def missed_assessment_threshold(days_since_start: pd.Series) -> pd.Series:
    """FDA sensitivity rule (Table A): an event more than two scheduled intervals plus a
    14-day window after the last adequate assessment follows >= 2 missed assessments. The
    schedule is every 6 weeks to week 18 (day 126), then every 9 weeks."""
    interval = np.where(days_since_start < 126, 42, 63)
    return pd.Series(2 * interval + 14, index=days_since_start.index)


def derive_pfs(adsl: pd.DataFrame, ovr: pd.DataFrame, rule: str = "primary") -> pd.DataFrame:
    """PFS from TRTSDT. rule: 'primary' (all events), 'nact' (events and assessments after
    new anticancer therapy ignored; censored at the last adequate assessment before it),
    'missed' (events after >= 2 missed assessments censored at the last adequate one)."""
    subj = adsl.set_index("USUBJID")
    start = subj.TRTSDT
    flags = ("ANL02FL",) + (("ANL03FL",) if rule == "nact" else ())
    pd_recs = ovr[(ovr.ANL01FL == "Y") & (ovr.AVALC == "PD")]
    if rule == "nact":
        pd_recs = pd_recs[pd_recs.ANL03FL == "Y"]
    pd_date = pd_recs.groupby("USUBJID").ADT.min().reindex(subj.index)
    death = subj.DTHDT
    if rule == "nact":
        death = death.where(subj.NACTDT.isna() | (death < subj.NACTDT))
    use_pd = pd_date.notna() & (death.isna() | (pd_date <= death))
    ev_date = pd_date.where(use_pd, death)
    ev_desc = pd.Series(np.where(use_pd, "Disease progression", "Death"), index=subj.index)
    ev_src = pd.Series(np.where(use_pd, "ADRS.ADT (PD)", "ADSL.DTHDT"), index=subj.index)
    adeq = _adequate(ovr, *flags)
    last_adeq = adeq.groupby("USUBJID").ADT.max().reindex(subj.index)
    cnsr = pd.Series(np.where(last_adeq.notna(), 1, 2), index=subj.index)
    if rule == "nact":
        cnsr = cnsr.where(~(subj.NACTDT.notna() & ev_date.isna() & last_adeq.notna()), 3)
    if rule == "missed":
        # the last adequate assessment before the event
        a = adeq.merge(ev_date.rename("EV").reset_index(), on="USUBJID")
        before = a[a.ADT < a.EV].groupby("USUBJID").ADT.max().reindex(subj.index)
        ref = before.fillna(start)
        gap = (ev_date - ref).dt.days
        thr = missed_assessment_threshold((ref - start).dt.days)
        missed = ev_date.notna() & (gap > thr)
        ev_date = ev_date.where(~missed)
        last_adeq = last_adeq.where(~missed, before)
        cnsr = cnsr.where(~missed, np.where(before.notna(), 4, 2))
    censor = last_adeq.fillna(start)
    censor_src = pd.Series(np.where(last_adeq.notna(), "ADRS.ADT (last adequate)", "ADSL.TRTSDT"), index=subj.index)
    param = {"primary": "PFS", "nact": "PFSNACT", "missed": "PFSMISS"}[rule]
    return _tte(param, subj, start, ev_date, ev_desc, ev_src, censor, cnsr, censor_src)


def derive_os(adsl: pd.DataFrame) -> pd.DataFrame:
    """OS from TRTSDT: death; else censored at the last date known alive (LSTALVDT: the last
    survival contact, assessment or study-drug administration; the cut-off date itself for a
    patient whose anlotinib course runs over the cut-off, who is known alive on treatment then;
    see :func:`apec_sar.derive.cohort.last_known_alive`)."""
    subj = adsl.set_index("USUBJID")
    ev_desc = pd.Series("Death", index=subj.index)
    return _tte("OS", subj, subj.TRTSDT, subj.DTHDT, ev_desc, pd.Series("ADSL.DTHDT", index=subj.index),
                subj.LSTALVDT, pd.Series(5, index=subj.index), pd.Series("ADSL.LSTALVDT", index=subj.index))


def derive_dor(adsl: pd.DataFrame, ovr: pd.DataFrame, bor: pd.DataFrame, param: str = "DOR",
               pfs: pd.DataFrame | None = None) -> pd.DataFrame:
    """Duration of response: responders (BOR CR/PR), from the first response to PD or death;
    censored at the last adequate assessment (as PFS). With the confirmed BOR (``param``
    DORC, admiralonco's RSD from CRSP) the start is the first assessment of the confirmed
    response. ``pfs``: :func:`derive_pfs` of ``adsl`` and ``ovr`` when already derived (it is
    per patient: the responders' rows are the same as derived for them alone)."""
    resp = bor[bor.AVALC.isin(["CR", "PR"])].set_index("USUBJID")
    if resp.empty:  # no responder: an empty parameter, not an error
        return empty_tte()
    if pfs is None:
        pfs = derive_pfs(adsl[adsl.USUBJID.isin(resp.index)], ovr)
    pfs = pfs.set_index("USUBJID").reindex(resp.index)
    subj = adsl.set_index("USUBJID").reindex(resp.index)
    start = resp.ADT
    is_ev = pfs.CNSR == 0
    ev_date = pfs.ADT.where(is_ev)
    cnsr = pfs.CNSR.where(~is_ev, 1)
    return _tte(param, subj, start, ev_date, pfs.EVNTDESC, pfs.SRCVAR, pfs.ADT.where(~is_ev), cnsr, pfs.SRCVAR)


def derive_ttr(adsl: pd.DataFrame, bor: pd.DataFrame, param: str = "TTR") -> pd.DataFrame:
    """Time to response among responders: TRTSDT to the first CR/PR (all events). With the
    confirmed BOR (``param`` TTRC) the date is that of the first assessment of the confirmed
    response, not of the confirming one (post_ici_definitions 5)."""
    resp = bor[bor.AVALC.isin(["CR", "PR"])].set_index("USUBJID")
    if resp.empty:
        return empty_tte()
    subj = adsl.set_index("USUBJID").reindex(resp.index)
    n = len(resp)
    return _tte(param, subj, subj.TRTSDT, resp.ADT, pd.Series("Response (CR or PR)", index=resp.index),
                pd.Series("ADRS.ADT (first response)", index=resp.index), pd.Series(pd.NaT, index=resp.index),
                pd.Series(np.ones(n, dtype=int), index=resp.index), pd.Series(None, index=resp.index, dtype=object))
