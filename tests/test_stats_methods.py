"""The statistics library's methods on hand-built data with hand-computed expected values,
independent re-implementations, and independent libraries (lifelines, statsmodels) as
cross-checks. R comparisons are in test_stats_reference_r.py."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import minimize
from scipy.stats import chi2

from apec_sar.stats import km as K
from apec_sar.stats.binom import clopper_pearson
from apec_sar.stats.compare import km_by_group, logrank_test, number_at_risk_table
from apec_sar.stats.cox import factor_levels, firth_recommended, fit_cox
from apec_sar.stats.firth import fit_firth
from apec_sar.stats.status import event_indicator
from apec_sar.stats.zph import cox_zph


def toy(n=40, seed=1):
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 2, n)
    age = rng.normal(60, 9, n).round(0)
    t = (rng.exponential(10 / (1 + x), n).round(0) + 1)            # whole days: many ties
    return pd.DataFrame({"time": t, "status": (rng.random(n) < 0.8).astype(int), "grp": np.where(x, "B", "A"),
                         "age": age})


# --- status coding ---------------------------------------------------------------------------

@pytest.mark.parametrize("bad", [[0, 1, 2], [1, 2, 2], ["0", "1"], [0, 1, -1]])
def test_status_other_than_0_1_is_rejected_naming_the_values(bad):
    with pytest.raises(ValueError, match=r"values \[.*\] are not 0/1"):
        K.kaplan_meier(np.arange(1, len(bad) + 1), bad)


def test_status_booleans_and_explicit_event_value():
    assert event_indicator([True, False]).tolist() == [True, False]
    assert event_indicator([1, 2, 2], event_value=2).tolist() == [False, True, True]
    assert event_indicator(["dead", "alive"], event_value="dead", censor_value="alive").tolist() == [True, False]
    with pytest.raises(ValueError, match=r"values \[3\] are neither"):
        event_indicator([1, 2, 3], event_value=2)
    with pytest.raises(ValueError, match="missing"):
        event_indicator([0, np.nan])


def test_every_survival_function_checks_the_status():
    d = toy().assign(status=lambda x: x.status + 1)
    for call in (lambda: fit_cox(d, "time", "status", ["grp"]), lambda: fit_firth(d, "time", "status", ["grp"]),
                 lambda: logrank_test(d, "time", "status", "grp"), lambda: km_by_group(d, "time", "status", "grp")):
        with pytest.raises(ValueError, match="event_value=2"):
            call()
    a = fit_cox(d, "time", "status", ["grp"], event_value=2)
    b = fit_cox(toy(), "time", "status", ["grp"])
    assert a.table.coef.tolist() == pytest.approx(b.table.coef.tolist(), rel=1e-12)


# --- KM: at risk, quantiles -------------------------------------------------------------------

def test_at_risk_at_a_landmark_counts_time_at_or_after_it():
    # times 1, 2, 2, 2, 3: at t = 2 the three records at 2 are still at risk (R's n.risk)
    f = K.kaplan_meier([1, 2, 2, 2, 3], [1, 1, 0, 1, 0])
    lm = K.survival_at(f, 2)
    assert lm.n_risk == 4
    assert lm.surv == pytest.approx(0.8 * (1 - 2 / 4))            # S(2) = 4/5 * 2/4
    assert K.survival_at(f, 2.5).n_risk == 1 and K.survival_at(f, 3.5).n_risk == 0
    assert K.survival_at(f, 0.5) == (1.0, 1.0, 1.0, 5)


def test_quantile_several_probabilities_named():
    f = K.kaplan_meier(np.arange(1, 11), np.ones(10))
    q = K.quantile(f, [0.25, 0.5, 0.75])
    assert list(q.columns) == ["estimate", "lower", "upper"] and list(q.index) == [0.25, 0.5, 0.75]
    assert q.loc[0.5, "estimate"] == 5.5 and q.loc[0.25, "estimate"] == 3.0 and q.loc[0.75, "estimate"] == 8.0
    med = K.quantile(f, 0.5)
    assert med.estimate == 5.5 and tuple(med) == tuple(q.loc[0.5])
    assert "median = 5.5" in repr(f)


def test_km_by_group_and_risk_table():
    d = pd.DataFrame({"time": [1, 2, 3, 4, 5, 6], "status": [1, 0, 1, 1, 1, 0],
                      "arm": pd.Categorical(["b", "a", "b", "a", "b", "a"], categories=["b", "a"])})
    curves = km_by_group(d, "time", "status", "arm")
    assert list(curves) == ["b", "a"]                               # Categorical order
    tab = number_at_risk_table(curves, [0, 2, 4, 6])
    assert tab["b"].tolist() == [3, 2, 1, 0] and tab["a"].tolist() == [3, 3, 2, 1]


# --- log-rank ---------------------------------------------------------------------------------

def test_logrank_hand_computed():
    # A: events at 1 and 3; B: event at 2, censored at 4.
    # t=1: n=4, nA=2 -> E_A = 1/2, V = 1*3/(4*3) * 2 * (1 - 2/4) = 1/4
    # t=2: n=3, nA=1 -> E_A = 1/3, V = 1*2/(3*2) * 1 * (2/3) = 2/9
    # t=3: n=2, nA=1 -> E_A = 1/2, V = 1*1/(2*1) * 1 * (1/2) = 1/4
    # O_A = 2, E_A = 4/3, V = 13/18, chisq = (2/3)^2 / (13/18) = 8/13
    d = pd.DataFrame({"time": [1, 3, 2, 4], "status": [1, 1, 1, 0], "g": ["A", "A", "B", "B"]})
    r = logrank_test(d, "time", "status", "g")
    assert r.table.observed.tolist() == [2, 1]
    assert r.table.expected.tolist() == pytest.approx([4 / 3, 5 / 3])
    assert r.var[0, 0] == pytest.approx(13 / 18)
    assert r.chisq == pytest.approx(8 / 13) and r.df == 1
    assert r.p == pytest.approx(chi2.sf(8 / 13, 1))


# --- Cox: reference levels, engine cross-check ------------------------------------------------

def test_reference_level_rule():
    assert factor_levels(pd.Series(["b", "a", "c", "a"])) == ["a", "b", "c"]              # sorted (R)
    assert factor_levels(pd.Series(pd.Categorical(["lo", "hi"], categories=["lo", "hi"]))) == ["lo", "hi"]
    assert factor_levels(pd.Series([True, False])) == [False, True]
    r = fit_cox(toy(), "time", "status", ["grp", "age"])
    assert r.table.term.tolist() == ["grp[B vs A]", "age"]
    assert list(r.terms) == ["grp", "age"]


def test_cox_engine_agrees_with_lifelines():
    """lifelines (an independent implementation, Efron ties) as a cross-check of the engine."""
    from lifelines import CoxPHFitter

    d = toy(120, seed=3)
    d["b"] = (d.grp == "B").astype(float)
    ours = fit_cox(d, "time", "status", {"b": None, "age": None})
    lf = CoxPHFitter().fit(d[["time", "status", "b", "age"]], "time", "status",
                           fit_options={"precision": 1e-12, "max_steps": 200})
    assert ours.table.coef.to_numpy() == pytest.approx(lf.params_.to_numpy(), rel=1e-6)
    assert ours.table.se.to_numpy() == pytest.approx(lf.standard_errors_.to_numpy(), rel=1e-6)
    assert ours.loglik == pytest.approx(lf.log_likelihood_, rel=1e-9)


def test_cox_term_tests_and_repr():
    r = fit_cox(toy(80), "time", "status", ["grp", "age"])
    assert r.term_tests.covariate.tolist() == ["grp", "age"]
    sub = fit_cox(toy(80), "time", "status", ["age"])
    assert r.term_tests.lr_stat.iloc[0] == pytest.approx(2 * (r.loglik - sub.loglik), rel=1e-9)
    assert "Cox model (efron ties): n = 80" in repr(r)
    assert r.tests().test.tolist() == ["likelihood ratio", "Wald", "score (log-rank)"]


def test_score_test_of_a_binary_covariate_is_the_logrank_test():
    # without tied event times the Cox score test is the log-rank test (Collett 2015, 3.9)
    d = toy(60, seed=5)
    d["time"] = d.time + np.linspace(0, 0.5, len(d))
    cox = fit_cox(d, "time", "status", ["grp"], ties="breslow")
    lr = logrank_test(d, "time", "status", "grp")
    assert cox.score_stat == pytest.approx(lr.chisq, rel=1e-9)


# --- cox.zph ----------------------------------------------------------------------------------

def test_zph_closed_form_breslow_identity():
    """survival's test1 data (its test suite derives the score test in closed form): Breslow,
    events at 1, 6, 6, 9; at the MLE exp(b) = r = (3 + sqrt(33)) / 2; per event time the score
    and information are U = (1/(r+1), 3/(r+3), -r/(r+3), 0), I = (r/(r+1)^2, 3r/(r+3)^2,
    3r/(r+3)^2, 0); with g = event times the test is u2' i2^-1 u2 for u2 = (0, sum g U),
    i2 = [[sum I, sum g I], [sum g I, sum g^2 I]]."""
    d = pd.DataFrame({"time": [9, 1, 1, 6, 6, 8], "status": [1, 1, 0, 1, 1, 0], "x": [0, 1, 1, 1, 0, 0]})
    r = (3 + np.sqrt(33)) / 2
    U = np.array([1 / (r + 1), 3 / (r + 3), -r / (r + 3), 0])
    imat = np.array([r / (r + 1) ** 2, 3 * r / (r + 3) ** 2, 3 * r / (r + 3) ** 2, 0])
    g = np.array([1, 6, 6, 9])
    u2 = np.array([U.sum(), (g * U).sum()])
    i2 = np.array([[imat.sum(), (g * imat).sum()], [(g * imat).sum(), (g * g * imat).sum()]])
    want = u2 @ np.linalg.solve(i2, u2)
    fit = fit_cox(d, "time", "status", {"x": None}, ties="breslow")
    assert np.exp(fit.coef[0]) == pytest.approx(r, rel=1e-9)
    got = cox_zph(fit, transform="identity")
    assert got.term.tolist() == ["x", "GLOBAL"]
    assert got.chisq.iloc[0] == pytest.approx(want, rel=1e-8)


def test_zph_rows_keep_model_order_with_multi_df_factor():
    d = toy(80)
    d["site"] = np.array(["s1", "s2", "s3", "s4"])[np.arange(80) % 4]
    z = cox_zph(fit_cox(d, "time", "status", ["site", "age", "grp"]))
    assert z.term.tolist() == ["site", "age", "grp", "GLOBAL"] and z.df.tolist() == [3, 1, 1, 5]


# --- Firth: defining properties, computed independently ----------------------------------------

def naive_penalised_loglik(beta, t, e, X):
    """Breslow l(b) + 1/2 log|I(b)| written out risk set by risk set (independent of the
    package's vectorised engine)."""
    beta = np.atleast_1d(beta)
    ll, info = 0.0, np.zeros((len(beta), len(beta)))
    for u in np.unique(t[e == 1]):
        risk = t >= u
        dead = (t == u) & (e == 1)
        w = np.exp(X[risk] @ beta)
        m = (w[:, None] * X[risk]).sum(0) / w.sum()
        cov = (w[:, None, None] * X[risk][:, :, None] * X[risk][:, None, :]).sum(0) / w.sum() - np.outer(m, m)
        d = dead.sum()
        ll += (X[dead] @ beta).sum() - d * np.log(w.sum())
        info += d * cov
    return ll + 0.5 * np.linalg.slogdet(info)[1]


def monotone_data():
    d = toy(30, seed=11)
    d["sep"] = (d.time <= d.time.median()).astype(int)        # events early all have sep = 1
    return d


def test_firth_penalised_score_is_zero_at_the_estimate():
    d = monotone_data()
    res = fit_firth(d, "time", "status", {"sep": None, "age": None})
    t, e, X = d.time.to_numpy(float), d.status.to_numpy(), d[["sep", "age"]].to_numpy(float)
    h = 1e-5
    for k in range(2):
        step = np.zeros(2)
        step[k] = h
        g = (naive_penalised_loglik(res.coef + step, t, e, X) - naive_penalised_loglik(res.coef - step, t, e, X)) / (2 * h)
        assert abs(g) < 1e-6
    assert res.loglik == pytest.approx(naive_penalised_loglik(res.coef, t, e, X), rel=1e-10)


def test_firth_profile_bounds_drop_the_penalised_loglik_by_half_chi2():
    d = monotone_data()
    res = fit_firth(d, "time", "status", {"sep": None, "age": None})
    t, e, X = d.time.to_numpy(float), d.status.to_numpy(), d[["sep", "age"]].to_numpy(float)
    top = naive_penalised_loglik(res.coef, t, e, X)
    for k in range(2):
        other = 1 - k
        for bound in np.log(res.table[["lower", "upper"]].iloc[k].to_numpy()):
            def neg(b_other, bound=bound, k=k, other=other):
                b = np.zeros(2)
                b[k], b[other] = bound, b_other[0]
                return -naive_penalised_loglik(b, t, e, X)
            prof = -minimize(neg, [res.coef[other]], method="Nelder-Mead",
                             options={"xatol": 1e-10, "fatol": 1e-13, "maxiter": 4000}).fun
            assert top - prof == pytest.approx(chi2.ppf(0.95, 1) / 2, rel=1e-6)


def test_firth_is_finite_where_ml_diverges():
    d = monotone_data()
    ml = fit_cox(d, "time", "status", {"sep": None, "age": None})
    assert "sep" in ml.separated and not ml.converged
    need, why = firth_recommended(ml)
    assert need and "monotone likelihood" in why
    fr = fit_firth(d, "time", "status", {"sep": None, "age": None})
    assert fr.converged and np.all(np.isfinite(fr.coef)) and abs(fr.coef[0]) < 10
    assert np.isfinite(fr.table.lower.iloc[0]) and fr.table.lower.iloc[0] > 1


def test_firth_approaches_ml_in_a_large_sample():
    d = toy(2000, seed=7)
    ml = fit_cox(d, "time", "status", ["grp", "age"], ties="breslow")
    fr = fit_firth(d, "time", "status", ["grp", "age"], profile=False)
    assert fr.coef == pytest.approx(ml.coef, rel=1e-2, abs=1e-3)
    assert firth_recommended(ml) == (False, "ML fit adequate (EPV >= 10, no separation)")


# --- statsmodels cross-check ------------------------------------------------------------------

@pytest.mark.parametrize("x,n", [(0, 29), (1, 29), (9, 29), (25, 29), (29, 29), (3, 7)])
def test_clopper_pearson_matches_statsmodels_beta(x, n):
    from statsmodels.stats.proportion import proportion_confint

    lo, hi = proportion_confint(x, n, alpha=0.05, method="beta")
    _, a, b = clopper_pearson(x, n)
    assert (a, b) == pytest.approx((lo, hi), rel=1e-10, abs=1e-14)


def test_firth_efron_penalised_score_matches_the_numerical_derivative():
    """With Efron ties the penalty's derivative uses the Efron-weighted third moments; at the
    estimate the numerical gradient of l* (Efron log-likelihood and information, both checked
    against R) must vanish."""
    from apec_sar.stats.firth import penalised_loglik

    d = toy(50, seed=4)
    res = fit_firth(d, "time", "status", ["grp", "age"], ties="efron", profile=False)
    cd = res.engine
    assert cd.ties == "efron" and d.duplicated(["time"]).any()
    h = 1e-5
    for k in range(2):
        step = np.zeros(2)
        step[k] = h
        g = (penalised_loglik(cd, res.coef + step)[0] - penalised_loglik(cd, res.coef - step)[0]) / (2 * h)
        assert abs(g) < 1e-6


def test_firth_reproduces_coxphf_on_its_breast_cancer_example():
    """The worked example of Heinze & Schemper (2001) shipped with R ``coxphf`` (data
    ``breast``: 100 patients, 26 events, all with G = 1, so the ML estimate of G diverges).
    Expected values: ``coxphf(Surv(TIME, CENS) ~ T + N + G + CD, data = breast)`` with its
    defaults (profile penalised-likelihood CIs, penalised LR p-values), as printed by coxphf
    1.13 and recorded in the public benchmark file tests/benchmarks/python_results/
    benchmark_firth_cox.csv of github.com/NTWKKM/shinystat-skills (coxphf itself cannot be
    installed here). coxphf stops at a parameter change of 1e-6, hence the tolerance."""
    from pathlib import Path

    d = pd.read_csv(Path(__file__).parent / "data" / "coxphf_breast.csv")
    res = fit_firth(d, "TIME", "CENS", {"T": None, "N": None, "G": None, "CD": None})
    want = pd.DataFrame({"coef": [1.22443880032983, 0.918888185116072, 2.42441413465543, 0.39711808618353],
                         "lower": [1.36274613036821, 1.12045522668471, 1.46566749684962, 0.626867167096128],
                         "upper": [9.47218428194926, 5.83286270508889, 1451.94593831534, 3.5117836430127],
                         "p": [0.00822520350478428, 0.0252828304996494, 0.0135898757069962, 0.364502439659502]})
    for col in want:
        assert res.table[col].to_numpy() == pytest.approx(want[col].to_numpy(), rel=1e-6), col
    assert "G" in fit_cox(d, "TIME", "CENS", ["T", "N", "G", "CD"]).separated
