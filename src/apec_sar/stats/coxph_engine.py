"""The project's Cox partial-likelihood engine: log-likelihood, score, information and (for
Firth's penalty) the derivative of the information, for Efron or Breslow ties, with strata and
case weights. One engine serves :func:`apec_sar.stats.cox.fit_cox`, Firth's penalised Cox
(:mod:`apec_sar.stats.firth`) and the proportional-hazards score test
(:mod:`apec_sar.stats.zph`).

Why our own: lifelines took 22.4 s for a 3-covariate Efron fit on 10^6 records where R
``survival`` takes 3.3 s, has no Firth penalty and only the pre-3.0 approximation of
``cox.zph``; statsmodels ``PHReg`` has neither either. The computation here needs no sorting:
each quantity is summed per distinct time (``numpy.bincount``) and accumulated backwards over
the distinct times, so one evaluation costs O(n p^2) for n records and p covariates.

Formulas (Therneau & Grambsch 2000, ch. 3; R ``survival`` coxfit6.c). For a stratum, distinct
event time t_k with d_k events (case weights w_i, risk scores r_i = w_i exp(x_i'b)), the risk
set R_k = {i : t_i >= t_k} and the tied events D_k:

- Breslow: one term per event time with S0 = sum_{R_k} r_i, S1 = sum r_i x_i,
  S2 = sum r_i x_i x_i'; mean m = S1/S0, covariance V = S2/S0 - m m'.
- Efron: d_k terms, j = 0..d_k-1, with the tied events down-weighted by j/d_k:
  S0_j = S0 - (j/d_k) sum_{D_k} r_i (likewise S1_j, S2_j), each term weighted by the mean case
  weight of the d_k events (as R does).
- log L = sum_{events} w_i x_i'b - sum_terms wbar log S0_j;
  U = sum_{events} w_i x_i - sum_terms wbar m_j; I = sum_terms wbar V_j.
- d I / d b_c = sum_terms wbar K3_j[., ., c], K3 the third central moment of x under the
  weights of the term (used for Firth's penalty 1/2 log|I|).

Covariates are centred at their means (the estimates do not change) and the linear predictor is
shifted by its maximum within each stratum (the likelihood does not change), so exp never
overflows, even when a coefficient diverges.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

TIES = ("efron", "breslow")


@dataclass
class _Stratum:
    rows: np.ndarray       # the records of the stratum (indices into the full data)
    inv: np.ndarray        # index of each record's time among the stratum's distinct times
    n_times: int
    ev: np.ndarray         # positions (within the stratum) of the events
    ev_inv: np.ndarray     # distinct-time index of each event
    tg: np.ndarray         # distinct-time indices with at least one event
    d: np.ndarray          # events at each of those times
    wd: np.ndarray         # summed case weights of the events at each of those times
    pair_g: np.ndarray     # Efron: position in tg of each term (one term per event)
    pair_f: np.ndarray     # Efron: the fraction j/d of each term
    w: np.ndarray          # case weights of the stratum's records
    inv2: np.ndarray       # inv, shifted by n_times for events: censored and event sums in one pass
    x: np.ndarray | None = None      # the stratum's covariates (filled in by CoxData)
    cols: np.ndarray | None = None   # x and the products x_a x_b (a <= b), side by side
    xsum_ev: np.ndarray | None = None   # sum of w x over the events (constant)


@dataclass
class CoxData:
    """Survival data prepared once for repeated likelihood evaluations."""

    x: np.ndarray          # (n, p) covariates, centred
    means: np.ndarray      # the column means removed
    time: np.ndarray
    event: np.ndarray      # bool
    weights: np.ndarray
    strata: np.ndarray     # integer stratum code per record (0 when unstratified)
    ties: str
    parts: list[_Stratum] = field(default_factory=list)

    def __post_init__(self):
        iu = np.triu_indices(self.p)
        parts = []
        for st in self.parts:
            x = self.x if len(self.parts) == 1 else self.x[st.rows]
            cols = np.asfortranarray(np.concatenate([x, x[:, iu[0]] * x[:, iu[1]]], axis=1))   # column sums
            parts.append(replace(st, x=x, cols=cols, xsum_ev=st.w[st.ev] @ x[st.ev]))
        self.parts = parts

    @property
    def n(self) -> int:
        return len(self.time)

    @property
    def p(self) -> int:
        return self.x.shape[1]

    def with_x(self, x: np.ndarray) -> CoxData:
        """The same risk sets with other covariates (nested models, augmented tests)."""
        x = np.asarray(x, dtype=float).reshape(self.n, -1)
        means = x.mean(axis=0) if x.shape[1] else np.zeros(0)
        return CoxData(x - means, means, self.time, self.event, self.weights, self.strata, self.ties, self.parts)


def prepare(time, event, x, strata=None, weights=None, ties: str = "efron") -> CoxData:
    """Index the data once: time, event (0/1 or bool, checked by the caller), x (n, p),
    optional stratum labels and case weights. No missing values allowed here."""
    if ties not in TIES:
        raise ValueError(f"ties must be one of {TIES}, not {ties!r}")
    t = np.asarray(time, dtype=float)
    e = np.asarray(event).astype(bool)
    n = len(t)
    x = np.asarray(x, dtype=float).reshape(n, -1)
    w = np.ones(n) if weights is None else np.asarray(weights, dtype=float)
    if np.any(~np.isfinite(t)) or np.any(~np.isfinite(x)) or np.any(~np.isfinite(w)):
        raise ValueError("time, covariates and weights must be finite (missing values removed first)")
    if np.any(w <= 0):
        raise ValueError("case weights must be positive")
    if strata is None:
        s = np.zeros(n, dtype=int)
    else:
        _, s = np.unique(np.asarray(strata), return_inverse=True)
    parts = []
    for k in range(int(s.max()) + 1 if n else 0):
        rows = np.flatnonzero(s == k) if strata is not None else np.arange(n)
        ut, inv = np.unique(t[rows], return_inverse=True)
        ev = np.flatnonzero(e[rows])
        ev_inv = inv[ev]
        d_all = np.bincount(ev_inv, minlength=len(ut))
        tg = np.flatnonzero(d_all > 0)
        d = d_all[tg]
        wd = np.bincount(ev_inv, weights=w[rows][ev], minlength=len(ut))[tg]
        pair_g = np.repeat(np.arange(len(tg)), d)
        starts = np.repeat(np.cumsum(d) - d, d)
        pair_f = (np.arange(len(pair_g)) - starts) / d[pair_g] if len(pair_g) else np.zeros(0)
        inv2 = inv + len(ut) * e[rows]
        parts.append(_Stratum(rows, inv, len(ut), ev, ev_inv, tg, d, wd, pair_g, pair_f, w[rows], inv2))
    means = x.mean(axis=0) if x.shape[1] else np.zeros(0)
    return CoxData(x - means, means, t, e, w, s, ties, parts)


def _rsum(a: np.ndarray) -> np.ndarray:
    """Backward cumulative sum over the distinct times (axis 0): risk-set totals."""
    return np.cumsum(a[::-1], axis=0)[::-1]


def _sums(inv, r, n_times, cols):
    """Per distinct time: sum of r (n_times,) and of r * each column (n_times, k)."""
    s0 = np.bincount(inv, weights=r, minlength=n_times)
    sk = np.empty((n_times, cols.shape[1]))
    for j in range(cols.shape[1]):
        sk[:, j] = np.bincount(inv, weights=r * cols[:, j], minlength=n_times)
    return s0, sk


def _terms(st: _Stratum, ties: str):
    """The terms of the partial likelihood: for each one its event time (position in tg),
    the tied-event fraction f removed from the risk set, and its weight."""
    if ties == "efron":
        return st.pair_g, st.pair_f, st.wd[st.pair_g] / st.d[st.pair_g]
    g = np.arange(len(st.tg))
    return g, np.zeros(len(g)), st.wd


def derivatives(data: CoxData, beta, order: int = 2):
    """Partial log-likelihood, score and information at ``beta``; with ``order=3`` also
    dI/db as an array (p, p, p) whose [a, b, c] element is d I_ab / d b_c."""
    p = data.p
    beta = np.asarray(beta, dtype=float).reshape(p)
    iu = np.triu_indices(p)
    loglik, score, info = 0.0, np.zeros(p), np.zeros((p, p))
    dinfo = np.zeros((p, p, p)) if order >= 3 else None
    for st in data.parts:
        if not len(st.tg):
            continue
        eta = st.x @ beta
        shift = eta.max()
        r = st.w * np.exp(eta - shift)
        nt = st.n_times
        b0, bk = _sums(st.inv2, r, 2 * nt, st.cols)           # censored records, then events
        s0, sk = _rsum(b0[:nt] + b0[nt:])[st.tg], _rsum(bk[:nt] + bk[nt:])[st.tg]
        loglik += float(st.xsum_ev @ beta - shift * st.wd.sum())
        score += st.xsum_ev
        g, f, wt = _terms(st, data.ties)
        if data.ties == "efron":
            d0, dk = b0[nt:][st.tg], bk[nt:][st.tg]
        else:
            d0, dk = np.zeros(len(st.tg)), np.zeros_like(sk)
        a = s0[g] - f * d0[g]
        G = len(st.tg)
        c0 = np.bincount(g, wt / a, G)
        c1 = np.bincount(g, wt * f / a, G)
        a2 = a * a
        q0 = np.bincount(g, wt / a2, G)
        q1 = np.bincount(g, wt * f / a2, G)
        q2 = np.bincount(g, wt * f * f / a2, G)
        loglik -= float(wt @ np.log(a))
        s1, d1 = sk[:, :p], dk[:, :p]
        s2, d2 = sk[:, p:], dk[:, p:]
        score -= c0 @ s1 - c1 @ d1
        second = c0 @ s2 - c1 @ d2                      # sum of wt * E[x_a x_b], a <= b
        cross = (s1 * q1[:, None]).T @ d1
        outer = (s1 * q0[:, None]).T @ s1 - cross - cross.T + (d1 * q2[:, None]).T @ d1   # sum wt m m'
        full = np.zeros((p, p))
        full[iu] = second
        full = full + np.triu(full, 1).T
        info += full - outer
        if dinfo is not None:
            dinfo += _third(st, r, data.ties, g, f, wt, p)
    if order >= 3:
        return loglik, score, info, dinfo
    return loglik, score, info


def _third(st: _Stratum, r, ties, g, f, wt, p):
    """sum over the terms of wt * third central moment of x under the term's weights."""
    x = st.x
    ia, ib, ic = (a.ravel() for a in np.meshgrid(np.arange(p), np.arange(p), np.arange(p), indexing="ij"))
    ja, jb = (a.ravel() for a in np.meshgrid(np.arange(p), np.arange(p), indexing="ij"))
    cols = np.concatenate([x, x[:, ja] * x[:, jb], x[:, ia] * x[:, ib] * x[:, ic]], axis=1)
    s0, sk = _sums(st.inv, r, st.n_times, cols)
    s0, sk = _rsum(s0)[st.tg], _rsum(sk)[st.tg]
    if ties == "efron":
        d0, dk = _sums(st.ev_inv, r[st.ev], st.n_times, cols[st.ev])
        d0, dk = d0[st.tg], dk[st.tg]
    else:
        d0, dk = np.zeros(len(st.tg)), np.zeros_like(sk)
    a = s0[g] - f * d0[g]
    mom = (sk[g] - f[:, None] * dk[g]) / a[:, None]
    m = mom[:, :p]
    e2 = mom[:, p:p + p * p].reshape(-1, p, p)
    e3 = mom[:, p + p * p:].reshape(-1, p, p, p)
    k3 = (e3
          - m[:, :, None, None] * e2[:, None, :, :]
          - m[:, None, :, None] * e2[:, :, None, :]
          - m[:, None, None, :] * e2[:, :, :, None]
          + 2 * m[:, :, None, None] * m[:, None, :, None] * m[:, None, None, :])
    return np.einsum("t,tabc->abc", wt, k3)


@dataclass
class NewtonResult:
    beta: np.ndarray
    loglik: float
    score: np.ndarray
    info: np.ndarray
    iterations: int
    converged: bool
    loglik_init: float
    score_init: np.ndarray
    info_init: np.ndarray


def newton_raphson(data: CoxData, beta0=None, max_iter: int = 60, tol: float = 1e-9) -> NewtonResult:
    """Maximise the partial likelihood by Newton-Raphson with step halving (as R ``coxph``):
    start at ``beta0`` (zero by default), step I^{-1} U, halve a step that lowers log L.
    Stops when the step is below ``tol`` relative to the coefficients, or when log L no longer
    changes (relative change below 1e-13). Under monotone likelihood the second happens while a
    coefficient keeps growing; the caller reports such a coefficient as not estimable."""
    p = data.p
    beta = np.zeros(p) if beta0 is None else np.asarray(beta0, dtype=float).copy()
    ll, u, info = derivatives(data, beta)
    ll_init, u_init, info_init = ll, u, info
    converged = p == 0
    it = 0
    while not converged and it < max_iter:
        it += 1
        try:
            step = np.linalg.solve(info, u)
        except np.linalg.LinAlgError:
            step = np.linalg.lstsq(info, u, rcond=None)[0]
        new = beta + step
        ll_new, u_new, info_new = derivatives(data, new)
        halvings = 0
        while (not np.isfinite(ll_new) or ll_new < ll - 1e-12 * abs(ll)) and halvings < 30:
            new = (beta + new) / 2
            ll_new, u_new, info_new = derivatives(data, new)
            halvings += 1
        small_step = bool(np.all(np.abs(new - beta) <= tol * (1 + np.abs(beta))))
        flat = abs(ll_new - ll) <= 1e-13 * max(abs(ll_new), 1.0)
        beta, ll, u, info = new, ll_new, u_new, info_new
        converged = small_step or flat
    return NewtonResult(beta, ll, u, info, it, converged, ll_init, u_init, info_init)
