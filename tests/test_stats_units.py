"""Statistics on textbook-sized examples with hand-computed expected values."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from apec_sar.stats import km as K
from apec_sar.stats.binom import clopper_pearson
from apec_sar.stats.cox import fit_cox
from apec_sar.stats.rounding import fmt, fmt_p, round_half_away


@pytest.mark.parametrize("x,d,want", [(0.125, 2, 0.13), (2.5, 0, 3.0), (-2.5, 0, -3.0), (2.675, 2, 2.68),
                                      (1.005, 2, 1.01), (31.034482758, 1, 31.0), (86.206896, 1, 86.2)])
def test_round_half_away_from_zero(x, d, want):
    assert round_half_away(x, d) == want


def test_formats():
    assert fmt(float("nan")) == "NE"
    assert fmt(5.325, 2) == "5.33"
    assert fmt_p(0.0004) == "<0.001" and fmt_p(0.0415) == "0.042" and fmt_p(0.05) == "0.050"


def test_clopper_pearson_typed_from_r():
    # R: binom.test(9, 29)$conf.int = 0.152845939608632 0.508323353809990
    p, lo, hi = clopper_pearson(9, 29)
    assert p == pytest.approx(9 / 29)
    assert lo == pytest.approx(0.152845939608632, rel=1e-9) and hi == pytest.approx(0.508323353809990, rel=1e-9)
    assert clopper_pearson(0, 29)[1] == 0.0 and clopper_pearson(29, 29)[2] == 1.0


def test_km_small_example():
    # times 3, 5+, 7, 7, 9+: S(3) = 4/5; at 7, 3 at risk, 2 events: S = 0.8 * 1/3
    f = K.kaplan_meier([3, 5, 7, 7, 9], [1, 0, 1, 1, 0], "log")
    assert f.surv.tolist() == pytest.approx([0.8, 0.8, 0.8 / 3, 0.8 / 3])
    assert f.n_risk.tolist() == [5, 4, 3, 1]
    # Greenwood: 1/(5*4) + 2/(3*1)
    assert f.std_err[2] == pytest.approx(np.sqrt(0.05 + 2 / 3))
    assert K.quantile(f, 0.5)[0] == 7.0
    assert K.number_at_risk(f, [0, 3, 4, 8]).tolist() == [5, 5, 4, 1]   # time >= t


def test_median_not_reached_is_nan():
    f = K.kaplan_meier([5, 6, 7, 8], [1, 0, 0, 0])
    est, lo, hi = K.quantile(f, 0.5)
    assert np.isnan(est) and np.isnan(hi)


def test_spss_median_ci_hand_computed():
    # ten events at 1..10: S(5) = 0.5 exactly -> median midpoint 5.5 (R rule); Greenwood
    # var(log S(5)) = sum 1/((11-k)(10-k)), k=1..5 = 1/5 - 1/10 = 0.1; SE(S) = 0.5 sqrt(0.1);
    # density between S(4) = 0.6 and S(6) = 0.4: 0.2 / 2 = 0.1; SE(median) = 1.5811388;
    # 1.959964 * 1.5811388 = 3.0989751
    f = K.kaplan_meier(np.arange(1, 11), np.ones(10))
    med, se, lo, hi = K.spss_median_ci(f)
    assert med == 5.5
    assert se == pytest.approx(1.5811388, rel=1e-6)
    assert lo == pytest.approx(2.4010249, rel=1e-6) and hi == pytest.approx(8.5989751, rel=1e-6)


def _toy():
    rng = np.random.default_rng(1)
    n = 40
    x = rng.integers(0, 2, n)
    t = rng.exponential(10 / (1 + x), n).round(1) + 0.1
    return pd.DataFrame({"time": t, "status": (rng.random(n) < 0.8).astype(int), "grp": np.where(x, "B", "A")})


def test_cox_no_events_is_not_estimable():
    d = _toy().assign(status=0)
    r = fit_cox(d, "time", "status", {"grp": ["A", "B"]})
    assert not r.converged and "no events" in " ".join(r.messages)


def test_cox_separation_is_reported_not_crashed():
    d = _toy()
    d["sep"] = np.where(d.status == 1, "yes", "no")
    d.loc[d.status == 1, "time"] += 100          # every event after every censoring in the other group
    r = fit_cox(d, "time", "status", {"sep": ["no", "yes"]})
    assert np.isnan(r.table.hr.iloc[0]) and not r.converged
    assert any("separation" in m or "not estimable" in m for m in r.messages)


def test_cox_events_per_variable_warning():
    d = _toy().head(12)
    r = fit_cox(d, "time", "status", {"grp": ["A", "B"]})
    assert any("events per variable" in m for m in r.messages)


def test_cox_subgroup_with_no_variation():
    d = _toy().assign(grp="A")
    r = fit_cox(d, "time", "status", {"grp": ["A", "B"]})
    assert "no variation" in " ".join(r.messages)
