"""Patient-level draws: sites, identifiers, baseline characteristics, eligibility, and (in
calibrated mode) the search that makes the 29 analysed patients reproduce the publication.

Calibrated mode (the committed extract): 49 distinct patients screened at 8 sites, 20 of them
failing exactly one eligibility criterion (counts in ``vocab.EXCLUSION_COUNTS``), plus one
patient reported twice (added when the tables are built). Scale mode: any number of patients,
~40 % ineligible, nothing calibrated.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from . import course as C
from . import vocab as V
from .dates import day

WINDOW_START = day(2020, 7, 1)    # publication: treatment started July 2020 - March 2022
WINDOW_END = day(2022, 3, 31)
PUBLICATION_CUTOFF = day(2022, 7, 3)
MONTH = 30.4375


@dataclass(frozen=True)
class Targets:
    """Published APEC figures the calibrated cohort must reproduce (SAR_SPEC 3)."""
    n_analysed: int = 29
    bor: tuple[int, int, int, int] = (0, 9, 16, 4)        # CR, PR, SD, PD
    prior_lines: tuple[int, int, int] = (8, 20, 1)       # 1, 2, 3 prior systemic lines
    resections: int = 23
    median_pfs: float = 5.33
    median_os: float = 10.37
    tolerance: float = 0.03
    pfs_events: tuple[int, int] = (21, 27)
    deaths: tuple[int, int] = (13, 21)
    # published 95 % CIs (PFS lower, upper, OS lower, upper), symmetric: median +/- 1.96 SE as
    # SPSS prints it. The calibrated cohort's symmetric CIs (Collett's density-based SE) lie
    # within sym_slack months of them, and its log-log Brookmeyer-Crowley CIs within ci_slack.
    ci_near: tuple[float, float, float, float] = (4.28, 6.38, 6.26, 14.48)
    sym_slack: float = 0.3
    ci_slack: tuple[float, float, float, float] = (0.6, 1.0, 1.0, 2.5)
    max_attempts: int = 2_000_000
    first_attempt: int = 0      # where the search starts (see generate.RECORDED_FIRST_ATTEMPT)


@dataclass
class Cohort:
    n: int
    arrays: dict[str, np.ndarray] = field(default_factory=dict)
    course: dict[str, np.ndarray] = field(default_factory=dict)
    truth: dict[str, np.ndarray] = field(default_factory=dict)
    attempts: int = 0

    def __getitem__(self, key: str) -> np.ndarray:
        return self.arrays[key]


# --- Kaplan-Meier, only for the calibration search (the analysis has its own, tested code) ---

def km_median(aval: np.ndarray, cnsr: np.ndarray) -> tuple[float, bool]:
    """Return (median in days, ambiguous). Median = smallest event time with S(t) <= 0.5;
    'ambiguous' when S(t) == 0.5 exactly on a step (software then differ)."""
    order = np.lexsort((cnsr, aval))  # events before censorings at tied times
    t, c = aval[order], cnsr[order]
    s, n_risk, med, ambiguous = 1.0, len(t), np.nan, False
    i = 0
    while i < len(t):
        j = i
        while j < len(t) and t[j] == t[i]:
            j += 1
        d = int(np.sum(c[i:j] == 0))
        if d:
            s *= 1 - d / n_risk
            if abs(s - 0.5) < 1e-12:
                ambiguous = True
            if s <= 0.5 + 1e-12 and np.isnan(med):
                med = float(t[i])
        n_risk -= j - i
        i = j
    return med, ambiguous


def km_median_ci_loglog(aval: np.ndarray, cnsr: np.ndarray) -> tuple[float, float]:
    """Brookmeyer-Crowley 95 % CI of the median with the log-log transform (upper NaN = NE)."""
    times = np.unique(aval[cnsr == 0])
    s, var, lo, hi = 1.0, 0.0, np.nan, np.nan
    for t in times:
        n = np.sum(aval >= t)
        d = np.sum((aval == t) & (cnsr == 0))
        s *= 1 - d / n
        if n > d:
            var += d / (n * (n - d))
        if 0 < s < 1 and var > 0:
            se = np.sqrt(var) / abs(np.log(s))
            a, b = np.log(-np.log(s)) + np.array([-1.96, 1.96]) * se
            upper, lower = np.exp(-np.exp(a)), np.exp(-np.exp(b))
        else:
            upper = lower = s
        if np.isnan(lo) and lower <= 0.5:
            lo = float(t)
        if np.isnan(hi) and upper <= 0.5:
            hi = float(t)
    return lo, hi


def km_median_symmetric_ci(aval: np.ndarray, cnsr: np.ndarray) -> tuple[float, float, float]:
    """Median +/- 1.96 SE (the symmetric CI SPSS prints), SE(median) = SE(S(median)) / f with
    the Greenwood SE and the density f = (S(u) - S(l)) / (l - u) between the largest event time
    u with S(u) >= 0.55 (0 if none) and the smallest l with S(l) <= 0.45 (Collett 2015, 2.4.1).
    Returns (median, lower, upper) in days; NaN when not estimable."""
    times = np.unique(aval[cnsr == 0])
    s, var, med, se_med = 1.0, 0.0, np.nan, np.nan
    ts, ss = [], []
    for t in times:
        n = np.sum(aval >= t)
        d = np.sum((aval == t) & (cnsr == 0))
        s *= 1 - d / n
        var += d / (n * (n - d)) if n > d else np.inf
        ts.append(float(t))
        ss.append(s)
        if np.isnan(med) and s <= 0.5 + 1e-12:
            med, se_med = float(t), s * np.sqrt(var)
    ts, ss = np.array(ts), np.array(ss)
    up, low = np.flatnonzero(ss >= 0.55), np.flatnonzero(ss <= 0.45)
    if np.isnan(med) or not len(low) or not np.isfinite(se_med):
        return med, np.nan, np.nan
    u, su = (ts[up[-1]], ss[up[-1]]) if len(up) else (0.0, 1.0)
    f = (su - ss[low[0]]) / (ts[low[0]] - u)
    half = 1.959963984540054 * se_med / f
    return med, med - half, med + half


# --- baseline -------------------------------------------------------------------------------

def _choice(rng, options, p, n):
    return np.asarray(options, dtype=object)[rng.choice(len(options), size=n, p=np.asarray(p) / np.sum(p))]


def draw_baseline(rng: np.random.Generator, n: int, calibrated: bool, first_serial: np.ndarray) -> dict:
    """Draw everything known before the first dose. ``first_serial[s]`` is the next free
    local patient number at site s (carried across chunks in scale mode)."""
    a: dict[str, np.ndarray] = {}
    if calibrated:
        sizes = [11, 8, 7, 6, 5, 5, 4, 3]          # 49 patients, Shanghai Chest Hospital largest
        site = np.repeat(np.arange(1, V.N_SITES + 1), sizes)
        reasons = np.array([""] * 29 + [r for r, k in V.EXCLUSION_COUNTS.items() for _ in range(k)], dtype=object)
        rng.shuffle(reasons)
    else:
        site = np.sort(rng.choice(np.arange(1, V.N_SITES + 1), size=n,
                                  p=np.array([11, 8, 7, 6, 5, 5, 4, 3]) / 49))
        inel = rng.random(n) < 0.40
        reasons = np.where(inel, _choice(rng, V.EXCLUSION_REASONS, list(V.EXCLUSION_COUNTS.values()), n), "")
    assert len(site) == n
    a["site"] = site.astype(np.int64)
    a["reason"] = reasons.astype(object)
    elig = reasons == ""
    a["eligible"] = elig
    serial = np.empty(n, dtype=np.int64)
    for s in range(1, V.N_SITES + 1):
        idx = np.flatnonzero(site == s)
        serial[idx] = first_serial[s] + np.arange(len(idx))
        first_serial[s] += len(idx)
    a["serial"] = serial

    # dates: first dose within the publication window unless excluded for it
    start = WINDOW_START + rng.integers(0, WINDOW_END - WINDOW_START + 1, n)
    out = reasons == "outside_window"
    early = rng.random(n) < 0.5
    start = np.where(out & early, WINDOW_START - rng.integers(20, 200, n), start)
    start = np.where(out & ~early, WINDOW_END + rng.integers(15, 80, n), start)
    a["start"] = start.astype(np.int64)
    a["screen"] = a["start"] - rng.integers(3, 21, n)
    a["treated"] = ~(reasons == "no_combination") | (rng.random(n) < 0.67)
    a["combo"] = reasons != "no_combination"

    age = np.clip(np.rint(rng.normal(63.5, 7.5, n)), 43, 80)
    a["birth"] = a["start"] - (age * 365.25).astype(np.int64) - rng.integers(0, 365, n)
    a["sex"] = np.where(rng.random(n) < 0.87, "M", "F").astype(object)
    a["ecog"] = np.where(reasons == "ecog_gt2", 3, rng.choice([0, 1, 2], size=n, p=[0.30, 0.65, 0.05]))
    a["smoking"] = np.where(rng.random(n) < 0.66, "Y", "N").astype(object)
    a["alcohol"] = np.where(rng.random(n) < 0.53, "Y", "N").astype(object)
    male = a["sex"] == "M"
    a["height"] = np.round(np.where(male, rng.normal(168, 6, n), rng.normal(157, 5, n)), 0)
    a["weight"] = np.round(np.clip(rng.normal(58, 9, n) + np.where(male, 4, -4), 36, 95), 1)
    a["histology"] = np.where(reasons == "not_escc", V.HISTOLOGIES[1],
                              np.where(reasons == "small_cell_component", V.HISTOLOGIES[2], V.HISTOLOGIES[0])).astype(object)
    a["primary_site"] = _choice(rng, V.PRIMARY_SITES, V.PRIMARY_SITE_SHARE, n)

    # prior therapy: advanced-setting systemic lines, ICI, anlotinib, resection, radiotherapy
    if calibrated:
        lines = np.array([1] * 8 + [2] * 20 + [3] * 1)
        rng.shuffle(lines)
        nl = rng.choice([1, 2, 3], size=n, p=[0.3, 0.65, 0.05])
        nl[elig] = lines
        res = rng.random(n) < 0.7
        rflag = np.array([True] * 23 + [False] * 6)
        rng.shuffle(rflag)
        res[elig] = rflag
    else:
        nl = rng.choice([1, 2, 3], size=n, p=[0.28, 0.69, 0.03])
        res = rng.random(n) < 0.79
    not_prog = reasons == "ici_not_progressed"
    nl = np.where(not_prog, np.maximum(nl, 2), nl)          # the ICI line is followed by another line
    a["n_lines"] = np.where(reasons == "no_prior_line", 0, nl)
    a["prior_ici"] = (reasons != "no_prior_ici") & (a["n_lines"] > 0)
    a["ici_line"] = np.where(not_prog, 1, np.minimum(rng.integers(1, 3, n), np.maximum(a["n_lines"], 1)))
    # resistance to the prior ICI (SITC); 'not_progressed' for ici_not_progressed, '' without an ICI
    if calibrated:
        res_el = np.array([r for r, k in zip(V.RESISTANCE, V.RESISTANCE_CALIBRATED) for _ in range(k)], dtype=object)
        rng.shuffle(res_el)
        resist = _choice(rng, V.RESISTANCE, V.RESISTANCE_SHARE, n)
        resist[elig] = res_el
    else:
        resist = _choice(rng, V.RESISTANCE, V.RESISTANCE_SHARE, n)
    resist = np.where(not_prog, "not_progressed", resist)
    a["resistance"] = np.where(a["prior_ici"], resist, "").astype(object)
    a["prior_anlotinib"] = reasons == "prior_anlotinib"
    a["resected"] = res
    a["prior_rt"] = rng.random(n) < 0.55
    a["adjuvant"] = res & (rng.random(n) < 0.5)
    a["disease_status"] = np.where(res, V.DISEASE_STATUSES[0],
                                   _choice(rng, V.DISEASE_STATUSES[1:], [0.3, 0.7], n)).astype(object)
    a["other_malignancy"] = reasons == "other_malignancy"
    a["unstable"] = reasons == "unstable_systemic"
    brain = np.where(reasons == "symptomatic_brain", 2, np.where(rng.random(n) < 0.03, 1, 0))
    a["brain"] = np.asarray(V.BRAIN_STATUS, dtype=object)[brain]
    a["pregnant"] = np.where(a["sex"] == "F", "N", None).astype(object)
    grp = rng.choice(3, size=n, p=V.PDL1_GROUP_SHARE)
    cps = np.select([grp == 0, grp == 1], [0, rng.integers(1, 10, n)], rng.integers(10, 61, n))
    a["pdl1"] = np.where(rng.random(n) < V.PDL1_TESTED_SHARE, cps, -1)
    a["pd1"] = _choice(rng, V.PD1_AGENTS, V.PD1_SHARE, n)
    a["anl_dose"] = rng.choice(V.ANLOTINIB_START_DOSE, size=n, p=V.ANLOTINIB_DOSE_SHARE)
    a["reduce_at"] = np.where(rng.random(n) < 0.2, rng.integers(2, 8, n), 999)
    # response class: PR / SD / PD; ineligible and scale-mode patients uncalibrated
    a["cls"] = rng.choice([C.CLS_PR, C.CLS_SD, C.CLS_PD], size=n, p=[0.31, 0.55, 0.14])
    return a


def simulate_courses(rng: np.random.Generator, a: dict, idx: np.ndarray, cls: np.ndarray,
                     force_double_miss: np.ndarray | None = None) -> dict[str, np.ndarray]:
    start = a["start"][idx]
    late_pr = start > WINDOW_END - 75
    return C.simulate(rng, start, cls, a["treated"][idx], late_pr, force_double_miss)


def _merge(full: dict | None, part: dict, idx: np.ndarray, n: int) -> dict:
    if full is None:
        full = {k: np.zeros((n,) + v.shape[1:], dtype=v.dtype) for k, v in part.items()}
    for k, v in part.items():
        full[k][idx] = v
    return full


def _median_patient(aval: np.ndarray, cnsr: np.ndarray, med: float) -> int:
    hits = np.flatnonzero((aval == med) & (cnsr == 0))
    return int(hits[0]) if len(hits) == 1 else -1


def _nudge_pfs(c: dict, i: int, delta: int) -> bool:
    """Move patient i's progression CT by ``delta`` days (CT dates drift in practice);
    refuse if that makes an implausible gap or crosses the death date."""
    j = int(c["pd_idx"][i])
    if j < 0 or c["dbp"][i]:
        return False
    prev = c["vday"][i, j - 1] if j > 0 else 0
    new = c["vday"][i, j] + delta
    if not (30 <= new - prev <= 80) or new + 7 >= c["death"][i]:
        return False
    c["vday"][i, j:] += delta
    c["pd_day"][i] = new
    c["trt_end"][i] += delta
    c["cyc"][i] = (c["cday"][i] <= c["trt_end"][i]) & c["cyc"][i, :1]
    n_cyc = int(c["cyc"][i].sum())
    c["last_cycle"][i] = c["cday"][i, n_cyc - 1] if n_cyc else -1
    return True


def _nudge_death(c: dict, i: int, delta: int) -> bool:
    """Move patient i's death by ``delta`` days if it stays after every other record."""
    new = c["death"][i] + delta
    last_seen = max(int(np.max(np.where(c["perf"][i], c["vday"][i], 0))),
                    int(np.max(np.where(c["cyc"][i], c["cday"][i], 0))) + 14)
    if new <= last_seen + 7 or c["dbp"][i]:
        return False
    c["death"][i] = new
    c["cont_ok"][i] = (c["cont"][i] < new) & (c["cont"][i] <= min(c["ltfu"][i], c["data_end"][i]))
    return True


def calibrate(seed: int, a: dict, targets: Targets) -> tuple[dict, dict, int]:
    """Search attempt seeds (seed, 1, k), k = 0, 1, ..., for courses of the eligible patients
    whose truth at the publication cut-off reproduces the published BOR counts and the median
    PFS and OS (the CT or death date that defines a median may be moved by up to 12 days, as
    visit windows allow), with event counts in range, Brookmeyer-Crowley CIs near the
    published ones, and no KM step exactly at 0.5. Deterministic: the first passing attempt
    wins."""
    elig = np.flatnonzero(a["eligible"])
    base = np.array([C.CLS_PR] * targets.bor[1] + [C.CLS_SD] * targets.bor[2] + [C.CLS_PD] * targets.bor[3])
    start = a["start"][elig]
    want_pfs = int(round(targets.median_pfs * MONTH))   # AVAL in days
    want_os = int(round(targets.median_os * MONTH))
    for k in range(targets.first_attempt, targets.max_attempts):
        rng = np.random.default_rng([seed, 1, k])
        cls = rng.permutation(base)
        c = simulate_courses(rng, a, elig, cls, cls != C.CLS_PD)
        t = C.truth_at_cutoff(c, start, PUBLICATION_CUTOFF)
        counts = tuple(int(np.sum(t["bor"] == b)) for b in ("CR", "PR", "SD", "PD"))
        if counts != targets.bor:
            continue
        for _ in range(2):  # nudge, then re-derive
            pfs_med, _a = km_median(t["pfs_aval"], t["pfs_cnsr"])
            os_med, _b = km_median(t["os_aval"], t["os_cnsr"])
            if np.isnan(pfs_med) or np.isnan(os_med):
                break
            i = _median_patient(t["pfs_aval"], t["pfs_cnsr"], pfs_med)
            if 0 < abs(want_pfs - pfs_med) <= 12 and i >= 0:
                _nudge_pfs(c, i, int(want_pfs - pfs_med))
            j = _median_patient(t["os_aval"], t["os_cnsr"], os_med)
            if 0 < abs(want_os - os_med) <= 12 and j >= 0:
                _nudge_death(c, j, int(want_os - os_med))
            t = C.truth_at_cutoff(c, start, PUBLICATION_CUTOFF)
        counts = tuple(int(np.sum(t["bor"] == b)) for b in ("CR", "PR", "SD", "PD"))
        pfs_med, amb1 = km_median(t["pfs_aval"], t["pfs_cnsr"])
        os_med, amb2 = km_median(t["os_aval"], t["os_cnsr"])
        if counts != targets.bor or amb1 or amb2 or np.isnan(pfs_med) or np.isnan(os_med):
            continue
        if abs(pfs_med / MONTH - targets.median_pfs) > targets.tolerance:
            continue
        if abs(os_med / MONTH - targets.median_os) > targets.tolerance:
            continue
        n_pfs, n_dth = int(np.sum(t["pfs_cnsr"] == 0)), int(np.sum(t["os_cnsr"] == 0))
        if not (targets.pfs_events[0] <= n_pfs <= targets.pfs_events[1]):
            continue
        if not (targets.deaths[0] <= n_dth <= targets.deaths[1]):
            continue
        sym = (*km_median_symmetric_ci(t["pfs_aval"], t["pfs_cnsr"])[1:],
               *km_median_symmetric_ci(t["os_aval"], t["os_cnsr"])[1:])
        sym = np.array(sym) / MONTH
        if np.any(np.isnan(sym)) or np.any(np.abs(sym - np.array(targets.ci_near)) > targets.sym_slack):
            continue
        ci = (*km_median_ci_loglog(t["pfs_aval"], t["pfs_cnsr"]), *km_median_ci_loglog(t["os_aval"], t["os_cnsr"]))
        ci = np.array(ci) / MONTH
        if np.any(np.isnan(ci)) or np.any(np.abs(ci - np.array(targets.ci_near)) > np.array(targets.ci_slack)):
            continue
        return c, {"cls": cls}, k + 1
    raise RuntimeError(f"calibration found no attempt in {targets.max_attempts} tries; "
                       "change the seed or the course parameters")
