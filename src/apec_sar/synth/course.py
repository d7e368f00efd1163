"""Each patient's course on study: tumour assessments, progression, death, follow-up contacts
and study-treatment cycles, simulated for many patients at once (numpy, no Python loop over
patients).

Times are day offsets from the first dose (offset 0 = TRTSDT; ADaM AVAL = offset + 1).
Latent model (synthetic_calibration.md E5, E6, F7-F9; assumptions): CT every 6 weeks for the
first four assessments, then every 9 weeks; progression time depends on the patient's response
class; post-progression survival is Weibull; a few patients die before progression is seen,
miss assessments, are lost to follow-up, or stop treatment for toxicity.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .dates import day

V_MAX = 20      # tumour assessments per patient (6 x q6w + q9w covers > 3 years)
C_MAX = 24      # survival-sweep contacts per patient
K_MAX = 36      # treatment cycles (q3w, two-year cap)
INF = np.int64(10**7)
DATA_END = day(2023, 12, 31)   # follow-up in the raw extract runs to this date

# response codes
NONE, CR, PR, SD, PD, NE = 0, 1, 2, 3, 4, 5
RESP_LABEL = {CR: "CR", PR: "PR", SD: "SD", PD: "PD", NE: "NE"}
# response classes drawn for a patient
CLS_PR, CLS_SD, CLS_PD = 0, 1, 2


@dataclass
class CourseParams:
    sd_scale: float = 150.0     # Weibull scale (days) of time to progression after first CT, SD class
    pr_scale: float = 230.0     # same, PR class, after the second CT
    tp_shape: float = 1.3
    pps_scale: float = 185.0    # post-progression survival, Weibull scale (days)
    pps_shape: float = 1.15
    p_miss: float = 0.04        # a scheduled CT not done
    p_ne: float = 0.05          # a CT done but not evaluable
    p_death_before_pd: float = 0.08
    p_ltfu: float = 0.04
    p_tox_stop: float = 0.08
    p_delay: float = 0.10       # a cycle delayed by one week
    p_interrupt: float = 0.025  # an anlotinib course stopped early (5-11 of its 14 days taken)
    p_pd1_skip: float = 0.03    # a cycle given without its PD-1 infusion (not the first)


def _weibull(rng: np.random.Generator, shape: float, scale: float, n: int) -> np.ndarray:
    return scale * rng.weibull(shape, n)


def _first_true(mask: np.ndarray) -> np.ndarray:
    """Index of the first True per row, -1 if none."""
    has = mask.any(axis=1)
    return np.where(has, mask.argmax(axis=1), -1)


def _last_true(mask: np.ndarray) -> np.ndarray:
    has = mask.any(axis=1)
    rev = mask[:, ::-1].argmax(axis=1)
    return np.where(has, mask.shape[1] - 1 - rev, -1)


def simulate(rng: np.random.Generator, start: np.ndarray, cls: np.ndarray, treated: np.ndarray,
             late_pr: np.ndarray, force_double_miss: np.ndarray | None = None,
             params: CourseParams | None = None) -> dict[str, np.ndarray]:
    """Simulate courses for ``len(start)`` patients.

    start: first-dose day numbers; cls: response class; treated: received any study drug;
    late_pr: PR must show at the first CT (late starters, so the response precedes the cut-off);
    force_double_miss: candidates (bool mask); one of them who progresses between the 2nd and 4th CT
    misses the 3rd and 4th CTs (exercises the FDA missed-assessment sensitivity rule).
    """
    p = params or CourseParams()
    m = len(start)
    k = np.arange(V_MAX)[None, :]
    iv = np.empty((m, V_MAX), dtype=np.int64)
    iv[:, 0] = 42 + rng.integers(0, 8, m)
    iv[:, 1:4] = np.clip(42 + np.rint(rng.normal(0, 3, (m, 3))), 36, 49)
    iv[:, 4:] = np.clip(63 + np.rint(rng.normal(0, 4, (m, V_MAX - 4))), 55, 72)
    vday = np.cumsum(iv, axis=1)

    miss = rng.random((m, V_MAX)) < p.p_miss
    miss[:, 0] = False

    tp = np.where(cls == CLS_PD, 1.0,
                  np.where(cls == CLS_SD, vday[:, 0] + 1 + _weibull(rng, p.tp_shape, p.sd_scale, m),
                           vday[:, 1] + 1 + _weibull(rng, p.tp_shape, p.pr_scale, m)))
    tp = np.ceil(tp).astype(np.int64)
    if force_double_miss is not None:
        # the 3rd and 4th CTs missed by one patient who progresses meanwhile: progression is
        # seen only at the 5th CT (exercises the FDA missed-assessment rule)
        cand = np.flatnonzero(force_double_miss & (tp > vday[:, 1]) & (tp <= vday[:, 3]))
        if len(cand):
            miss[rng.choice(cand), 2:4] = True
    ltfu = np.where(rng.random(m) < p.p_ltfu, rng.integers(90, 900, m), INF)
    data_end = DATA_END - start
    horizon = np.minimum(ltfu, data_end)

    cand = ~miss & (vday <= horizon[:, None]) & treated[:, None]
    pd_idx = _first_true(cand & (vday >= tp[:, None]))
    has_pd = pd_idx >= 0
    pd_day = np.where(has_pd, vday[np.arange(m), np.maximum(pd_idx, 0)], INF)

    # death: some die between two CTs before progression is seen; the rest after progression
    prev_idx = _last_true(cand & (k < pd_idx[:, None]))
    prev_day = np.where(prev_idx >= 0, vday[np.arange(m), np.maximum(prev_idx, 0)], 0)
    dbp = (rng.random(m) < p.p_death_before_pd) & has_pd & (pd_idx >= 2) & (pd_day - prev_day >= 4)
    u = rng.random(m)
    death_dbp = prev_day + 1 + np.floor(u * (pd_day - prev_day - 2)).astype(np.int64)
    pps = np.ceil(_weibull(rng, p.pps_shape, p.pps_scale, m)).astype(np.int64)
    death = np.where(dbp, death_dbp, np.where(has_pd, pd_day, tp) + 7 + pps)
    cand &= vday < death[:, None]
    pd_idx = _first_true(cand & (vday >= tp[:, None]))
    has_pd = pd_idx >= 0
    pd_day = np.where(has_pd, vday[np.arange(m), np.maximum(pd_idx, 0)], INF)
    perf = cand & np.where(has_pd[:, None], k <= pd_idx[:, None], True)

    # visit responses
    resp = np.where(perf, SD, NONE).astype(np.int8)
    first_perf = _first_true(perf)
    j_pr = np.where(late_pr | (rng.random(m) < 0.5), 0, 1)
    j_pr = np.maximum(j_pr, first_perf)
    is_pr = (cls == CLS_PR)[:, None] & perf & (k >= j_pr[:, None])
    resp[is_pr] = PR
    ne = (rng.random((m, V_MAX)) < p.p_ne) & perf & (k >= 1) & (k != j_pr[:, None])
    resp[ne] = NE
    resp[np.arange(m)[has_pd], pd_idx[has_pd]] = PD

    # study treatment: q3w cycles from day 0 until progression (+ up to 10 days), toxicity,
    # death, loss to follow-up, two years, or the end of the extract
    trt_end = np.where(has_pd, pd_day + rng.integers(0, 11, m), np.minimum(death - 5, INF))
    tox = rng.random(m) < p.p_tox_stop
    tox_day = 60 + np.floor(rng.random(m) * np.maximum(trt_end - 60, 1)).astype(np.int64)
    tox &= tox_day < trt_end
    trt_end = np.where(tox, tox_day, trt_end)
    trt_end = np.minimum.reduce([trt_end, np.full(m, 730), death - 5, horizon])
    gaps = np.where(rng.random((m, K_MAX)) < p.p_delay, 28, 21)
    gaps[:, 0] = 0
    cday = np.cumsum(gaps, axis=1)
    cyc = (cday <= trt_end[:, None]) & treated[:, None]
    cyc[:, 0] &= treated
    n_cyc = cyc.sum(axis=1)
    last_c = np.where(n_cyc > 0, cday[np.arange(m), np.maximum(n_cyc - 1, 0)], -1)
    reason = np.select(
        [~treated, has_pd & (trt_end >= pd_day), tox, trt_end >= 730, trt_end >= death - 5,
         trt_end >= ltfu, trt_end >= data_end],
        ["", "Progressive disease", "Toxicity", "Completed 2 years", "Death", "Lost to follow-up", ""],
        "Investigator decision")

    # new anticancer therapy: after progression for about half, after a toxicity stop for some
    nact = np.where(has_pd & (rng.random(m) < 0.55), pd_day + rng.integers(14, 46, m), INF)
    nact = np.where(~has_pd | (tox & (tox_day < pd_day)),
                    np.where(tox & (rng.random(m) < 0.3), tox_day + rng.integers(20, 61, m), nact), nact)
    nact = np.where((nact < death) & (nact <= horizon), nact, INF)

    # survival sweep contacts (known alive), every 8-14 weeks from day 0
    cgap = rng.integers(56, 99, (m, C_MAX))
    cont = np.cumsum(cgap, axis=1)
    cont_ok = (cont < death[:, None]) & (cont <= horizon[:, None])

    # anlotinib days taken per course (14 unless interrupted); cycles without the PD-1 infusion
    clen = np.where(rng.random((m, K_MAX)) < p.p_interrupt, rng.integers(5, 12, (m, K_MAX)), 14)
    pd1_skip = (rng.random((m, K_MAX)) < p.p_pd1_skip) & (np.arange(K_MAX)[None, :] > 0)

    return dict(vday=vday, perf=perf, resp=resp, pd_idx=pd_idx, pd_day=pd_day, tp=tp, death=death,
                dbp=dbp, ltfu=ltfu, data_end=data_end, cday=cday, cyc=cyc, last_cycle=last_c,
                trt_end=trt_end, eot_reason=reason, nact=nact, tox=tox, cont=cont, cont_ok=cont_ok, miss=miss,
                clen=clen, pd1_skip=pd1_skip)


# --- truth at a data cut-off ----------------------------------------------------------------

def truth_at_cutoff(c: dict[str, np.ndarray], start: np.ndarray, cutoff: int) -> dict[str, np.ndarray]:
    """Best overall response (unconfirmed and confirmed), PFS and OS as a perfect derivation
    would find them at ``cutoff`` (a day number), from the true course ``c``.

    Rules (SAR_SPEC 4): assessments after the cut-off are not seen; BOR: CR/PR whenever seen, SD
    only >= 42 days after first dose, then PD, then NE, else MISSING; confirmed PR needs a later
    PR >= 28 days after the first with at most one NE between. PFS: first PD or death; else
    censored at the last adequate (non-NE) assessment; none -> censored at day 1. OS: death; else
    censored at the last known alive date (contact, assessment or study-drug administration).
    """
    m = len(start)
    rows = np.arange(m)
    lim = (cutoff - start)[:, None]
    seen = c["perf"] & (c["vday"] <= lim)
    # BOR uses assessments before new anticancer therapy only; PFS uses all of them
    before_nact = seen & (c["vday"] < c["nact"][:, None])
    resp_all = np.where(seen, c["resp"], NONE)
    resp = np.where(before_nact, c["resp"], NONE)
    vday = c["vday"]
    any_pr = (resp == PR).any(axis=1)
    sd_ok = (((resp == SD) | (resp == PR)) & (vday >= 42)).any(axis=1)
    any_pd = (resp == PD).any(axis=1)
    any_seen = before_nact.any(axis=1)
    bor = np.select([any_pr, sd_ok, any_pd, any_seen], ["PR", "SD", "PD", "NE"], "MISSING")

    # confirmation
    first_pr = _first_true(resp == PR)
    fpr_day = np.where(first_pr >= 0, vday[rows, np.maximum(first_pr, 0)], INF)
    conf_cand = (resp == PR) & (vday >= fpr_day[:, None] + 28)
    conf_idx = _first_true(conf_cand)
    ne_cum = np.cumsum(resp == NE, axis=1)
    ne_between = np.where(conf_idx >= 0,
                          ne_cum[rows, np.maximum(conf_idx, 0)] - ne_cum[rows, np.maximum(first_pr, 0)], 99)
    confirmed = (first_pr >= 0) & (conf_idx >= 0) & (ne_between <= 1)
    cbor = np.where(confirmed, "PR", np.where(bor == "PR", np.where(sd_ok, "SD", "NE"), bor))

    # PFS
    pd_seen = (resp_all == PD).any(axis=1)
    pd_day = np.where(pd_seen, c["pd_day"], INF)
    death_seen = c["death"] <= np.minimum(cutoff - start, np.minimum(c["ltfu"], c["data_end"]))
    death_day = np.where(death_seen, c["death"], INF)
    ev_day = np.minimum(pd_day, death_day)
    adequate = seen & ((resp_all == PR) | (resp_all == SD) | (resp_all == CR))
    last_adeq = _last_true(adequate)
    lad = np.where(last_adeq >= 0, vday[rows, np.maximum(last_adeq, 0)], 0)
    pfs_event = ev_day < INF
    pfs_day = np.where(pfs_event, ev_day, lad)
    pfs_src = np.select([pfs_event & (pd_day <= death_day), pfs_event, last_adeq >= 0],
                        ["PD", "DEATH", "LAST ADEQUATE ASSESSMENT"], "TREATMENT START")

    # OS
    lstalv = last_alive(c, start, cutoff)
    os_day = np.where(death_seen, c["death"], lstalv)
    return dict(bor=bor, cbor=cbor, pfs_aval=pfs_day + 1, pfs_cnsr=(~pfs_event).astype(np.int8),
                pfs_source=pfs_src, os_aval=os_day + 1, os_cnsr=(~death_seen).astype(np.int8),
                lstalv=lstalv, last_adeq=lad, death_seen=death_seen)


def last_alive(c: dict[str, np.ndarray], start: np.ndarray, cutoff: int) -> np.ndarray:
    """Latest day offset <= cut-off (and before death) with evidence the patient was alive:
    a follow-up contact, a tumour assessment or a study-drug administration; 0 if none."""
    lim = (cutoff - start)[:, None]
    cands = [
        np.where(c["cont_ok"] & (c["cont"] <= lim), c["cont"], -1).max(axis=1),
        np.where(c["perf"] & (c["vday"] <= lim), c["vday"], -1).max(axis=1),
        np.where(c["cyc"] & (c["cday"] <= lim), c["cday"], -1).max(axis=1),
    ]
    # each anlotinib course runs 14 days (day 1-14 of the cycle), ended early by an interruption
    # or death; a course still running at the cut-off shows the patient alive on the cut-off day
    cend = course_end(c)
    cands.append(np.where(c["cyc"] & (cend <= lim), cend, -1).max(axis=1))
    spans = c["cyc"] & (c["cday"] <= lim) & (cend > lim)
    cands.append(np.where(spans.any(axis=1), lim[:, 0], -1))
    return np.maximum(np.maximum.reduce(cands), 0)


def pd1_given(c: dict[str, np.ndarray]) -> np.ndarray:
    """(patients x cycles): the cycle's PD-1 infusion was given (combination patients)."""
    return c["cyc"] & ~c["pd1_skip"]


def course_end(c: dict[str, np.ndarray]) -> np.ndarray:
    """Last day offset of each cycle's anlotinib course: 14 days, fewer when interrupted (cut
    short by death or the end of the extract)."""
    return np.minimum(c["cday"] + c["clen"] - 1, np.minimum(c["death"] - 1, c["data_end"])[:, None])
