"""Statistics with explicit methods (SAR_SPEC 6), each checked against R in the tests.

A statistician's entry points, on any DataFrame (status 1/True = event, 0/False = censored;
``event_value=2`` for R-style 1/2 coding)::

    from apec_sar import stats as S
    km = S.kaplan_meier(df.time, df.status)                  # KM, log-log CIs; repr: n, events, median
    S.quantile(km, [0.25, 0.5, 0.75])                        # Brookmeyer-Crowley CIs, one row per p
    km.summary([6, 12])                                      # S(t), CI, number at risk (time >= t)
    curves = S.km_by_group(df, "time", "status", "arm")      # one curve per level
    S.number_at_risk_table(curves, [0, 3, 6, 9, 12])
    S.logrank_test(df, "time", "status", "arm", strata="site")
    fit = S.fit_cox(df, "time", "status", ["age", "ecog"])   # Efron; factors vs their first level
    S.cox_zph(fit)                                           # R >= 3.0 cox.zph, per term + GLOBAL
    S.firth_recommended(fit); S.fit_firth(df, "time", "status", ["age", "ecog"])
    S.logistic_regression(df, "responder", ["ecog"]); S.p_adjust(pvalues, "holm")
"""

from .binom import clopper_pearson
from .compare import km_by_group, km_summary_table, logrank_test, number_at_risk_table
from .cox import firth_recommended, fit_cox
from .firth import fit_firth
from .km import (
           kaplan_meier,
           number_at_risk,
           quantile,
           reverse_km_median_followup,
           survival_at,
)
from .logistic import logistic_regression, p_adjust
from .zph import cox_zph

__all__ = ["clopper_pearson", "cox_zph", "firth_recommended", "fit_cox", "fit_firth", "kaplan_meier", "km_by_group",
           "km_summary_table", "logistic_regression", "logrank_test", "number_at_risk", "number_at_risk_table",
           "p_adjust", "quantile", "reverse_km_median_followup", "survival_at"]
