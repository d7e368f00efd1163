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
    ard = C.cox_models(d, "PFS", "test")[0].frame()
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
