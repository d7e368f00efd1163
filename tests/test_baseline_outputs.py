"""Disposition, baseline tables and the shared DMT01 table builder, on small hand-built patients
with the expected rows typed in."""

from __future__ import annotations

import pandas as pd

from apec_sar.analysis import baseline as B
from apec_sar.analysis import disposition as D
from apec_sar.tables import describe_table

T0 = pd.Timestamp("2021-01-01")


def adsl_hand():
    # 5 screened: A-C eligible (A ongoing, B ended PD, C ended toxicity, died), D-E not eligible
    # but treated (D ended PD, E died on treatment -> reason Death)
    return pd.DataFrame({
        "USUBJID": list("ABCDE"), "EFFFL": ["Y", "Y", "Y", "N", "N"], "SAFFL": "Y", "TRTSDT": T0,
        "TRTONGFL": ["Y", "N", "N", "N", "N"],
        "EOTREAS": [None, "Progressive disease", "Toxicity", "Progressive disease", "Death"],
        "SURVSTAT": ["Alive (censored)", "Alive (censored)", "Dead", "Dead", "Dead"],
        "NACTFL": ["N", "Y", "N", "Y", "N"], "RSEVALFL": ["Y", "Y", "N", "N", "N"],
        "AGE": [60, 70, 55, 66, 80], "NMETORG": [0, 2, 3, 1, 1]})


def stat(ard, **kw):
    df = ard.frame()
    for k, v in kw.items():
        df = df[df[k.upper()] == v]
    assert len(df) == 1, kw
    return float(df.VALUE.iloc[0])


def test_disposition_by_population():
    a = D.disposition(adsl_hand(), "t")
    assert stat(a, population="Analysis set", parameter="ALL", analysis="disposition: treatment", stat="N") == 3
    assert stat(a, population="Analysis set", parameter="TRTSTAT", stat="n[On treatment at the data cut-off]") == 1
    assert stat(a, population="Analysis set", parameter="EOTRSN", stat="n[Toxicity]") == 1
    assert stat(a, population="Analysis set", parameter="EOTRSN", stat="pct[Toxicity]") == 50.0   # of 2 ended
    assert stat(a, population="Safety set", parameter="EOTRSN", stat="n[Progressive disease]") == 2
    assert stat(a, population="Safety set", parameter="SURVSTAT", stat="n[Dead]") == 3
    assert stat(a, population="Safety set", parameter="NACTFL", stat="pct[Y]") == 40.0


def test_consort_figure_table_carries_the_flow_through_treatment_end():
    consort = pd.DataFrame({"STEP": ["Records screened", "Duplicate patient records removed", "Patients screened",
                                     "Excluded: Aged 18 years or older", "Patients excluded", "Patients analysed"],
                            "CRITERION": ["", "", "", "IN1 (Registry inclusion 1)", "", ""], "N": [6, 1, 5, 2, 2, 3]})
    flow, labels = D.consort_figure_table(consort, adsl_hand())
    assert flow.STEP.tolist() == ["Records screened", "Duplicate patient records removed", "Patients screened",
                                  "Excluded: Aged 18 years or older", "Patients excluded", "Eligible and treated",
                                  "Ended: Progressive disease", "Ended: Toxicity", "Treatment ended by the data cut-off",
                                  "Response-evaluable"]
    assert flow.N.tolist() == [6, 1, 5, 2, 2, 3, 1, 1, 2, 2]
    assert labels["Patients excluded"].endswith("; 2 of them treated (safety set)")


def test_describe_table_two_populations_decimals_and_blocks():
    from apec_sar.analysis.summary import describe
    adsl = B.baseline_frame(adsl_hand().assign(SEX="M"))
    variables = [("AGE", "Age, years", "continuous"), ("SEX", "Sex", ["M", "F"]), ("MET2", "Organs", ["<2", ">=2"])]
    ard = describe(adsl[adsl.EFFFL == "Y"], variables, "t", "demographics and baseline", "Analysis set")
    ard.extend(describe(adsl, variables, "t", "demographics and baseline", "Safety set"))
    t = describe_table(ard.frame(), {"Analysis set": "Analysis set", "Safety set": "Safety set"}, decimals={"AGE": 0})
    assert list(t.columns) == ["Characteristic", "Analysis set (N = 3)", "Safety set (N = 5)"]
    rows = t.set_index("Characteristic")
    age = t.index[t.Characteristic == "Age, years"][0]
    block = t.iloc[age + 1: age + 5]
    assert block.Characteristic.tolist() == ["  n", "  Mean (SD)", "  Median (Q1, Q3)", "  Min, max"]
    assert block["Analysis set (N = 3)"].tolist() == ["3", "61.7 (7.6)", "60.0 (57.5, 65.0)", "55, 70"]
    assert block["Safety set (N = 5)"].tolist() == ["5", "66.2 (9.6)", "66.0 (60.0, 70.0)", "55, 80"]
    assert rows.loc["  >=2", "Analysis set (N = 3)"] == "2 (66.7)"
    assert rows.loc["  Female", "Safety set (N = 5)"] == "0 (0.0)"      # codes printed as words
    blocks = describe_table(ard.frame(), "All", blocks={"demographics and baseline": "Block heading"})
    assert blocks.Characteristic.iloc[0] == "Block heading"
