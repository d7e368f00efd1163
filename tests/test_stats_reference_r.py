"""Independent reference check: the project's statistics agree with R ``survival`` (and
``binom.test``) to 1e-6 relative, on the project's derived ADTTE and on R's own ``lung`` data
(so a difference in method shows beyond our own data). R comes from Debian (.ci/run installs
r-base-core and r-cran-survival)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from apec_sar.stats import km as K
from apec_sar.stats.binom import clopper_pearson
from apec_sar.stats.cox import fit_cox

R_DIR = Path(__file__).parent / "r"
RTOL = 1e-6
pytestmark = pytest.mark.skipif(shutil.which("Rscript") is None,
                                reason="R is not installed (apt-get install r-base-core r-cran-survival)")


def rscript(*args) -> None:
    res = subprocess.run(["Rscript", *map(str, args)], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr


def close(a, b, what):
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    assert a.shape == b.shape, what
    assert np.array_equal(np.isnan(a), np.isnan(b)), f"{what}: NA pattern differs\n{a}\n{b}"
    m = ~np.isnan(b)
    if m.any():
        rel = np.abs(a[m] - b[m]) / np.maximum(np.abs(b[m]), 1e-12)
        assert rel.max() <= RTOL, f"{what}: max relative difference {rel.max():.3g}"


@pytest.fixture(scope="module")
def lung(tmp_path_factory) -> pd.DataFrame:
    p = tmp_path_factory.mktemp("lung") / "lung.csv"
    rscript("-e", "library(survival); d <- lung; d$status <- d$status - 1; "
                  f"write.csv(d[, c('time','status','age','sex','ph.ecog')], '{p}', row.names = FALSE)")
    return pd.read_csv(p)


@pytest.fixture(scope="module")
def adtte(derived) -> pd.DataFrame:
    return derived.datasets["adtte"]


def check_km(df: pd.DataFrame, tmp: Path, label: str) -> None:
    src, ref = tmp / f"{label}.csv", tmp / f"{label}_ref.csv"
    df[["time", "status"]].to_csv(src, index=False)
    rscript(R_DIR / "km_reference.R", src, ref)
    r = pd.read_csv(ref)
    for ct in K.CONF_TYPES:
        f = K.kaplan_meier(df.time, df.status, ct)
        rr = r[r.conf_type == ct]
        c = rr[rr.stat == "curve"]
        close(f.time, c.x, f"{label} {ct} times")
        close(f.surv, c.est, f"{label} {ct} survival")
        close(f.lower, c.lower, f"{label} {ct} lower")
        close(f.upper, c.upper, f"{label} {ct} upper")
        q = rr[rr.stat == "quantile"]
        close([K.quantile(f, p) for p in q.x], q[["est", "lower", "upper"]].to_numpy(), f"{label} {ct} quantiles")
        lm = rr[rr.stat == "landmark"]
        close([K.survival_at(f, t)[:3] for t in lm.x], lm[["est", "lower", "upper"]].to_numpy(), f"{label} {ct} landmark")
        rv = rr[rr.stat == "reverse_km_median"]
        close(K.reverse_km_median_followup(df.time, df.status, ct), rv[["est", "lower", "upper"]].to_numpy()[0],
              f"{label} {ct} reverse KM")


def test_km_on_lung(lung, tmp_path):
    check_km(lung, tmp_path, "lung")


@pytest.mark.parametrize("param", ["PFS", "OS", "DOR", "PFSMISS"])
def test_km_on_derived_adtte(adtte, tmp_path, param):
    x = adtte[adtte.PARAMCD == param]
    df = pd.DataFrame({"time": x.AVAL.to_numpy(), "status": (x.CNSR == 0).astype(int).to_numpy()})
    assert len(df) > 0
    check_km(df, tmp_path, param)


def check_cox(df, covariates, rhs, tmp, label):
    src, ref = tmp / f"{label}.csv", tmp / f"{label}_cox.csv"
    df.to_csv(src, index=False)
    rscript(R_DIR / "cox_reference.R", src, ref, rhs)
    r = pd.read_csv(ref)
    res = fit_cox(df, "time", "status", covariates)
    est = r[~r.term.isin(["loglik_null", "loglik", "lr_stat"])]
    for col in ("coef", "se", "hr", "lower", "upper", "p_wald"):
        close(res.table[col], est[col], f"{label} cox {col}")
    stats = dict(zip(r.term, r.coef))
    close([res.loglik_null, res.loglik, res.lr_stat], [stats["loglik_null"], stats["loglik"], stats["lr_stat"]],
          f"{label} cox likelihoods")


def test_cox_on_lung(lung, tmp_path):
    d = lung.dropna(subset=["ph.ecog"]).copy()
    d["sex"] = d.sex.map({1: "male", 2: "female"})
    d["ecog"] = d["ph.ecog"].astype(int).astype(str)
    d = d[["time", "status", "age", "sex", "ecog"]]
    check_cox(d, {"age": None, "sex": ["male", "female"], "ecog": ["0", "1", "2", "3"]},
              "age + relevel(sex, 'male') + relevel(factor(ecog), '0')", tmp_path, "lung")


def test_cox_on_derived_pfs(derived, tmp_path):
    adsl = derived.datasets["adsl"]
    t = derived.datasets["adtte"].query("PARAMCD == 'PFS'").merge(adsl, on="USUBJID")
    d = pd.DataFrame({"time": t.AVAL, "status": (t.CNSR == 0).astype(int), "ecog": t.ECOGGR1,
                      "lines": t.PRLINEGR, "liver": t.METLIVER})
    check_cox(d, {"ecog": ["0", ">=1"], "lines": ["1", ">=2"], "liver": ["N", "Y"]},
              "relevel(factor(ecog), '0') + relevel(factor(lines), '1') + relevel(factor(liver), 'N')",
              tmp_path, "pfs")


def test_clopper_pearson_against_binom_test(tmp_path):
    ref = tmp_path / "binom.csv"
    rscript(R_DIR / "binom_reference.R", 29, ref)
    r = pd.read_csv(ref)
    got = np.array([clopper_pearson(int(x), 29)[1:] for x in r.x])
    close(got, r[["lower", "upper"]].to_numpy(), "Clopper-Pearson")


@pytest.mark.parametrize("param", ["PFS", "OS", "DOR"])
def test_ard_survival_statistics_agree_with_r(adtte, tmp_path, param):
    """The numbers the SAR prints (ARD rows of TTET01) against R on the same derived ADTTE."""
    from apec_sar.analysis.survival import tte_summary

    x = adtte[adtte.PARAMCD == param]
    src, ref = tmp_path / "in.csv", tmp_path / "out.csv"
    pd.DataFrame({"time": x.AVAL, "status": (x.CNSR == 0).astype(int)}).to_csv(src, index=False)
    rscript(R_DIR / "ard_reference.R", src, ref)
    r = pd.read_csv(ref)
    r = r[~r.STAT.str.startswith("FOLLOWUP")]      # follow-up: once, for OS (test_analysis_endpoints)
    ard = tte_summary(adtte, param, "test")[0].frame().set_index("STAT").VALUE
    close(ard.loc[r.STAT].to_numpy(), r.VALUE.to_numpy(), f"{param} ARD vs R")


def test_ard_cox_agrees_with_r(derived, tmp_path):
    from apec_sar.analysis import cox as C

    d = C.analysis_frame(derived.datasets["adsl"], derived.datasets["adtte"], "PFS")
    ard = C.cox_models(d, "PFS", {"cox": "test", "firth": "test", "ph": "test"})[0].frame()
    multi = ard[ard.ANALYSIS == "Cox multivariable"]
    src, ref = tmp_path / "pfs.csv", tmp_path / "cox.csv"
    d[["time", "status", "ECOGGR1", "NLRGR1", "METLIVER"]].to_csv(src, index=False)
    rscript(R_DIR / "cox_reference.R", src, ref,
            "relevel(factor(ECOGGR1), '0') + relevel(factor(NLRGR1), '<5') + relevel(factor(METLIVER), 'N')")
    r = pd.read_csv(ref)
    r = r[~r.term.isin(["loglik_null", "loglik", "lr_stat"])]
    terms = ["ECOGGR1[>=1 vs 0]", "NLRGR1[>=5 vs <5]", "METLIVER[Y vs N]"]
    for stat, col in (("COEF", "coef"), ("SE", "se"), ("HR", "hr"), ("LOWER", "lower"), ("UPPER", "upper")):
        got = [multi[(multi.GROUP == t) & (multi.STAT == stat)].VALUE.iloc[0] for t in terms]
        close(got, r[col], f"ARD Cox {stat}")
    rscript(R_DIR / "zph_reference.R", src, tmp_path / "zph.csv",
            "relevel(factor(ECOGGR1), '0') + relevel(factor(NLRGR1), '<5') + relevel(factor(METLIVER), 'N')", "efron")
    z = pd.read_csv(tmp_path / "zph.csv").query("transform == 'km' and terms")
    ph = ard[(ard.ANALYSIS == "PH test (multivariable)") & (ard.STAT == "P_PH")]
    assert ph.GROUP.tolist() == ["ECOGGR1", "NLRGR1", "METLIVER", "GLOBAL"]
    close(ph.VALUE.to_numpy(dtype=float), z.p.to_numpy(), "ARD PH test p vs cox.zph")
    chisq = ard[(ard.ANALYSIS == "PH test (multivariable)") & (ard.STAT == "CHISQ")]
    close(chisq.VALUE.to_numpy(dtype=float), z.chisq.to_numpy(), "ARD PH test chi-square vs cox.zph")
    # Holm across the univariable factors, against R p.adjust on the same Wald p-values
    uni = ard[ard.ANALYSIS.str.startswith("Cox univariable") & ard.STAT.isin(["P_WALD", "P_HOLM"])]
    wald = uni[uni.STAT == "P_WALD"].VALUE.to_numpy(dtype=float)
    holm = uni[uni.STAT == "P_HOLM"].VALUE.to_numpy(dtype=float)
    rp = r_frame("out <- data.frame(p = p.adjust(c(" + ", ".join(repr(float(x)) for x in wald) + "), 'holm'))",
                 tmp_path / "holm.csv")
    close(holm, rp.p.to_numpy(), "ARD Holm-adjusted univariable p vs R p.adjust")


# ---------------------------------------------------------------------------------------------
# Number at risk at a landmark, status coding, strata and Breslow ties, cox.zph, log-rank,
# Firth, logistic regression and p-value adjustment against R.

def r_frame(code: str, path: Path) -> pd.DataFrame:
    rscript("-e", f"suppressPackageStartupMessages(library(survival)); {code}; write.csv(out, '{path}', row.names = FALSE)")
    return pd.read_csv(path)


def test_landmark_rate_and_at_risk_with_ties_at_the_landmark(tmp_path):
    d = pd.DataFrame({"time": [1, 2, 2, 2, 3, 5, 5, 7], "status": [1, 1, 0, 1, 0, 1, 0, 1]})
    d.to_csv(tmp_path / "tie.csv", index=False)
    r = r_frame(f"d <- read.csv('{tmp_path / 'tie.csv'}'); f <- survfit(Surv(time, status) ~ 1, d, conf.type = 'log-log'); "
                "s <- summary(f, times = c(0.5, 2, 3, 5, 6, 7, 9), extend = TRUE); "
                "out <- data.frame(t = s$time, n_risk = s$n.risk, surv = s$surv, lower = s$lower, upper = s$upper)",
                tmp_path / "ref.csv")
    f = K.kaplan_meier(d.time, d.status)
    got = f.summary(r.t)
    assert got.n_risk.tolist() == r.n_risk.tolist() == [8, 7, 4, 3, 1, 1, 0]
    close(got[["surv", "lower", "upper"]].to_numpy(), r[["surv", "lower", "upper"]].to_numpy(), "landmark with ties")
    assert K.survival_at(f, 2).n_risk == 7     # time >= 2, including the three records at 2


def test_r_style_status_coding_only_when_asked(lung, tmp_path):
    d = lung.assign(status=lung.status + 1)       # R's own lung coding: 1 censored, 2 dead
    with pytest.raises(ValueError, match=r"values \[2\].*event_value=2"):
        K.kaplan_meier(d.time, d.status)
    with pytest.raises(ValueError, match=r"values \[2\]"):
        fit_cox(d.dropna(subset=["ph.ecog"]), "time", "status", {"age": None})
    f = K.kaplan_meier(d.time, d.status, event_value=2)
    assert f.events == 165 and f.n == 228
    close(f.surv, K.kaplan_meier(lung.time, lung.status).surv, "1/2 coding")


def test_cox_breslow_with_strata_on_lung(tmp_path):
    p = tmp_path / "l.csv"
    r = r_frame("d <- na.omit(lung[, c('time','status','age','sex','ph.ecog','inst')]); d$status <- d$status - 1; "
                f"write.csv(d, '{p}', row.names = FALSE); "
                "f <- coxph(Surv(time, status) ~ age + sex + ph.ecog + strata(inst), d, ties = 'breslow', "
                "control = coxph.control(eps = 1e-12, toler.chol = 1e-15)); s <- summary(f)$coefficients; "
                "out <- data.frame(coef = s[, 1], se = s[, 3], p = s[, 5], ll0 = f$loglik[1], ll = f$loglik[2], "
                "score = f$score, wald = f$wald.test)", tmp_path / "ref.csv")
    d = pd.read_csv(p)
    res = fit_cox(d, "time", "status", ["age", "sex", "ph.ecog"], strata="inst", ties="breslow")
    close(res.table[["coef", "se", "p_wald"]].to_numpy(), r[["coef", "se", "p"]].to_numpy(), "stratified Breslow Cox")
    close([res.loglik_null, res.loglik, res.score_stat, res.wald_stat], r[["ll0", "ll", "score", "wald"]].iloc[0],
          "stratified Breslow Cox tests")


def check_zph(df, covariates, rhs, ties, tmp, label, strata=None):
    src, ref = tmp / f"{label}.csv", tmp / f"{label}_zph.csv"
    df.to_csv(src, index=False)
    rscript(R_DIR / "zph_reference.R", src, ref, rhs + (f" + strata({strata})" if strata else ""), ties)
    r = pd.read_csv(ref)
    res = fit_cox(df, "time", "status", covariates, ties=ties, strata=strata)
    from apec_sar.stats.zph import cox_zph

    for (tr, tm), rr in r.groupby(["transform", "terms"], sort=False):
        got = cox_zph(res, transform=tr, terms=bool(tm))
        assert got.term.iloc[-1] == "GLOBAL" and len(got) == len(rr), f"{label} {tr} rows"
        assert got.df.tolist() == rr.df.tolist(), f"{label} {tr} df"
        close(got[["chisq", "p"]].to_numpy(), rr[["chisq", "p"]].to_numpy(), f"{label} zph {tr} terms={tm}")


def test_cox_zph_on_lung_numeric_and_factor(lung, tmp_path):
    d = lung.dropna(subset=["ph.ecog"]).copy()
    d["ecog"] = d["ph.ecog"].astype(int).astype(str)
    d = d[["time", "status", "age", "sex", "ecog"]]
    for ties in ("efron", "breslow"):
        check_zph(d, {"age": None, "sex": None, "ecog": ["0", "1", "2", "3"]}, "age + sex + factor(ecog)", ties, tmp_path,
                  f"lung_{ties}")


def test_cox_zph_stratified(tmp_path):
    p = tmp_path / "l.csv"
    rscript("-e", "library(survival); d <- na.omit(lung[, c('time','status','age','sex','ph.ecog','inst')]); "
                  f"d$status <- d$status - 1; write.csv(d, '{p}', row.names = FALSE)")
    d = pd.read_csv(p)
    check_zph(d, {"age": None, "ph.ecog": None}, "age + ph.ecog", "efron", tmp_path, "lung_strata", strata="sex")


def test_cox_zph_small_hand_built(tmp_path):
    # survival's test1 data (time 9,1,1,6,6,8; status 1,1,0,1,1,0; x 0,1,1,1,0,0) with tied events at 6
    d = pd.DataFrame({"time": [9, 1, 1, 6, 6, 8], "status": [1, 1, 0, 1, 1, 0], "x": [0, 1, 1, 1, 0, 0]})
    for ties in ("efron", "breslow"):
        check_zph(d, {"x": None}, "x", ties, tmp_path, f"test1_{ties}")


def check_survdiff(d, tmp, label, rho=0.0, strata=False):
    from apec_sar.stats.compare import logrank_test

    src, ref = tmp / f"{label}.csv", tmp / f"{label}_sd.csv"
    d.to_csv(src, index=False)
    rscript(R_DIR / "survdiff_reference.R", src, ref, rho, *(["strata"] if strata else []))
    r = pd.read_csv(ref)
    v = pd.read_csv(tmp / f"{label}_sd_var.csv").to_numpy()
    got = logrank_test(d, "time", "status", "group", strata="stratum" if strata else None, rho=rho)
    assert got.table.group.astype(str).tolist() == r.group.astype(str).tolist()
    assert got.table.n.tolist() == r.n.tolist() and got.df == r.df.iloc[0]
    close(got.table[["observed", "expected"]].to_numpy(), r[["observed", "expected"]].to_numpy(), f"{label} O, E")
    close(got.var, v, f"{label} variance")
    close(got.chisq, r.chisq.iloc[0], f"{label} chisq")


def test_logrank_against_survdiff(lung, tmp_path):
    d = lung.dropna(subset=["ph.ecog"]).assign(group=lambda x: x["ph.ecog"].astype(int).astype(str),
                                               stratum=lambda x: x.sex)
    check_survdiff(d[["time", "status", "group", "stratum"]], tmp_path, "ecog")
    check_survdiff(d[["time", "status", "group", "stratum"]], tmp_path, "ecog_rho1", rho=1.0)
    check_survdiff(d[["time", "status", "group", "stratum"]], tmp_path, "ecog_strata", strata=True)
    two = lung.assign(group=lung.sex.map({1: "male", 2: "female"}), stratum=(lung.age >= 65).astype(int))
    check_survdiff(two[["time", "status", "group", "stratum"]], tmp_path, "sex")
    check_survdiff(two[["time", "status", "group", "stratum"]], tmp_path, "sex_strata_rho", rho=0.5, strata=True)


def test_km_by_group_number_at_risk(lung, tmp_path):
    from apec_sar.stats.compare import km_by_group, number_at_risk_table

    r = r_frame("d <- lung; f <- survfit(Surv(time, status) ~ sex, d); s <- summary(f, times = c(0, 180, 365, 731, 1100), extend = TRUE); "
                "out <- data.frame(strata = as.character(s$strata), t = s$time, n = s$n.risk, surv = s$surv, lower = s$lower, upper = s$upper)",
                tmp_path / "ref.csv")
    curves = km_by_group(lung.assign(status=lung.status), "time", "status", "sex", conf_type="log")
    tab = number_at_risk_table(curves, [0, 180, 365, 731, 1100])
    assert tab[1].tolist() == r[r.strata == "sex=1"].n.tolist()
    assert tab[2].tolist() == r[r.strata == "sex=2"].n.tolist()
    got = pd.concat([curves[k].summary([0, 180, 365, 731, 1100]) for k in (1, 2)])
    close(got[["surv", "lower", "upper"]].to_numpy(), r[["surv", "lower", "upper"]].to_numpy(), "KM by group")


def test_firth_against_an_r_survival_built_reference(tmp_path):
    """Firth's estimates, profile penalised-likelihood bounds and penalised LR p-values against
    an independent reference built in R from survival's Breslow log-likelihood and information
    (coxph with iter.max = 0) and R's optimisers (tests/r/firth_reference.R), on R's ovarian data
    with a covariate that separates the events (Contrived = time <= 400: ML diverges)."""
    from apec_sar.stats.firth import fit_firth

    p = tmp_path / "ov.csv"
    rscript("-e", "library(survival); d <- ovarian; d$time <- d$futime; d$status <- d$fustat; "
                  f"d$contrived <- as.integer(d$futime <= 400); write.csv(d, '{p}', row.names = FALSE)")
    rscript(R_DIR / "firth_reference.R", p, tmp_path / "ref.csv", "age + rx + contrived")
    r = pd.read_csv(tmp_path / "ref.csv")
    est, stats = r[r.k > 0], r[r.k == 0].iloc[0]
    res = fit_firth(pd.read_csv(p), "time", "status", ["age", "rx", "contrived"])
    close(res.coef, est.coef, "Firth coefficients")
    close(np.log(res.table[["lower", "upper"]].to_numpy()), est[["lower", "upper"]].to_numpy(), "Firth profile bounds")
    close(res.table.p, est.p, "Firth penalised LR p")
    close([res.loglik, res.loglik_null], [stats.coef, stats.lower], "Firth penalised log-likelihoods")
    ml = fit_cox(pd.read_csv(p), "time", "status", ["age", "rx", "contrived"])
    assert "contrived" in ml.separated                     # while ML diverges


def test_logistic_regression_against_glm(lung, tmp_path):
    from apec_sar.stats.logistic import logistic_regression

    d = lung.dropna(subset=["ph.ecog"]).copy()
    d["resp"] = (d.time > 300).astype(int)
    d["ecog"] = np.where(d["ph.ecog"] >= 2, "2-3", d["ph.ecog"].astype(int).astype(str))
    d["sex"] = d.sex.map({1: "male", 2: "female"})
    d = d[["resp", "age", "sex", "ecog"]]
    src, ref = tmp_path / "in.csv", tmp_path / "glm.csv"
    d.to_csv(src, index=False)
    rscript(R_DIR / "glm_reference.R", src, ref, "age + sex + ecog")
    r = pd.read_csv(ref)
    res = logistic_regression(d, "resp", {"age": None, "sex": None, "ecog": None})
    assert res.table.term.tolist() == ["(Intercept)", "age", "sex[male vs female]", "ecog[1 vs 0]", "ecog[2-3 vs 0]"]
    close(res.table[["coef", "se", "p_wald"]].to_numpy(), r[["coef", "se", "p"]].to_numpy(), "glm estimates")
    close(np.log(res.table[["lower", "upper"]].to_numpy()), r[["lower", "upper"]].to_numpy(), "glm Wald CI")
    close(np.log(res.table[["pl_lower", "pl_upper"]].to_numpy()), r[["pl_lower", "pl_upper"]].to_numpy(),
          "glm profile CI")


def test_p_adjust_against_r(tmp_path):
    from apec_sar.stats.logistic import p_adjust

    p = [0.001, 0.008, 0.039, 0.041, 0.042, 0.06, 0.074, 0.205, np.nan, 0.5, 0.74]
    methods = ["holm", "hochberg", "hommel", "bonferroni", "BH", "BY"]
    r = r_frame("p <- c(0.001, 0.008, 0.039, 0.041, 0.042, 0.06, 0.074, 0.205, NA, 0.5, 0.74); "
                f"out <- as.data.frame(sapply(c({', '.join(repr(m) for m in methods)}), function(m) p.adjust(p, m)))",
                tmp_path / "ref.csv")
    for m in methods:
        close(p_adjust(p, m), r[m].to_numpy(), f"p.adjust {m}")


def test_cox_at_scale_with_heavy_ties_against_r(tmp_path):
    """The benchmark's shape (bench._measure_cox_engines) at 50,000 records: integer days, so
    ~1,000 distinct times and heavy Efron ties; three binary covariates and one numeric."""
    rng = np.random.default_rng(20220703)
    n = 50_000
    x = rng.integers(0, 2, (n, 3))
    age = np.round(rng.normal(62, 9, n), 1)
    t = np.ceil(rng.exponential(300 / np.exp(x @ np.array([0.3, -0.2, 0.1]) + 0.01 * (age - 62)))) + 1
    c = np.ceil(rng.uniform(30, 900, n))
    d = pd.DataFrame({"time": np.minimum(t, c), "status": (t <= c).astype(int), "a": x[:, 0], "b": x[:, 1],
                      "c": x[:, 2], "age": age})
    check_cox(d, ["a", "b", "c", "age"], "a + b + c + age", tmp_path, "scale")


def test_km_from_summed_partition_counts_against_r(derived, tmp_path):
    """Kaplan-Meier from event counts summed over patient partitions (apec_sar.scale) agrees with R."""
    x = derived.datasets["adtte"].query("PARAMCD == 'PFS'")
    df = pd.DataFrame({"time": x.AVAL.to_numpy(), "status": (x.CNSR == 0).astype(int).to_numpy()})
    src, ref = tmp_path / "pfs.csv", tmp_path / "pfs_ref.csv"
    df.to_csv(src, index=False)
    rscript(R_DIR / "km_reference.R", src, ref)
    r = pd.read_csv(ref)
    part = np.arange(len(df)) % 4
    counts = K.sum_event_counts([K.event_counts(df.time[part == k], df.status[part == k]) for k in range(4)])
    for ct in K.CONF_TYPES:
        f = K.kaplan_meier_from_counts(counts.time, counts.n_event, counts.n_censor, ct)
        rr = r[r.conf_type == ct]
        c = rr[rr.stat == "curve"]
        close(f.surv, c.est, f"{ct} survival")
        close(f.lower, c.lower, f"{ct} lower")
        close(f.upper, c.upper, f"{ct} upper")
        q = rr[rr.stat == "quantile"]
        close([K.quantile(f, p) for p in q.x], q[["est", "lower", "upper"]].to_numpy(), f"{ct} quantiles")
