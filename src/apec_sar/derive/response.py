"""ADRS: analysis flags on visit responses, best overall response (BOR), confirmed BOR.

Rules (admiralonco conventions, SAR_SPEC 4; RECIST 1.1):
- Post-baseline records only (ADT >= TRTSDT). One record per date: the worst response
  (PD > NON-CR/NON-PD > SD > PR > CR > NE) -> ``ANL01FL``.
- ``ANL02FL``: records up to and including the first PD.
- ``ANL03FL``: records before the start of new anticancer therapy (NACTDT).
- BOR (unconfirmed; primary): among ANL01 & ANL02 & ANL03 records, the first that applies of
  CR, PR (any time), SD or NON-CR/NON-PD (only if ADT - TRTSDT >= 42 days, also counting
  CR/PR seen that early), PD, NE (any evaluable record left), else MISSING. The BOR date is
  the first date of that category. When BOR is NE or MISSING the reason is recorded.
- Confirmed BOR (sensitivity): CR confirmed by a CR >= 28 days later, PR by a CR or PR >= 28
  days later; only CR/PR/NE between, at most one NE, and no PR after a CR within the span.
  Unconfirmed responses then count as SD (if >= 42 days) or NE.
- A CR followed later by a PR is a data issue (admiralonco ``signal_crpr``) and is listed.
- Sensitivity of disease control to the SD window: BOR with the window at 28 and 56 days
  (BORSD28, BORSD56) beside the primary 42.
- Clinical benefit (CBR, post_ici_definitions 5): BOR CR or PR, or SD (or NON-CR/NON-PD) with a
  non-PD assessment (CR, PR, SD or NON-CR/NON-PD) at least 168 days (24 weeks) after the first
  dose among the BOR records (so before any PD and before new anticancer therapy).
- Measurable disease at baseline (BMEASIFL): a baseline sum of target-lesion diameters > 0.
  Response-evaluable (RSEVALFL): measurable at baseline and at least one post-baseline
  assessment (an overall response, NE included, on or after the first dose and before new
  anticancer therapy).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

WORST_ORDER = {"PD": 1, "NON-CR/NON-PD": 2, "SD": 3, "PR": 4, "CR": 5, "NE": 6}
EVALUABLE = {"CR", "PR", "SD", "NON-CR/NON-PD", "NE"}
SD_WINDOW_DAYS = 42
SD_WINDOW_SENSITIVITY = (28, 56)
CONFIRM_DAYS = 28
CLINICAL_BENEFIT_DAYS = 168


def flag_records(ovr: pd.DataFrame, adsl: pd.DataFrame) -> pd.DataFrame:
    """Add ANL01FL / ANL02FL / ANL03FL to visit responses.

    ovr: USUBJID, ADT, AVALC (+ any other columns); adsl: USUBJID, TRTSDT, NACTDT.
    """
    df = ovr.merge(adsl[["USUBJID", "TRTSDT", "NACTDT"]], on="USUBJID", how="left", validate="many_to_one")
    df = df.reset_index(drop=True)
    post = df.AVALC.notna() & df.ADT.notna() & df.TRTSDT.notna() & (df.ADT >= df.TRTSDT)
    rank = df.AVALC.map(WORST_ORDER).fillna(99)
    order = df.assign(_r=rank, _i=np.arange(len(df)))[post].sort_values(["USUBJID", "ADT", "_r", "_i"], kind="stable")
    first_per_date = order.drop_duplicates(["USUBJID", "ADT"], keep="first")._i.to_numpy()
    anl01 = np.zeros(len(df), dtype=bool)
    anl01[first_per_date] = True
    first_pd = df[anl01 & (df.AVALC == "PD")].groupby("USUBJID").ADT.min()
    fpd = df.USUBJID.map(first_pd)
    anl02 = anl01 & (fpd.isna() | (df.ADT <= fpd)).to_numpy()
    anl03 = anl01 & (df.NACTDT.isna() | (df.ADT < df.NACTDT)).to_numpy()
    df["ANL01FL"] = np.where(anl01, "Y", None)
    df["ANL02FL"] = np.where(anl02, "Y", None)
    df["ANL03FL"] = np.where(anl03, "Y", None)
    return df.drop(columns=["TRTSDT", "NACTDT"])


def _first_date(df: pd.DataFrame, mask) -> pd.Series:
    return df[mask].groupby("USUBJID").ADT.min()


def _analysis_records(ovr: pd.DataFrame, adsl: pd.DataFrame, sd_window: int):
    """Subjects, their BOR records (ANL01 & ANL02 & ANL03), and which are >= sd_window days."""
    subj = adsl[["USUBJID", "TRTSDT", "NACTDT", "DTHDT"]].drop_duplicates("USUBJID").set_index("USUBJID")
    r = ovr[(ovr.ANL01FL == "Y") & (ovr.ANL02FL == "Y") & (ovr.ANL03FL == "Y")]
    r = r.merge(subj[["TRTSDT"]].reset_index(), on="USUBJID").sort_values(["USUBJID", "ADT"], kind="stable")
    late = (r.ADT - r.TRTSDT).dt.days >= sd_window
    return subj, r, late


def _non_response_categories(r: pd.DataFrame, late: pd.Series) -> list[tuple[str, pd.Series]]:
    return [("SD", _first_date(r, r.AVALC.isin(["CR", "PR", "SD"]) & late)),
            ("NON-CR/NON-PD", _first_date(r, (r.AVALC == "NON-CR/NON-PD") & late)),
            ("PD", _first_date(r, r.AVALC == "PD")),
            ("NE", _first_date(r, r.AVALC.isin(list(EVALUABLE))))]


def _first_applicable(candidates: list[tuple[str, pd.Series]], ovr, subj, r, late, sd_window) -> pd.DataFrame:
    """The first category (in the given order) a subject has, its first date, else MISSING."""
    avalc = np.full(len(subj), None, dtype=object)
    adt = np.full(len(subj), np.datetime64("NaT"), dtype="datetime64[ns]")
    for name, dates in candidates:
        d = dates.reindex(subj.index).to_numpy(dtype="datetime64[ns]")
        take = pd.isna(avalc) & ~np.isnat(d)
        avalc[take] = name
        adt[take] = d[take]
    out = pd.DataFrame({"AVALC": avalc, "ADT": adt}, index=subj.index)
    out["AVALC"] = out.AVALC.fillna("MISSING")
    out["NE_REASON"] = ne_reasons(out.AVALC, ovr, subj, r, late, sd_window)
    return out.reset_index()


def derive_bor(ovr: pd.DataFrame, adsl: pd.DataFrame, sd_window: int = SD_WINDOW_DAYS) -> pd.DataFrame:
    """Unconfirmed BOR per subject of ``adsl`` (one row each): AVALC, ADT, NE_REASON.

    ovr must carry the ANL flags (see :func:`flag_records`).
    """
    subj, r, late = _analysis_records(ovr, adsl, sd_window)
    cats = [("CR", _first_date(r, r.AVALC == "CR")), ("PR", _first_date(r, r.AVALC == "PR"))]
    return _first_applicable(cats + _non_response_categories(r, late), ovr, subj, r, late, sd_window)


def ne_reasons(bor: pd.Series, ovr: pd.DataFrame, subj: pd.DataFrame, r: pd.DataFrame, late: pd.Series,
               sd_window: int) -> pd.Series:
    """Why BOR is NE or MISSING (admiralonco issue #92's list)."""
    reason = pd.Series(None, index=bor.index, dtype=object)
    anl01 = ovr[ovr.ANL01FL == "Y"]
    any_post = anl01.groupby("USUBJID").size().reindex(bor.index).fillna(0) > 0
    all_ne = (r.AVALC == "NE").groupby(r.USUBJID).all().reindex(bor.index, fill_value=False)
    early = r[r.AVALC.isin(["CR", "PR", "SD", "NON-CR/NON-PD"]) & ~late].groupby("USUBJID").size()
    early = early.reindex(bor.index).fillna(0) > 0
    in_r = r.groupby("USUBJID").size().reindex(bor.index).fillna(0) > 0
    dead_early = subj.DTHDT.notna() & ((subj.DTHDT - subj.TRTSDT).dt.days < sd_window)
    ne, miss = bor == "NE", bor == "MISSING"
    rules = [(ne & early, f"response or SD only before {sd_window} days (SD too early)"),   # a later
             (ne & ~early & all_ne, "all post-baseline assessments not evaluable"),          # rule wins
             (miss & any_post & ~in_r, "new anticancer therapy before the first assessment"),
             (miss & ~any_post & dead_early, "death before the first assessment"),
             (miss & ~any_post & ~dead_early, "no post-baseline assessment"),
             (miss & subj.TRTSDT.isna(), "not treated")]
    out = reason.to_numpy(dtype=object, copy=True)
    for mask, text in rules:                 # every mask on the subjects' index, as reason
        out[mask.reindex(reason.index).to_numpy(dtype=bool)] = text
    return pd.Series(out, index=reason.index, dtype=object)


def derive_confirmed_bor(ovr: pd.DataFrame, adsl: pd.DataFrame, sd_window: int = SD_WINDOW_DAYS,
                         confirm_days: int = CONFIRM_DAYS, max_ne: int = 1) -> pd.DataFrame:
    """Confirmed BOR per subject: AVALC, ADT (first date of the confirmed response or of the
    category), NE_REASON."""
    subj, r, late = _analysis_records(ovr, adsl, sd_window)
    conf = confirmed_responses(r, confirm_days, max_ne).set_index("USUBJID")
    cats = [(c, conf[conf.CAT == c].ADT) for c in ("CR", "PR")]
    return _first_applicable(cats + _non_response_categories(r, late), ovr, subj, r, late, sd_window)


def confirmed_responses(r: pd.DataFrame, confirm_days: int = CONFIRM_DAYS, max_ne: int = 1) -> pd.DataFrame:
    """Per subject, the best confirmed response and the date of its first assessment.

    r: the subject's analysis records (USUBJID, ADT, AVALC), any order. Vectorised over all
    (i, j) pairs of records of a subject with i before j: CR at i is confirmed by a CR at j
    >= ``confirm_days`` later with only CR/NE between; PR at i by a CR or PR at j with only
    CR/PR/NE between and no PR after a CR within i..j; at most ``max_ne`` NE between.
    Returns columns USUBJID, CAT ('CR' or 'PR'), ADT.
    """
    r = r[["USUBJID", "ADT", "AVALC"]].sort_values(["USUBJID", "ADT"], kind="stable").reset_index(drop=True)
    has_resp = r.AVALC.isin(["CR", "PR"]).groupby(r.USUBJID).transform("any")
    r = r[has_resp.to_numpy()].reset_index(drop=True)
    empty = pd.DataFrame({"USUBJID": pd.Series(dtype=object), "CAT": pd.Series(dtype=object),
                          "ADT": pd.Series(dtype="datetime64[ns]")})
    if r.empty:
        return empty
    a = r.AVALC.to_numpy()
    g = r.USUBJID.to_numpy()
    pos = np.arange(len(r))
    cum = {k: np.cumsum(v) for k, v in {"bad": ~np.isin(a, ["CR", "PR", "NE"]), "ne": a == "NE",
                                          "pr": a == "PR", "sd": ~np.isin(a, ["CR", "NE"])}.items()}
    # next CR at or after each position (within the subject), for the PR-after-CR rule
    is_cr = a == "CR"
    nxt = np.where(is_cr, pos, len(r))
    nxt = np.minimum.accumulate(nxt[::-1])[::-1]
    last_pos = pd.Series(pos).groupby(g).transform("max").to_numpy()
    nxt = np.where(nxt > last_pos, len(r), nxt)
    ii = pos[np.isin(a, ["CR", "PR"])]
    size = (last_pos[ii] - ii)
    rep = np.repeat(ii, size)
    jj = rep + (np.arange(size.sum()) - np.repeat(np.cumsum(size) - size, size)) + 1
    if len(jj) == 0:
        return empty

    def between(key):  # count in the open interval (i, j)
        c = cum[key]
        return c[jj - 1] - c[rep]

    adt = r.ADT.to_numpy()
    far = (adt[jj] - adt[rep]) >= np.timedelta64(confirm_days, "D")
    ne_ok = between("ne") <= max_ne
    cr_ok = (a[rep] == "CR") & (a[jj] == "CR") & (between("sd") == 0) & far & ne_ok
    cr_after = nxt[rep]
    pr_after_cr = (cr_after < jj) & ((cum["pr"][jj] - cum["pr"][np.minimum(cr_after, len(r) - 1)]) > 0)
    pr_ok = (a[rep] == "PR") & np.isin(a[jj], ["CR", "PR"]) & (between("bad") == 0) & far & ne_ok & ~pr_after_cr
    rows = []
    for cat, ok in (("CR", cr_ok), ("PR", pr_ok)):
        sel = rep[ok]
        if len(sel):
            rows.append(pd.DataFrame({"USUBJID": g[sel], "CAT": cat, "ADT": adt[sel]}))
    if not rows:
        return empty
    out = pd.concat(rows, ignore_index=True)
    out["_o"] = np.where(out.CAT == "CR", 0, 1)
    out = out.sort_values(["USUBJID", "_o", "ADT"], kind="stable").drop_duplicates("USUBJID")
    return out.drop(columns="_o").reset_index(drop=True)


def cr_followed_by_pr(ovr: pd.DataFrame) -> pd.DataFrame:
    """Subjects with a CR followed later by a PR (data issue to query at source)."""
    r = ovr[ovr.ANL01FL == "Y"].sort_values(["USUBJID", "ADT"], kind="stable")
    first_cr = r[r.AVALC == "CR"].groupby("USUBJID").ADT.min()
    later_pr = r[(r.AVALC == "PR") & (r.ADT > r.USUBJID.map(first_cr))]
    return later_pr[["USUBJID", "ADT"]].drop_duplicates("USUBJID").reset_index(drop=True)


def derive_clinical_benefit(ovr: pd.DataFrame, adsl: pd.DataFrame, bor: pd.DataFrame,
                            min_days: int = CLINICAL_BENEFIT_DAYS) -> pd.DataFrame:
    """Clinical benefit per subject (one row each): AVALC Y when BOR (``bor``) is CR or PR, or
    when BOR is SD / NON-CR/NON-PD and a CR, PR, SD or NON-CR/NON-PD assessment among the BOR
    records lies >= ``min_days`` after the first dose; else N. ADT: the BOR date for a
    response, the first such late assessment for stable disease."""
    subj, r, _ = _analysis_records(ovr, adsl, SD_WINDOW_DAYS)
    late = r[r.AVALC.isin(["CR", "PR", "SD", "NON-CR/NON-PD"]) & ((r.ADT - r.TRTSDT).dt.days >= min_days)]
    late_date = late.groupby("USUBJID").ADT.min().reindex(subj.index)
    b = bor.set_index("USUBJID").reindex(subj.index)
    resp = b.AVALC.isin(["CR", "PR"])
    sd = b.AVALC.isin(["SD", "NON-CR/NON-PD"]) & late_date.notna()
    out = pd.DataFrame({"USUBJID": subj.index, "AVALC": np.where(resp | sd, "Y", "N"),
                        "ADT": b.ADT.where(resp, late_date.where(sd)).to_numpy()})
    return out


def response_evaluable(ta: pd.DataFrame, ovr: pd.DataFrame, subjects) -> pd.DataFrame:
    """BMEASIFL (measurable disease at baseline: a baseline target-lesion sum > 0) and RSEVALFL
    (measurable and >= 1 post-baseline assessment on/after the first dose and before new
    anticancer therapy, i.e. an ANL01FL & ANL03FL record) for ``subjects``."""
    idx = pd.Index(subjects, name="USUBJID")
    base = ta[(ta.VISIT == "Baseline") & (ta.TARGET_SUM_MM > 0)].USUBJID
    post = ovr[(ovr.ANL01FL == "Y") & (ovr.ANL03FL == "Y")].USUBJID
    meas = idx.isin(base)
    return pd.DataFrame({"BMEASIFL": np.where(meas, "Y", "N"),
                         "RSEVALFL": np.where(meas & idx.isin(post), "Y", "N")}, index=idx)
