"""Test of proportional hazards, as R ``survival::cox.zph`` since version 3.0.

Method (Grambsch & Therneau, Biometrika 1994;81:515-526; the exact score test of R survival
3.x, noweb/zph.Rnw and zph1.c). A time-varying coefficient b(t) = b + c g(t) is tested by a
score test of c = 0 in the model augmented with the covariates g(t) x:

- g(t) is a transform of time: "km" (default) 1 - S(t-), S the left-continuous Kaplan-Meier of
  all records (pooled over strata); "rank" the ranks of the times (ties averaged); "identity";
  "log". g is centred at its mean over the events (this changes nothing but rounding).
- At (b, c) = (b_hat, 0) the first p elements of the score are zero and the last p are
  U_c = sum_events g(t_i) (x_i - xbar(t_i)); the information has the blocks
  sum V(t), sum g(t) V(t), sum g(t)^2 V(t) (V the weighted covariance of x in the risk set,
  with the same Efron or Breslow tie handling as the fit).
- Per term: u' H^{-1} u on the rows/columns of all p original covariates plus the term's new
  columns; df = the number of the term's coefficients (a factor with k levels: k - 1 df).
  GLOBAL: all 2p columns, df = p.

The older approximation (before survival 3.0, and lifelines' ``proportional_hazard_test``)
assumed V(t) constant; it differs from this test and has no multi-df terms.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import chi2, rankdata

from . import coxph_engine as E
from . import km as K
from .cox import CoxResult

TRANSFORMS = ("km", "rank", "identity", "log")


def time_transform(time, event, transform: str = "km") -> np.ndarray:
    """g(t) per record, before centring (R ``cox.zph``'s ``ttimes``)."""
    t = np.asarray(time, dtype=float)
    if transform == "identity":
        return t
    if transform == "rank":
        return rankdata(t)
    if transform == "log":
        return np.log(t)
    if transform == "km":
        km = K.kaplan_meier(t, np.asarray(event, dtype=int), "log")
        idx = np.searchsorted(km.time, t, side="left")      # distinct times strictly before t
        return 1 - np.concatenate([[1.0], km.surv])[idx]
    raise ValueError(f"transform must be one of {TRANSFORMS}, not {transform!r}")


def zph_score(cd: E.CoxData, beta, gtime) -> tuple[np.ndarray, np.ndarray]:
    """Score (2p) and information (2p x 2p) of the model augmented with g(t) x, at (beta, 0)."""
    p = cd.p
    beta = np.asarray(beta, dtype=float)
    u = np.zeros(2 * p)
    imat = np.zeros((2 * p, 2 * p))
    ia, ib = (a.ravel() for a in np.meshgrid(np.arange(p), np.arange(p), indexing="ij"))
    for st in cd.parts:
        if not len(st.tg):
            continue
        x = st.x
        eta = x @ beta
        r = st.w * np.exp(eta - eta.max())
        cols = np.concatenate([x, x[:, ia] * x[:, ib]], axis=1)
        s0, sk = E._sums(st.inv, r, st.n_times, cols)
        s0, sk = E._rsum(s0)[st.tg], E._rsum(sk)[st.tg]
        g, f, wt = E._terms(st, cd.ties)
        if cd.ties == "efron":
            d0, dk = E._sums(st.ev_inv, r[st.ev], st.n_times, cols[st.ev])
            d0, dk = d0[st.tg], dk[st.tg]
        else:
            d0, dk = np.zeros(len(st.tg)), np.zeros_like(sk)
        a = s0[g] - f * d0[g]
        mom = (sk[g] - f[:, None] * dk[g]) / a[:, None]
        m = mom[:, :p]
        v = mom[:, p:].reshape(-1, p, p) - m[:, :, None] * m[:, None, :]
        gt_rec = gtime[st.rows]
        # g at each event time (every record at that time has the same g)
        g_time = np.zeros(st.n_times)
        g_time[st.ev_inv] = gt_rec[st.ev]
        gk = g_time[st.tg][g]
        we = st.w[st.ev]
        u[:p] += we @ x[st.ev] - wt @ m
        u[p:] += (we * gt_rec[st.ev]) @ x[st.ev] - (wt * gk) @ m
        imat[:p, :p] += np.einsum("t,tab->ab", wt, v)
        cross = np.einsum("t,tab->ab", wt * gk, v)
        imat[:p, p:] += cross
        imat[p:, :p] += cross
        imat[p:, p:] += np.einsum("t,tab->ab", wt * gk * gk, v)
    return u, imat


def cox_zph(res: CoxResult, transform: str = "km", terms: bool = True, global_test: bool = True) -> pd.DataFrame:
    """Proportional-hazards test of a fitted :class:`CoxResult`: one row per term in model
    order (per model column with ``terms=False``) and a GLOBAL row; columns term, chisq, df, p."""
    if res.engine is None or not len(res.table):
        return pd.DataFrame(columns=["term", "chisq", "df", "p"])
    cd = res.engine
    p = cd.p
    ttimes = time_transform(cd.time, cd.event, transform)
    gtime = ttimes - ttimes[cd.event].mean()
    u, imat = zph_score(cd, res.coef, gtime)
    u[:p] = 0.0
    cols = list(res.table.term)
    groups = ({name: [cols.index(c) for c in cs] for name, cs in res.terms.items()} if terms
              else {c: [i] for i, c in enumerate(cols)})
    rows = []
    for name, jj in groups.items():
        kk = list(range(p)) + [p + j for j in jj]
        uu = u[kk]
        stat = float(uu @ np.linalg.solve(imat[np.ix_(kk, kk)], uu))
        rows.append({"term": name, "chisq": stat, "df": len(jj), "p": float(chi2.sf(stat, len(jj)))})
    if global_test:
        stat = float(u @ np.linalg.solve(imat, u))
        rows.append({"term": "GLOBAL", "chisq": stat, "df": p, "p": float(chi2.sf(stat, p))})
    return pd.DataFrame(rows)
