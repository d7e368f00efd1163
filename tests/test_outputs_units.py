"""The outputs added for the clinical review (best change, efficacy by prior-ICI group, AET02,
SAE / dose-modification tables, deaths, ORR logistic regression) on hand-built patients: the
expected values are typed in (counts by hand; the log-rank and logistic values from R 4.2.2,
survival 3.5-3, as noted beside them)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from apec_sar.analysis import cox as C
from apec_sar.analysis import response as R
from apec_sar.analysis import safety as S


def stat(ard, **kw):
    a = ard.frame() if hasattr(ard, "frame") else ard
    for k, v in kw.items():
        a = a[a[k.upper()] == v]
    assert len(a) == 1, kw
    return float(a.VALUE.iloc[0])


def test_best_change_categories_at_the_recist_thresholds():
    x = pd.Series([-30.0, -29.99, 0.0, -0.01, 19.99, 20.0, np.nan])
    assert R.best_change_category(x).tolist() == [
        "Reduction of 30% or more", "Reduction of less than 30%", "No change or increase of less than 20%",
        "Reduction of less than 30%", "No change or increase of less than 20%", "Increase of 20% or more",
        "No post-baseline measurement"]


def test_best_change_summary_counts_and_statistics():
    best = pd.DataFrame({"USUBJID": list("ABCDE"), "BOR": ["PR", "SD", "SD", "PD", "NE"],
                         "BEST_PCHG": [-50.0, -10.0, 5.0, 30.0, np.nan]})
    a = R.best_change_summary(best, "t")
    assert stat(a, parameter="BEST_PCHG", stat="n") == 4
    assert stat(a, parameter="BEST_PCHG", stat="MEDIAN") == -2.5        # (-10 + 5) / 2
    assert stat(a, parameter="BEST_PCHG", stat="MEAN") == -6.25         # -25 / 4
    assert stat(a, parameter="BEST_CAT", stat="n[Reduction of 30% or more]") == 1
    assert stat(a, parameter="BEST_CAT", stat="n[Increase of 20% or more]") == 1
    assert stat(a, parameter="BEST_CAT", stat="n[No post-baseline measurement]") == 1
    assert stat(a, parameter="BEST_CAT", stat="pct[No post-baseline measurement]") == 20.0


def _groups():
    # PFS times (days x 30.4375 -> months as typed) and events per patient, two groups
    t = [2, 4, 6, 8, 10, 3, 5, 7, 9, 11, 12]
    e = [1, 1, 1, 0, 1, 1, 0, 1, 1, 1, 0]
    g = list("AAAAA") + list("BBBBBB")
    ids = [f"P{i:02d}" for i in range(len(t))]
    adsl = pd.DataFrame({"USUBJID": ids, "GRP": g})
    adtte = pd.DataFrame({"USUBJID": ids, "PARAMCD": "PFS", "AVAL": [v * 30.4375 for v in t], "CNSR": [1 - v for v in e]})
    bor = ["PR", "SD", "PD", "SD", "SD", "PR", "PR", "SD", "PD", "PD", "SD"]
    adrs = pd.DataFrame({"USUBJID": ids, "PARAMCD": "BOR", "AVALC": bor})
    return adsl, adrs, adtte


def test_efficacy_by_group_rates_medians_and_logrank_against_r():
    adsl, adrs, adtte = _groups()
    a = R.efficacy_by_group(adsl, adrs, adtte, "GRP", ["A", "B", "C"], "t")
    assert stat(a, group="A", stat="N") == 5 and stat(a, group="A", stat="ORR_N") == 1
    assert stat(a, group="A", stat="ORR") == 20.0 and stat(a, group="A", stat="DCR_N") == 4
    assert stat(a, group="B", stat="ORR_N") == 2 and stat(a, group="B", stat="PFS_EVENTS") == 4
    # R: quantile(survfit(Surv(t, e) ~ g, conf.type = "log-log"), 0.5): A 6 (2, NA), B 9 (3, NA)
    assert stat(a, group="A", stat="PFS_MEDIAN") == pytest.approx(6.0) and stat(a, group="A", stat="PFS_MEDIAN_LCL") == pytest.approx(2.0)
    assert np.isnan(stat(a, group="A", stat="PFS_MEDIAN_UCL"))
    assert stat(a, group="B", stat="PFS_MEDIAN") == pytest.approx(9.0)
    # an empty level is a null report, not a missing row
    assert stat(a, group="C", stat="N") == 0 and np.isnan(stat(a, group="C", stat="ORR"))
    # R: survdiff(Surv(t, e) ~ g): chisq 1.140490964, p 0.2855486082
    assert stat(a, stat="LOGRANK_CHISQ") == pytest.approx(1.140490964, rel=1e-8)
    assert stat(a, stat="LOGRANK_P") == pytest.approx(0.2855486082, rel=1e-8)


def test_efficacy_by_group_table_shows_a_dash_for_an_empty_level():
    adsl, adrs, adtte = _groups()
    adsl = adsl.assign(PRICIBR=adsl.GRP.map({"A": "PR", "B": "PD"}))
    tab = R.efficacy_by_group_table(R.efficacy_by_group(adsl, adrs, adtte, "PRICIBR", ["CR", "PR", "SD", "PD"], "t").frame())
    rows = tab.set_index("Subgroup")
    assert rows.loc["Best response on the prior ICI", "Log-rank p"] == "0.286"
    assert rows.loc["  CR", "n"] == "0" and rows.loc["  CR", "ORR, % (95% CI)"] == "-"
    assert rows.loc["  PR", "ORR, % (95% CI)"].startswith("20.0 (") and rows.loc["  PR", "Responders, n"] == "1"


def test_efficacy_by_group_minimum_n_rule():
    """A group of fewer than 5 patients shows its counts but no estimate and is left out of the
    log-rank test (here only A and B, 5 and 6 patients, are compared: R's value above)."""
    adsl, adrs, adtte = _groups()
    extra = pd.DataFrame({"USUBJID": ["Q1", "Q2", "Q3"], "GRP": "C"})
    adsl = pd.concat([adsl, extra], ignore_index=True)
    adrs = pd.concat([adrs, pd.DataFrame({"USUBJID": ["Q1", "Q2", "Q3"], "PARAMCD": "BOR", "AVALC": ["PR", "PR", "SD"]})])
    adtte = pd.concat([adtte, pd.DataFrame({"USUBJID": ["Q1", "Q2", "Q3"], "PARAMCD": "PFS", "AVAL": [30.4375] * 3,
                                            "CNSR": [0, 0, 0]})])
    a = R.efficacy_by_group(adsl, adrs, adtte, "GRP", ["A", "B", "C"], "t")
    assert stat(a, group="C", stat="N") == 3 and stat(a, group="C", stat="ORR_N") == 2
    assert stat(a, group="C", stat="ESTIMATED") == 0 and np.isnan(stat(a, group="C", stat="ORR"))
    assert np.isnan(stat(a, group="C", stat="PFS_MEDIAN")) and stat(a, group="C", stat="PFS_EVENTS") == 3
    assert stat(a, stat="LOGRANK_P") == pytest.approx(0.2855486082, rel=1e-8)


def _ae_data():
    adsl = pd.DataFrame({"USUBJID": list("ABCD"), "SAFFL": "Y", "EFFFL": ["Y", "Y", "N", "N"],
                         "DTHFL": ["Y", None, "Y", None], "DTHCAUS": ["Progressive disease", None, "Other / unknown", None],
                         "TRTSDT": pd.to_datetime(["2021-01-01"] * 4),
                         "TRTEDT": pd.to_datetime(["2021-03-01", "2021-06-01", "2021-01-20", "2021-05-01"]),
                         "DTHDT": pd.to_datetime(["2021-04-15", None, "2021-02-10", None])})
    adae = pd.DataFrame({
        "USUBJID": ["A", "A", "B", "C", "C", "D"],
        "AESOC": ["Blood", "Gastro", "Gastro", "Gastro", "Blood", "Skin"],
        "AEDECOD": ["Anemia", "Diarrhea", "Diarrhea", "Nausea", "Anemia", "Rash"],
        "AETOXGR": [1, 3, 2, 1, 2, 1], "TRTEMFL": ["Y", "Y", "Y", "Y", "Y", "N"],
        "AREL": ["Y", "N", "Y", "Y", "Y", "Y"], "AESER": ["N", "Y", "N", "N", "N", "N"],
        "AEACN": ["None", "Dose reduced", "Dose reduced", "None", "Drug interrupted", "Dose reduced"],
        "AEIRFL": "N", "AERELIFL": None})
    return adsl, adae


def test_aet02_soc_and_term_counts_once_at_the_worst_grade():
    adsl, adae = _ae_data()
    a = S.by_soc_and_term(adae, adsl, "t")
    assert stat(a, parameter="Any TEAE", group="Any grade", stat="n") == 3          # D's rash is not treatment-emergent
    assert stat(a, parameter="Gastro", group="Any grade", stat="n") == 3
    assert stat(a, parameter="Gastro", group="Grade 3-4", stat="n") == 1
    assert stat(a, parameter="Gastro | Diarrhea", group="Any grade", stat="pct") == 50.0
    tab = S.soc_term_table(a.frame())
    assert tab.iloc[:, 0].tolist() == ["Any TEAE", "Gastro", "  Diarrhea", "  Nausea", "Blood", "  Anemia"]
    assert tab.iloc[1]["Any grade"] == "3 (75.0)" and tab.iloc[1]["Grade 3-4"] == "1 (25.0)"


def test_aet02_null_report():
    adsl, adae = _ae_data()
    tab = S.soc_term_table(S.by_soc_and_term(adae.iloc[:0], adsl, "t").frame())
    assert tab.iloc[:, 0].tolist() == ["Any TEAE"] and tab.iloc[0]["Any grade"] == "0 (0.0)"


def test_sae_and_dose_modification_subsets_with_a_null_block():
    adsl, adae = _ae_data()
    tab = S.subsets_table(S.by_term_in_subsets(adae, adsl, "t", ["serious", "reduced", "withdrawn"]).frame())
    rows = list(zip(tab["Patients with"], tab["Any grade"], tab["Grade 3 or higher"]))
    assert rows == [("Serious TEAE", "1 (25.0)", "1 (25.0)"), ("  Diarrhea", "1 (25.0)", "1 (25.0)"),
                    ("TEAE leading to dose reduction", "2 (50.0)", "1 (25.0)"), ("  Diarrhea", "2 (50.0)", "1 (25.0)"),
                    ("TEAE leading to withdrawal", "0 (0.0)", "0 (0.0)"), ("  (no event)", "", "")]


def test_deaths_by_cause_and_timing():
    adsl, adae = _ae_data()
    a = S.deaths_summary(adsl, adae, "t")
    assert stat(a, group="All deaths", stat="n") == 2 and stat(a, group="All deaths", stat="pct") == 50.0
    assert stat(a, group="Primary cause: Progressive disease", stat="n") == 1
    assert stat(a, group="Within 30 days of the last dose", stat="n") == 1      # C: 21 days after the last dose
    assert stat(a, group="Within 60 days of the first dose", stat="n") == 1     # C: day 41
    assert stat(a, group="Within 30 days, cause: Other / unknown", stat="n") == 1
    assert stat(a, group="Primary cause: Adverse event", stat="n") == 0         # a DTHT01 category, always shown
    assert stat(a, group="With a grade 5 TEAE", stat="n") == 0
    tab = S.deaths_table(a.frame(), {"Safety set": "Safety set"})
    assert tab.columns.tolist() == ["Deaths", "Safety set (N = 4)"]
    ef = S.deaths_summary(adsl, adae, "t", flag="EFFFL", population="Analysis set")
    assert stat(ef, group="All deaths", stat="n") == 1 and stat(ef, stat="N") == 2


def test_overview_table_one_column_per_population():
    adsl, adae = _ae_data()
    ov = S.overview(adae, adsl, "t").frame()
    ov = pd.concat([ov, S.overview(adae, adsl, "t", flag="EFFFL", population="Analysis set").frame()])
    tab = S.overview_by_population_table(ov, {"Safety set": "Safety", "Analysis set": "Analysis"})
    r = tab.set_index("Patients with at least one")
    assert r.loc["Any TEAE", "Safety (N = 4)"] == "3 (75.0)" and r.loc["Any TEAE", "Analysis (N = 2)"] == "2 (100.0)"
    assert r.loc["AE leading to dose reduction", "Safety (N = 4)"] == "2 (50.0)"


def _orr_adsl(resp_by_age):
    rows = []
    for i, (age, resp) in enumerate(resp_by_age):
        rows.append({"USUBJID": f"P{i:02d}", "EFFFL": "Y", "AGEGR1": age, "SEX": "M" if i % 2 else "F", "ECOGGR1": "0" if i % 3 else ">=1",
                     "PRLINEGR": "1" if i % 4 else ">=2", "PRIOR_RESECTION": "Y" if i % 5 else "N", "METLIVER": "N" if i % 6 else "Y",
                     "NMETORG": i % 3, "NLRGR1": "<5" if i % 2 else ">=5", "PD1AGENT": "camrelizumab" if i % 2 else "sintilimab",
                     "BOR": "PR" if resp else "SD"})
    adsl = pd.DataFrame(rows)
    adrs = adsl[["USUBJID", "BOR"]].rename(columns={"BOR": "AVALC"}).assign(PARAMCD="BOR")
    return adsl.drop(columns="BOR"), adrs


def test_orr_logistic_separation_is_ne_with_the_lr_test_of_r():
    # 9 of 19 aged < 65 respond, none of 10 aged >= 65: separation.
    # R: anova(glm(y ~ 1), glm(y ~ x), test = "LRT"): deviance 9.636887785, p 0.001907080969
    adsl, adrs = _orr_adsl([("<65", i < 9) for i in range(19)] + [(">=65", False)] * 10)
    a, fits = C.orr_logistic(adsl, adrs, "t")
    term = "AGEGR1[>=65 vs <65]"
    assert np.isnan(stat(a, group=term, stat="OR")) and np.isnan(stat(a, group=term, stat="OR_LCL"))
    assert stat(a, group=term, stat="P_LR") == pytest.approx(0.001907080969, rel=1e-6)
    assert stat(a, group="AGEGR1=<65", stat="RESPONDERS") == 9 and stat(a, group="AGEGR1=>=65", stat="N") == 10
    assert any("separation" in m for m in fits["AGEGR1"].messages)
    # R: fisher.test(matrix(c(9, 10, 0, 10), 2))$p.value = 0.0113592554372
    assert stat(a, group=term, stat="P_FISHER") == pytest.approx(0.0113592554372, rel=1e-9)
    row = C.orr_logistic_table(a.frame()).iloc[0]
    assert row["Odds ratio (95% CI)"] == "NE (separation)" and row["Responders / n (comparison)"] == "0 / 10 (>=65)"


def test_orr_logistic_odds_ratio_and_lr_p_against_r():
    # 2 of 5 respond at level a ("<65"), 1 of 5 at b (">=65").
    # R: exp(coef(glm(y ~ x, binomial)))[2] = 0.375; LR p = 0.4870011427
    adsl, adrs = _orr_adsl([("<65", i < 2) for i in range(5)] + [(">=65", i == 0) for i in range(5)])
    a, _ = C.orr_logistic(adsl, adrs, "t")
    assert stat(a, group="AGEGR1[>=65 vs <65]", stat="OR") == pytest.approx(0.375, rel=1e-6)
    assert stat(a, group="AGEGR1[>=65 vs <65]", stat="P_LR") == pytest.approx(0.4870011427, rel=1e-6)
    assert stat(a, group="AGEGR1[>=65 vs <65]", stat="P_FISHER") == pytest.approx(1.0)   # R fisher.test: 1


def test_describe_never_drops_an_unlisted_level():
    from apec_sar.analysis.summary import describe
    df = pd.DataFrame({"ECOG": [0, 1, 1, 3, None]})
    a = describe(df, [("ECOG", "ECOG", [0, 1, 2])], "t", "x", "p")
    assert stat(a, stat="n[3]") == 1 and stat(a, stat="n[2]") == 0 and stat(a, stat="n[Missing]") == 1
    assert sum(stat(a, stat=f"n[{k}]") for k in (0, 1, 2, 3, "Missing")) == 5


def test_a_level_only_one_population_has_keeps_its_numeric_place():
    from apec_sar.analysis.summary import describe
    from apec_sar.tables import describe_table
    ard = pd.concat([describe(pd.DataFrame({"L": [1, 2, None]}), [("L", "Lines", [1, 2])], "t", "x", "A").frame(),
                     describe(pd.DataFrame({"L": [0, 1, 2]}), [("L", "Lines", [1, 2])], "t", "x", "B").frame()])
    rows = describe_table(ard, {"A": "A", "B": "B"}).Characteristic.str.strip().tolist()
    assert rows == ["Lines, n (%)", "0", "1", "2", "Missing"]


def test_describe_puts_an_unlisted_numeric_level_in_numeric_order():
    """0 prior lines, unlisted, comes before 1, 2, 3 -- also for a nullable integer column."""
    from apec_sar.analysis.summary import describe
    df = pd.DataFrame({"PRLINES": pd.array([0, 1, 2, 2, 3], dtype="Int64")})
    a = describe(df, [("PRLINES", "Lines", [1, 2, 3])], "t", "x", "p").frame()
    assert [s for s in a.STAT if s.startswith("n[")] == ["n[0]", "n[1]", "n[2]", "n[3]"]


def test_ae_overview_counts_an_irae_outside_the_teae_window():
    adsl, adae = _ae_data()
    adae = adae.assign(AEIRFL=["N", "N", "N", "N", "N", "Y"])      # D's event: not treatment-emergent, irAE window
    ov = S.overview(adae, adsl, "t")
    assert stat(ov, parameter="Immune-related AE", stat="n") == 1


def test_related_by_drug_counts_each_attribution():
    adsl, adae = _ae_data()
    adae = adae.assign(ARELANL=["Y", "N", "Y", "N", "Y", "Y"], ARELPD1=["Y", "N", "N", "Y", "N", "N"])
    adsl = adsl.assign(RECEIVED_ANLOTINIB=True, PD1SDT=pd.to_datetime(["2021-01-01", "2021-01-01", "2021-01-01", None]))
    a = S.related_by_drug(adae, adsl, "t")
    # related TEAEs: A anemia (both), B diarrhea (anlotinib), C nausea (PD-1), C anemia (anlotinib)
    assert stat(a, parameter="Any treatment-related AE", group="Either drug | Any grade", stat="n") == 3
    assert stat(a, parameter="Any treatment-related AE", group="Anlotinib | Any grade", stat="n") == 3
    assert stat(a, parameter="Any treatment-related AE", group="PD-1 inhibitor | Any grade", stat="n") == 2
    assert stat(a, parameter="Anemia", group="PD-1 inhibitor | Any grade", stat="n") == 1
    # each column's percentages are of the patients who received that drug: D had no PD-1 inhibitor
    assert stat(a, parameter="Any treatment-related AE", group="PD-1 inhibitor | Any grade", stat="pct") == pytest.approx(200 / 3)
    tab = S.related_by_drug_table(a.frame())
    assert tab["CTCAE term"].tolist() == ["Any treatment-related AE", "Anemia", "Diarrhea", "Nausea"]
    assert list(tab.columns[1:4]) == ["Anlotinib (N = 4)", "PD-1 inhibitor (N = 3)", "Either drug (N = 4)"]
    assert tab.iloc[1]["Anlotinib (N = 4)"] == "2 (50.0)"


def test_aesi_has_every_category_with_a_null_row():
    adsl, adae = _ae_data()
    adae = adae.assign(AEDECOD=["Hypertension", "Epistaxis", "Epistaxis", "Nausea", "Proteinuria", "Hypertension"])
    a = S.aesi_summary(adae, adsl, "t")
    assert stat(a, parameter="Haemorrhage | Any", group="Any grade", stat="n") == 2
    assert stat(a, parameter="Haemorrhage | Any", group="Grade >=3", stat="n") == 1       # A's epistaxis is grade 3
    assert stat(a, parameter="Hypertension | Any", group="Any grade", stat="n") == 1       # D's is not treatment-emergent
    assert stat(a, parameter="Hepatotoxicity | Any", group="Any grade", stat="n") == 0
    tab = S.subsets_table(a.frame())
    assert "  (no event)" in tab["Patients with"].tolist()


def test_sar_table_carries_html_and_its_typst_twin():
    from apec_sar import tables as T
    df = pd.DataFrame({"Factor": ['Age "old"', "  Sex"], "HR (95% CI)": ["1.23 (0.56, 2.74)", "-0.5"],
                       "Model": ["PFS model", "PFS model"]})
    t = T.gt_table(df, "tbl-x", "Analysis set, N = 29", ["p = 0.003 \\ nominal"], group="Model", widths=[60, 40])
    bundle = t._repr_mimebundle_()
    assert set(bundle) == {"text/html", "text/markdown", "text/plain"}
    md = bundle["text/markdown"]
    assert md.startswith("```{=typst}\n") and md.rstrip().endswith("```")
    # the PDF's widths are the automatic ones (the longest texts, 9 and 17 characters, fit), not
    # the HTML's percentages; the last row, the closing rule and the footnotes are the footer
    assert 'table.footer(repeat: false, "\u00a0\u00a0\u00a0\u00a0Sex", "−0.5", table.hline(stroke: 0.8pt), ' \
        'table.cell(colspan: 2, align: left, text(size: 0.9em, "p' in md and "sticky: true" in md
    assert "columns: (9.00fr, 17.00fr,)" in md and "align: (left, center,)" in md
    assert 'table.cell(colspan: 2, align: left, emph("PFS model"))' in md      # the row group spans the width
    assert '"Age \\"old\\""' in md                                          # quotes escaped in the string literal
    assert '"\u00a0\u00a0\u00a0\u00a0Sex"' in md                             # indentation kept
    assert '"−0.5"' in md and "p\u00a0=\u00a00.003 \\\\ nominal" in md        # typeset, backslash escaped
    assert "table.header(" in md                                            # the column labels repeat on every page
    assert bundle["text/plain"] == "SAR table tbl-x: 2 rows x 2 columns"      # stable: no memory address


def test_column_weights_follow_the_automatic_table_layout():
    from apec_sar.tables import column_weights
    # natural widths fit (106.5 characters for two columns): each column its longest text,
    # a header counting 10% wider
    assert column_weights([["12"], ["345"]], ["A", "B"]) == [2, 3]
    assert column_weights([["1"], ["2"]], ["Grade", "N"]) == pytest.approx([5.5, 1.1])
    # too wide: minimums (longest unbreakable word; 'APEC-0003' does not break at its hyphen)
    # plus the rest (105.1163 - 23 characters: 452 pt at 4.3 pt a character) shared by what each column's texts need beyond
    # the minimum, averaged over its one row and its header: 56 / 2 and 181 / 2 of 237 / 2
    long4, long10 = "aaaa " * 12, "bbbbbbbbbb " * 17 + "bbbb"
    w = column_weights([[long4], ["APEC-0003"], [long10]], ["x", "y", "z"])
    assert w == pytest.approx([4 + 56 * 82.1163 / 237, 9, 10 + 181 * 82.1163 / 237], abs=1e-3)
    # a no-break space joins words: 'Listing\u00a016.2.7.1' is one word of 16 characters
    assert column_weights([["Listing\u00a016.2.7.1"]], ["Output"]) == [16]
    # even the minimums overflow: they are kept, in proportion
    assert column_weights([["a" * 15]] * 10, ["h"] * 10) == [15] * 10
