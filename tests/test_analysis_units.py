"""Analysis summaries on hand-built data: the ARD rows hold the typed-in numbers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from apec_sar.analysis import response as R
from apec_sar.analysis import safety as S
from apec_sar.analysis.summary import describe
from apec_sar.analysis.survival import tte_summary


def test_response_summary_counts_and_exact_ci():
    adrs = pd.DataFrame({"USUBJID": list("ABCDE"), "PARAMCD": "BOR", "AVALC": ["PR", "SD", "SD", "PD", "NE"]})
    a = R.response_summary(adrs, "t").frame().set_index("STAT").VALUE
    assert a["N"] == 5 and a["n[SD]"] == 2 and a["pct[SD]"] == 40.0
    assert a["ORR_N"] == 1 and a["ORR"] == 20.0 and a["DCR_N"] == 3 and a["DCR"] == 60.0
    # binom.test(1, 5): 0.005050763 0.716417936
    assert a["ORR_LCL"] == pytest.approx(0.5050763, rel=1e-6) and a["ORR_UCL"] == pytest.approx(71.6417936, rel=1e-6)


def test_zero_responders_gives_orr_zero_not_a_crash():
    adrs = pd.DataFrame({"USUBJID": list("AB"), "PARAMCD": "BOR", "AVALC": ["SD", "PD"]})
    a = R.response_summary(adrs, "t").frame().set_index("STAT").VALUE
    assert a["ORR"] == 0.0 and a["ORR_LCL"] == 0.0


def test_ae_overview_and_null_report():
    adsl = pd.DataFrame({"USUBJID": ["A", "B", "C", "D"], "SAFFL": "Y", "DTHFL": [None, "Y", None, None],
                         "DTHCAUS": [None, "Progressive disease", None, None]})
    adae = pd.DataFrame({"USUBJID": ["A", "A", "B"], "TRTEMFL": ["Y", "Y", "Y"], "AREL": ["Y", "N", "Y"],
                         "AETOXGR": [2, 3, 1], "AESER": "N", "AEIRFL": ["N", "N", "Y"], "AEACN": "None",
                         "AEDECOD": ["Anemia", "Back pain", "Hypothyroidism"], "AERELIFL": [None, None, "Y"]})
    ov = S.overview(adae, adsl, "t").frame()
    get = lambda p, s="n": ov[(ov.PARAMETER == p) & (ov.STAT == s)].VALUE.iloc[0]  # noqa: E731
    assert get("Any TEAE") == 2 and get("Any TEAE", "pct") == 50.0
    assert get("Treatment-related AE") == 2 and get("Grade 3-4 TEAE") == 1 and get("Grade 3-4 treatment-related AE") == 0
    assert get("Immune-related AE") == 1 and get("Deaths") == 1
    assert get("TEAE with a missing attribution (counted as related)") == 1
    tab = S.term_grade_table(S.by_term_grade(adae, adsl, "t").frame())
    assert tab.Term.tolist() == ["Anemia", "Hypothyroidism"]
    assert tab.iloc[0]["Any grade"] == "1 (25.0)" and tab.iloc[0]["Grade 3-4"] == "0 (0.0)"
    none = S.term_grade_table(S.by_term_grade(adae.iloc[:0], adsl, "t").frame())
    assert none.Term.tolist() == ["No events"]


def test_describe_continuous_and_categorical():
    df = pd.DataFrame({"AGE": [50, 60, 70, 80], "SEX": ["M", "M", "F", None]})
    a = describe(df, [("AGE", "Age", "continuous"), ("SEX", "Sex", ["M", "F"])], "t", "x", "p").frame()
    v = lambda s: a[a.STAT == s].VALUE.iloc[0]  # noqa: E731
    assert v("MEDIAN") == 65 and v("Q1") == 57.5 and v("Q3") == 72.5 and v("MEAN") == 65
    assert v("SD") == pytest.approx(12.9099445, rel=1e-7)
    assert v("n[M]") == 2 and v("pct[M]") == 50.0 and v("n[Missing]") == 1


def test_tte_summary_median_not_reached():
    adtte = pd.DataFrame({"PARAMCD": "OS", "AVAL": [100, 150, 200, 300], "CNSR": [0, 5, 5, 5],
                          "EVNTDESC": ["Death", None, None, None],
                          "CNSDTDSC": [None, "Last date known alive", "Last date known alive", "Last date known alive"]})
    a = tte_summary(adtte, "OS", "t")[0].frame().set_index("STAT").VALUE
    assert a["EVENTS_N"] == 1 and a["CENSORED_N"] == 3 and a["EVENTS_N[Death]"] == 1
    assert np.isnan(a["MEDIAN"]) and np.isnan(a["MEDIAN_UCL"])   # printed "NE"
    assert a["RATE_6M"] == 75.0                                  # one death out of four before 6 months
    assert np.isnan(a["RATE_12M"])                               # beyond the last follow-up (9.9 months)
