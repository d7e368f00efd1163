"""Build the *true* (clean) domain tables from patient draws and courses.

Each table is a dict of equal-length numpy arrays: dates as day numbers (``MISSING`` when
absent), codes in their canonical form, drugs as indices into ``DRUG_LIST``. ``_pi`` holds
each row's patient index in the chunk (for the site conventions applied when rendering).
"""

from __future__ import annotations

import numpy as np

from . import course as C
from . import vocab as V
from .dates import MISSING

DRUG_LIST = tuple(V.DRUGS)
DRUG_ID = {d: i for i, d in enumerate(DRUG_LIST)}
AE_LIST = tuple(V.AE_TERMS)
Table = dict[str, np.ndarray]

NOMINAL_WEEK = [6, 12, 18, 24] + [24 + 9 * i for i in range(1, C.V_MAX - 3)]


def _obj(x) -> np.ndarray:
    return np.asarray(x, dtype=object)


def _pairs(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Row-major (patient, k) index pairs where mask is True: patient order, then k."""
    return np.nonzero(mask)


def subject_ids(a: dict) -> np.ndarray:
    width = max(3, len(str(int(a["serial"].max()))))
    site = a["site"].astype(str)
    ser = np.char.zfill(a["serial"].astype(str), width)
    return np.char.add(np.char.add(np.char.add("S", np.char.zfill(site, 2)), "-"), ser).astype(object)


def identifiers(rng: np.random.Generator, a: dict) -> dict[str, np.ndarray]:
    """Obviously fake direct identifiers, as a real extract would carry real ones."""
    n = len(a["site"])
    sur = np.asarray(V.SURNAMES)[rng.integers(0, len(V.SURNAMES), n)]
    g1 = np.asarray(V.GIVEN)[rng.integers(0, len(V.GIVEN), n)]
    g2 = np.char.lower(np.asarray(V.GIVEN)[rng.integers(0, len(V.GIVEN), n)])
    name = np.char.add(np.char.add(np.char.add(np.char.add(sur, " "), g1), g2), " (FAKE)")
    serial = np.char.zfill(a["serial"].astype(str), 6)
    site = np.char.zfill(a["site"].astype(str), 2)
    hosp = np.char.add(np.char.add(np.char.add("FAKE-H", site), "-"), serial)
    from .dates import to_date  # local: only for the birth-date digits
    bd = np.array([to_date(int(b)).strftime("%Y%m%d") for b in a["birth"]]) if n < 5000 else \
        np.datetime_as_string(a["birth"].astype("datetime64[D]"), unit="D").astype("U10")
    bd = np.char.replace(bd, "-", "")
    seq = np.char.zfill(rng.integers(0, 10000, n).astype(str), 4)
    card = np.char.add(np.char.add("000000", bd), seq)
    return {"name": name.astype(object), "hosp": hosp.astype(object), "card": card.astype(object)}


def build(rng: np.random.Generator, a: dict, c: dict, calibrated: bool, cutoff: int) -> dict[str, Table]:
    n = len(a["site"])
    pi = np.arange(n)
    t: dict[str, Table] = {}
    sid = a["subjid"]
    ids = a["ids"]

    t["screening_log"] = dict(_pi=pi, SITE_ID=a["site"], SUBJID=sid, SCREEN_DATE=a["screen"],
                              PATIENT_NAME=ids["name"], HOSPITAL_NO=ids["hosp"], ID_CARD_NO=ids["card"])
    t["demographics"] = dict(_pi=pi, SUBJID=sid, HOSPITAL_NO=ids["hosp"], BIRTH_DATE=a["birth"], SEX=a["sex"],
                             ECOG=a["ecog"], SMOKING=a["smoking"], ALCOHOL=a["alcohol"],
                             HEIGHT_CM=a["height"], WEIGHT_KG=a["weight"], PREGNANT=a["pregnant"])

    # --- prior therapy (backwards from the first dose) and diagnosis --------------------
    lines = _prior_lines(rng, a)
    first_sys = np.where(a["n_lines"] > 0, lines["starts"][:, 0], a["start"] - 30)
    resection = np.where(a["resected"], first_sys - rng.integers(120, 700, n), MISSING)
    diag = np.where(a["resected"], resection - rng.integers(14, 45, n), first_sys - rng.integers(14, 60, n))
    t["baseline_disease"] = dict(
        _pi=pi, SUBJID=sid, DIAGNOSIS_DATE=diag, HISTOLOGY=a["histology"], PRIMARY_SITE=a["primary_site"],
        DISEASE_STATUS=a["disease_status"], PRIOR_RESECTION=np.where(a["resected"], "Y", "N").astype(object),
        RESECTION_DATE=resection, PRIOR_RADIOTHERAPY=np.where(a["prior_rt"], "Y", "N").astype(object),
        PDL1_CPS=a["pdl1"].astype(float), BRAIN_METASTASIS=a["brain"],
        OTHER_MALIGNANCY_5Y=np.where(a["other_malignancy"], "Y", "N").astype(object),
        UNSTABLE_SYSTEMIC_DISEASE=np.where(a["unstable"], "Y", "N").astype(object))
    t["baseline_disease"]["PDL1_CPS"][a["pdl1"] < 0] = np.nan

    # prior lines: a chemotherapy backbone, the ICI in its line, anlotinib for those excluded for it
    nl = a["n_lines"]
    rows_p, rows_l = _pairs(np.arange(3)[None, :] < nl[:, None])
    m = len(rows_p)
    bb = rng.integers(0, len(V.CHEMO_BACKBONES), m)
    drugs = np.full((m, 3), -1, dtype=np.int64)
    for j, combo in enumerate(V.CHEMO_BACKBONES):
        sel = bb == j
        for q, d in enumerate(combo):
            drugs[sel, q] = DRUG_ID[d]
    has_ici = a["prior_ici"][rows_p] & (rows_l + 1 == a["ici_line"][rows_p])
    ici = rng.choice([DRUG_ID[d] for d in V.PRIOR_ICI], size=m, p=[0.40, 0.25, 0.2, 0.1, 0.03, 0.02])
    slot = np.where(drugs[:, 1] < 0, 1, 2)
    drugs[has_ici, slot[has_ici]] = ici[has_ici]
    last_line = rows_l + 1 == nl[rows_p]
    anl = a["prior_anlotinib"][rows_p] & last_line
    # the last line was anlotinib (+ the ICI when that line had one): exclusion 1, not "no prior ICI"
    drugs[anl, 0] = DRUG_ID["anlotinib"]
    drugs[anl, 1] = np.where(has_ici[anl], ici[anl], -1)
    drugs[anl, 2] = -1
    pd_date = lines["pd"][rows_p, rows_l]
    pt = dict(_pi=rows_p, SUBJID=sid[rows_p], SETTING=_obj(["Advanced"] * m), LINE=(rows_l + 1).astype(float),
              _drugs=drugs, START_DATE=lines["starts"][rows_p, rows_l], END_DATE=lines["ends"][rows_p, rows_l],
              PD_DATE=pd_date, BEST_RESPONSE=lines["resp"][rows_p, rows_l], STOP_REASON=lines["stop"][rows_p, rows_l],
              _ici=has_ici)
    # perioperative (neo)adjuvant chemotherapy after resection: not an advanced-disease line
    adj = np.flatnonzero(a["adjuvant"])
    k = len(adj)
    adj_drugs = np.full((k, 3), -1, dtype=np.int64)
    adj_drugs[:, 0], adj_drugs[:, 1] = DRUG_ID["paclitaxel"], DRUG_ID["cisplatin"]
    adj_start = resection[adj] + rng.integers(25, 50, k)
    per = dict(_pi=adj, SUBJID=sid[adj], SETTING=_obj(["Perioperative"] * k), LINE=np.full(k, np.nan),
               _drugs=adj_drugs, START_DATE=adj_start, END_DATE=adj_start + rng.integers(60, 100, k),
               PD_DATE=np.full(k, MISSING), BEST_RESPONSE=_obj([None] * k), STOP_REASON=_obj(["Completed"] * k),
               _ici=np.zeros(k, dtype=bool))
    t["prior_therapy"] = _sort_concat([per, pt], key=("_pi", "START_DATE"))

    # metastatic sites
    ms = rng.random((n, len(V.MET_SITES))) < np.asarray(V.MET_SHARE)[None, :]
    ms[:, -1] = a["brain"] != "None"
    ms[~ms[:, :-1].any(axis=1), 0] = True
    p_, s_ = _pairs(ms)
    t["metastatic_sites"] = dict(_pi=p_, SUBJID=sid[p_], MET_SITE=_obj(V.MET_SITES)[s_])

    # baseline labs (SI units; sites convert when rendering)
    wbc = np.clip(rng.normal(6.2, 1.8, n), 2.2, 14)
    lym = np.clip(rng.normal(1.3, 0.45, n), 0.3, 3.5)
    neut = np.clip(wbc - lym - rng.uniform(0.3, 0.8, n), 0.8, None)
    vals = np.stack([wbc, neut, lym, np.clip(rng.normal(118, 15, n), 75, 165),
                     np.clip(rng.normal(230, 60, n), 90, 480), np.clip(rng.normal(38, 4, n), 26, 49)], axis=1)
    dec = np.array([V.LAB_DECIMALS[x] for x in V.LAB_TESTS])
    vals = np.round(vals * 10.0 ** dec) / 10.0 ** dec
    p_, k_ = _pairs(np.ones_like(vals, dtype=bool))
    lab_date = a["start"] - rng.integers(1, 11, n)
    t["baseline_labs"] = dict(_pi=p_, SUBJID=sid[p_], LAB_DATE=lab_date[p_], LAB_TEST=_obj(V.LAB_TESTS)[k_],
                              RESULT=vals[p_, k_], UNIT=_obj([V.LAB_SI_UNIT[x] for x in V.LAB_TESTS])[k_])

    t["exposure"] = _exposure(rng, a, c)
    t["tumour_assessments"] = _assessments(rng, a, c)
    t["adverse_events"] = _adverse_events(rng, a, c, calibrated, cutoff)
    t["follow_up"] = _follow_up(rng, a, c)

    nact = c["nact"] < C.INF
    p_ = np.flatnonzero(nact)
    ther = rng.choice(len(V.SUBSEQUENT_THERAPIES), size=len(p_), p=V.SUBSEQUENT_SHARE)
    sdrugs = np.full((len(p_), 3), -1, dtype=np.int64)
    label = np.full(len(p_), None, dtype=object)
    for j, combo in enumerate(V.SUBSEQUENT_THERAPIES):
        sel = ther == j
        if combo[0] in DRUG_ID:
            for q, d in enumerate(combo):
                sdrugs[sel, q] = DRUG_ID[d]
        else:
            label[sel] = combo[0]
    t["subsequent_therapy"] = dict(_pi=p_, SUBJID=sid[p_], _drugs=sdrugs, _label=label,
                                   START_DATE=a["start"][p_] + c["nact"][p_])
    return t


def _prior_lines(rng, a) -> dict[str, np.ndarray]:
    """Dates, best response, stop reason and progression date of every advanced-setting line,
    built backwards from the first study dose (column 0 = line 1).

    A line ended by progression has its PD date 0-21 days after the last dose and the next
    line (or the study treatment) 7-35 days after the PD; a line stopped for toxicity without
    progression is followed by the next line 21-60 days after the last dose. The most recent
    line always ends in progression (registry inclusion 4). The ICI line follows the patient's
    SITC resistance class (post_ici_definitions 1; exposure = last - first dose + 1,
    gap = PD - last dose):
    primary: exposure 42-160 days, best response PD or SD, PD within 21 days of the last dose;
    secondary: exposure 190-420 days, best response CR/PR/SD, PD within 21 days;
    after_discontinuation: stopped for toxicity or completed, best response PR/SD, PD 120-220
    days after the last dose (> 84);
    unclassifiable: exposure 14-28 days with PD, or a PR lasting 90-150 days before PD;
    not_progressed (excluded): stopped for toxicity with SD/PR, no progression before the next line.
    """
    n = len(a["site"])
    L = 3
    nl, res = a["n_lines"], a["resistance"]
    starts = np.zeros((n, L), dtype=np.int64)
    ends = np.zeros((n, L), dtype=np.int64)
    pdd = np.full((n, L), MISSING, dtype=np.int64)
    resp = np.full((n, L), None, dtype=object)
    stop = np.full((n, L), None, dtype=object)
    u = rng.random((n, L, 4))
    other_resp = np.asarray(V.PRIOR_RESPONSES[:4], dtype=object)[
        np.searchsorted(np.cumsum([0.02, 0.3, 0.38, 0.3]), u[:, :, 3] * 0.999999, side="right")]
    next_start = a["start"].copy()
    for back in range(L):                               # back = 0: the most recent line
        line = nl - 1 - back
        ok = line >= 0
        uu = u[:, back]
        rint = lambda lo, hi, k: lo + np.floor(uu[:, k] * (hi - lo + 1)).astype(np.int64)  # noqa: E731,B023
        li = np.maximum(line, 0)
        is_ici = ok & a["prior_ici"] & (line + 1 == a["ici_line"])
        r = np.where(is_ici, res, "other")
        tox = (r == "other") & (back > 0) & (uu[:, 2] < 0.15)
        kind = np.where(tox, "toxicity", r)
        short = uu[:, 2] < 0.5                          # unclassifiable: the two variants
        dur = np.select([kind == "primary", kind == "secondary", kind == "after_discontinuation",
                         (kind == "unclassifiable") & short, kind == "unclassifiable", kind == "not_progressed",
                         kind == "toxicity"],
                        [rint(42, 160, 0), rint(190, 420, 0), rint(60, 300, 0), rint(14, 28, 0), rint(90, 150, 0),
                         rint(60, 200, 0), rint(42, 150, 0)], rint(60, 240, 0))
        gap_pd = np.where(kind == "after_discontinuation", rint(120, 220, 1), rint(0, 21, 1))
        progressed = ~np.isin(kind, ["not_progressed", "toxicity"])
        gap_next = np.where(progressed, rint(7, 35, 2), rint(21, 60, 2))
        pd_day = np.where(progressed, next_start - gap_next, MISSING)
        end = np.where(progressed, pd_day - gap_pd, next_start - gap_next)
        start = end - dur + 1
        rr = uu[:, 3]
        best = np.select(
            [kind == "primary", kind == "secondary", kind == "after_discontinuation",
             (kind == "unclassifiable") & short, kind == "unclassifiable", np.isin(kind, ["not_progressed", "toxicity"])],
            [np.where(rr < 0.6, "PD", "SD"), np.where(rr < 0.05, "CR", np.where(rr < 0.6, "PR", "SD")),
             np.where(rr < 0.5, "PR", "SD"), "PD", "PR", np.where(rr < 0.5, "PR", "SD")], "")
        best = np.where(best == "", other_resp[:, back], best).astype(object)
        why = np.select([progressed & (kind != "after_discontinuation"), kind == "after_discontinuation"],
                        ["Progression", np.where(rr < 0.5, "Toxicity", "Completed")], "Toxicity")
        sel = np.flatnonzero(ok)
        starts[sel, li[sel]] = start[sel]
        ends[sel, li[sel]] = end[sel]
        pdd[sel, li[sel]] = pd_day[sel]
        resp[sel, li[sel]] = best[sel]
        stop[sel, li[sel]] = why[sel]
        next_start = np.where(ok, start, next_start)
    return dict(starts=starts, ends=ends, pd=pdd, resp=resp, stop=stop)


def _sort_concat(parts: list[Table], key: tuple[str, str]) -> Table:
    out = {col: np.concatenate([p[col] for p in parts]) for col in parts[0]}
    order = np.lexsort((out[key[1]], out[key[0]]))
    return {col: v[order] for col, v in out.items()}


def _exposure(rng, a, c) -> Table:
    n = len(a["site"])
    p_, k_ = _pairs(c["cyc"])
    m = len(p_)
    start = a["start"][p_] + c["cday"][p_, k_]
    cend = C.course_end(c)[p_, k_]
    dose0 = a["anl_dose"][p_]
    reduced = k_ + 1 >= a["reduce_at"][p_]
    dose = np.where(reduced, np.maximum(dose0 - 2, 8), dose0)
    delayed = (k_ > 0) & (c["cday"][p_, k_] - c["cday"][p_, np.maximum(k_ - 1, 0)] > 21)
    interrupted = (c["clen"][p_, k_] < 14) & (cend == c["cday"][p_, k_] + c["clen"][p_, k_] - 1)
    change = np.select([(k_ + 1 == a["reduce_at"][p_]) & (dose0 > 8), interrupted, delayed],
                       ["Reduced", "Interrupted", "Delayed"], "")
    change = np.where(change == "", None, change).astype(object)
    n_cyc = c["cyc"].sum(axis=1)
    last = k_ + 1 == n_cyc[p_]
    eot = np.where(last, c["eot_reason"][p_], None).astype(object)
    eot[eot == ""] = None
    anl = dict(_pi=p_, SUBJID=a["subjid"][p_], CYCLE=(k_ + 1).astype(float),
               _drugs=np.stack([np.full(m, DRUG_ID["anlotinib"]), np.full(m, -1), np.full(m, -1)], axis=1),
               START_DATE=start, END_DATE=a["start"][p_] + cend, DOSE=dose.astype(float),
               DOSE_UNIT=_obj(["mg"] * m), DOSE_CHANGE=change, EOT_REASON=eot, _ord=np.zeros(m))
    combo = a["combo"][p_] & C.pd1_given(c)[p_, k_]
    q = np.flatnonzero(combo)
    pd1_id = np.array([DRUG_ID[d] for d in a["pd1"]]) if n else np.zeros(0, dtype=np.int64)
    pd1 = dict(_pi=p_[q], SUBJID=a["subjid"][p_[q]], CYCLE=(k_[q] + 1).astype(float),
               _drugs=np.stack([pd1_id[p_[q]], np.full(len(q), -1), np.full(len(q), -1)], axis=1),
               START_DATE=start[q], END_DATE=np.full(len(q), MISSING),
               DOSE=np.array([V.PD1_DOSE_MG[d] for d in a["pd1"][p_[q]]], dtype=float),
               DOSE_UNIT=_obj(["mg"] * len(q)), DOSE_CHANGE=np.where(delayed[q], "Delayed", None).astype(object),
               EOT_REASON=eot[q], _ord=np.ones(len(q)))
    out = {col: np.concatenate([anl[col], pd1[col]]) for col in anl}
    order = np.lexsort((out["_ord"], out["CYCLE"], out["_pi"]))
    out = {col: v[order] for col, v in out.items()}
    del out["_ord"]
    return out


def _assessments(rng, a, c) -> Table:
    n = len(a["site"])
    vday, perf, resp = c["vday"], c["perf"], c["resp"]
    base = rng.integers(25, 141, n).astype(float)
    has_nt = rng.random(n) < 0.7
    nadir = base.copy()
    sums = np.full(vday.shape, np.nan)
    nt = np.empty(vday.shape, dtype=object)
    newl = np.empty(vday.shape, dtype=object)
    pd_kind = rng.choice(3, size=n, p=[0.5, 0.4, 0.1])  # target / new lesion / non-target
    for k in range(vday.shape[1]):
        u = rng.random(n)
        r = resp[:, k]
        sd = np.minimum(np.round(base * (0.78 + 0.30 * u)), np.floor(nadir * 1.18))
        sd = np.maximum(sd, np.ceil(base * 0.71))
        pr = np.minimum(np.floor(base * (0.35 + 0.33 * u)), np.floor(nadir * 1.15))
        pd_t = np.maximum(np.ceil(nadir * (1.25 + 0.35 * u)), nadir + 6)
        pd_other = np.minimum(np.round(nadir * (0.95 + 0.15 * u)), np.floor(nadir * 1.18))
        kind = np.where(has_nt, pd_kind, np.minimum(pd_kind, 1))
        s = np.select([r == C.SD, r == C.PR, (r == C.PD) & (kind == 0), r == C.PD], [sd, pr, pd_t, pd_other], np.nan)
        sums[:, k] = s
        ok = ~np.isnan(s)
        nadir = np.where(ok, np.minimum(nadir, s), nadir)
        nt[:, k] = np.where(r == C.NE, "NE", np.where(~has_nt, "Not applicable",
                            np.where((r == C.PD) & (kind == 2), "PD", "Non-CR/Non-PD")))
        newl[:, k] = np.where(r == C.NE, None, np.where((r == C.PD) & (kind == 1), "Y", "N"))
    base_day = a["start"] - rng.integers(1, 22, n)
    treated = a["treated"]
    b = np.flatnonzero(treated)
    bl = dict(_pi=b, SUBJID=a["subjid"][b], VISIT=_obj(["Baseline"] * len(b)), ASSESS_DATE=base_day[b],
              TARGET_SUM_MM=base[b], NONTARGET=np.where(has_nt[b], "Non-CR/Non-PD", "Not applicable").astype(object),
              NEW_LESION=_obj([None] * len(b)), INV_RESPONSE=_obj([None] * len(b)), _k=np.full(len(b), -1))
    p_, k_ = _pairs(perf)
    post = dict(_pi=p_, SUBJID=a["subjid"][p_], VISIT=_obj([f"Week {w}" for w in NOMINAL_WEEK])[k_],
                ASSESS_DATE=a["start"][p_] + vday[p_, k_], TARGET_SUM_MM=sums[p_, k_], NONTARGET=nt[p_, k_],
                NEW_LESION=newl[p_, k_], INV_RESPONSE=_obj([None, "CR", "PR", "SD", "PD", "NE"])[resp[p_, k_]],
                _k=k_)
    out = {col: np.concatenate([bl[col], post[col]]) for col in bl}
    order = np.lexsort((out["_k"], out["_pi"]))
    out = {col: v[order] for col, v in out.items()}
    del out["_k"]
    return out


_ANL_TYPICAL = {"Hypertension", "Palmar-plantar erythrodysesthesia syndrome", "Proteinuria", "Epistaxis", "Diarrhea"}
_PD1_TYPICAL = {"Hypothyroidism", "Pneumonitis", V.RCCEP_TERM}
_LIVER = {"Alanine aminotransferase increased", "Aspartate aminotransferase increased"}
IRAE_WINDOW_DAYS = 90      # immune-type onsets up to 90 days after the last PD-1 infusion


def _treatment_days(c) -> np.ndarray:
    """Days from the first dose to the start of the last cycle (0 if untreated)."""
    return np.maximum(c["last_cycle"], 0)


def _ae_patients(rng, a, c, calibrated: bool) -> np.ndarray:
    """Boolean (patients x terms): who has which AE. Calibrated: exact counts among the
    eligible (everyone >= 1 related AE; anaemia and lymphopenia most frequent); the PD-1-typical
    terms go preferentially to patients on treatment longer (weight = days on treatment), as
    immune-mediated events need time on the antibody."""
    n = len(a["site"])
    T = len(AE_LIST)
    base_p = np.array([V.AE_CALIBRATED_COUNTS[x] / 29 for x in AE_LIST])
    has = rng.random((n, T)) < base_p[None, :] * 0.95
    cam = (a["pd1"] == "camrelizumab") & a["combo"]
    r = AE_LIST.index(V.RCCEP_TERM)
    has[:, r] &= cam
    if calibrated:
        el = np.flatnonzero(a["eligible"])
        has[el] = False
        weight = 21.0 + _treatment_days(c)
        for j, term in enumerate(AE_LIST):
            pool = el[cam[el]] if term == V.RCCEP_TERM else el
            k = V.AE_CALIBRATED_COUNTS[term]
            if term == "Lymphocyte count decreased":  # cover everyone without anaemia
                need = el[~has[el, AE_LIST.index("Anemia")]]
                rest = rng.permutation(np.setdiff1d(el, need))[: k - len(need)]
                chosen = np.concatenate([need, rest])
            elif term in _PD1_TYPICAL:
                w = weight[pool] / weight[pool].sum()
                chosen = rng.choice(pool, size=k, replace=False, p=w)
            else:
                chosen = rng.permutation(pool)[:k]
            has[chosen, j] = True
    has[~a["treated"]] = False
    return has


def _adverse_events(rng, a, c, calibrated: bool, cutoff: int) -> Table:
    """AEs with onset, end, grade, attribution to each drug, the investigator's immune-related
    judgement (``IRAE_INV``, asked for events at least possibly related to the PD-1 antibody),
    systemic corticosteroids and hormone replacement given for the event.

    Onsets: most events from day 2 to 30 days after the last dose (skewed early, at most day
    150); PD-1-typical events (hypothyroidism, pneumonitis, RCCEP) and steroid-treated
    liver-enzyme elevations from day 21 to 90 days after the last PD-1 infusion. The investigator calls RCCEP and pneumonitis immune-related, about
    half of the hypothyroidism (the rest is attributed to anlotinib: hormone replacement either
    way) and a few liver-enzyme elevations (immune hepatitis: steroids); a few other
    liver-enzyme elevations get steroids without the call."""
    has = _ae_patients(rng, a, c, calibrated)
    p_, j_ = _pairs(has)
    m = len(p_)
    n = len(a["site"])
    terms = _obj(AE_LIST)[j_]
    related = ~np.isin(terms, V.UNRELATED_TERMS)
    n_cyc = c["cyc"].sum(axis=1)
    last_dose = np.where(n_cyc > 0, C.course_end(c)[np.arange(n), np.maximum(n_cyc - 1, 0)], 0)
    given = C.pd1_given(c) & a["combo"][:, None]
    last_pd1 = np.where(given.any(axis=1), np.where(given, c["cday"], -1).max(axis=1), -1)
    horizon = np.minimum.reduce([c["death"] - 1, np.minimum(c["ltfu"], c["data_end"])])
    if calibrated:  # the calibrated AE profile is the one seen at the publication cut-off
        horizon = np.where(a["eligible"], np.minimum(horizon, cutoff - a["start"]), horizon)
    limit = np.maximum(np.minimum.reduce([last_dose + 30, np.full(n, 150), horizon]), 2)
    limit_ir = np.minimum(last_pd1 + IRAE_WINDOW_DAYS, horizon)
    combo = a["combo"][p_]
    pd1_t = np.isin(terms, list(_PD1_TYPICAL)) & combo
    # the investigator's immune-related judgement and the treatment of the event
    v = rng.random(m)
    hypo = terms == "Hypothyroidism"
    liver = np.isin(terms, list(_LIVER)) & combo
    hypo_anl = hypo & pd1_t & (v < 0.5)                    # hypothyroidism attributed to anlotinib
    immune = (pd1_t & ~hypo_anl) | (liver & (v < 0.15))
    steroid = (immune & ((terms == "Pneumonitis") | liver)) | (liver & ~immune & (v > 0.8))
    late = (pd1_t | immune | steroid) & (limit_ir[p_] > 21)
    u = rng.random(m)
    onset = np.where(late, 21 + np.floor(u * (limit_ir[p_] - 21)),
                     1 + np.floor(u ** 1.5 * (limit[p_] - 1))).astype(np.int64)
    end = onset + rng.integers(7, 81, m)
    ongoing = (end >= c["death"][p_]) | (end > c["data_end"][p_]) | (rng.random(m) < 0.05)
    end = np.where(ongoing, C.INF, end)
    grade = np.where(rng.random(m) < 0.65, 1, 2)
    lym = terms == "Lymphocyte count decreased"
    if calibrated:
        cand = np.flatnonzero(lym & a["eligible"][p_])
        g = rng.permutation(cand)[:2]
        grade[g[0]], grade[g[1]] = 3, 4
    else:
        grade = np.where(lym & (rng.random(m) < 0.05), 3, grade)
    anl_t = np.isin(terms, list(_ANL_TYPICAL))
    rel_anl = np.select([~related, anl_t, pd1_t], ["Not related", "Related", "Unlikely related"], "Possibly related")
    rel_pd1 = np.select([~related | ~combo, pd1_t, anl_t], ["Not related", "Related", "Unlikely related"],
                        "Possibly related")
    rel_pd1 = np.where(hypo_anl, "Possibly related", rel_pd1)
    rel_anl = np.where(hypo_anl, "Related", rel_anl)
    asked = np.isin(rel_pd1, ["Related", "Possibly related"])
    irae_inv = np.where(asked, np.where(immune, "Y", "N"), None).astype(object)
    hormone = hypo & ((grade >= 2) | (v > 0.4))
    action = np.where(related & (rng.random(m) < 0.1), "Dose reduced",
                      np.where(related & (rng.random(m) < 0.05), "Drug interrupted", "None"))
    start = a["start"][p_]
    yn = lambda x: np.where(x, "Y", "N").astype(object)  # noqa: E731
    out = dict(_pi=p_, SUBJID=a["subjid"][p_], _term=terms, START_DATE=start + onset,
               END_DATE=np.where(ongoing, MISSING, start + end), CTCAE_GRADE=grade.astype(float),
               REL_ANLOTINIB=rel_anl.astype(object), REL_PD1=rel_pd1.astype(object), IRAE_INV=irae_inv,
               SYSTEMIC_STEROID=yn(steroid), HORMONE_REPLACEMENT=yn(hormone),
               SERIOUS=yn(terms == "Pneumonitis"), ACTION_TAKEN=action.astype(object),
               OUTCOME=np.where(ongoing, "Not recovered/not resolved", "Recovered/resolved").astype(object))
    order = np.lexsort((j_, out["START_DATE"], p_))
    return {col: v[order] for col, v in out.items()}


def _follow_up(rng, a, c) -> Table:
    p_, k_ = _pairs(c["cont_ok"])
    alive = dict(_pi=p_, SUBJID=a["subjid"][p_], CONTACT_DATE=a["start"][p_] + c["cont"][p_, k_],
                 STATUS=_obj(["ALIVE"] * len(p_)), DEATH_DATE=np.full(len(p_), MISSING),
                 DEATH_CAUSE=_obj([None] * len(p_)))
    horizon = np.minimum(c["ltfu"], c["data_end"])
    dead = np.flatnonzero(c["death"] <= horizon)
    learned = np.minimum(c["death"][dead] + rng.integers(0, 31, len(dead)), c["data_end"][dead])
    cause = np.where(c["pd_idx"][dead] >= 0, "Progressive disease", "Other / unknown").astype(object)
    dth = dict(_pi=dead, SUBJID=a["subjid"][dead], CONTACT_DATE=a["start"][dead] + learned,
               STATUS=_obj(["DEAD"] * len(dead)), DEATH_DATE=a["start"][dead] + c["death"][dead], DEATH_CAUSE=cause)
    lost = np.flatnonzero((c["ltfu"] < c["data_end"]) & (c["ltfu"] < c["death"]))
    ld = np.minimum(c["ltfu"][lost] + rng.integers(30, 91, len(lost)), c["data_end"][lost])
    lst = dict(_pi=lost, SUBJID=a["subjid"][lost], CONTACT_DATE=a["start"][lost] + ld,
               STATUS=_obj(["LOST"] * len(lost)), DEATH_DATE=np.full(len(lost), MISSING),
               DEATH_CAUSE=_obj([None] * len(lost)))
    return _sort_concat([alive, dth, lst], key=("_pi", "CONTACT_DATE"))
