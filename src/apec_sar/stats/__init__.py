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

# The entry points are imported on first use (PEP 562), so that a module needing only one of
# them (``stats.rounding`` for the tables and the text) does not load scipy, statsmodels and
# lifelines: a notebook's kernel starts that much sooner.
_ENTRY_POINTS = {
    "clopper_pearson": "binom", "km_by_group": "compare", "km_summary_table": "compare",
    "logrank_test": "compare", "number_at_risk_table": "compare", "firth_recommended": "cox",
    "fit_cox": "cox", "fit_firth": "firth", "kaplan_meier": "km", "number_at_risk": "km",
    "quantile": "km", "reverse_km_median_followup": "km", "survival_at": "km",
    "logistic_regression": "logistic", "p_adjust": "logistic", "cox_zph": "zph",
}
__all__ = sorted(_ENTRY_POINTS)


def __getattr__(name: str):
    if name in _ENTRY_POINTS:
        import importlib
        value = getattr(importlib.import_module(f".{_ENTRY_POINTS[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + __all__)
