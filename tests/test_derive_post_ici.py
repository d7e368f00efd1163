"""Rules of issue 10 on small hand-built patients (expected values typed in): the prior ICI in
depth (SITC resistance, ICI-free intervals, "progressed on a prior ICI"), populations, exposure
by drug (RDI over period B), relatedness and immune-related AEs, clinical benefit, the SD window,
confirmed DOR / TTR, groupings. Day numbers count from 2021-01-01."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from apec_sar.derive import cohort, response, safety, tte

T0 = pd.Timestamp("2021-01-01")


def day(n: int) -> pd.Timestamp:
    return T0 + pd.Timedelta(days=n)


D = pd.Timestamp


# --- prior ICI -------------------------------------------------------------------------------

def prior_rows():
    """P1 primary, P2 secondary, P3 PD 85 days after the last dose, P4 30 days of ICI, P5 ICI
    stopped for toxicity then chemotherapy, P6 two ICI lines (the second progressed), P7 none."""
    rows = [
        # USUBJID, LINE, REGIMEN, CLASS, start, end, PD, best, stop
        ("P1", 1, "paclitaxel+cisplatin+camrelizumab", "CHEMOTHERAPY+CHEMOTHERAPY+PD1",
         "2021-01-01", "2021-03-31", "2021-04-10", "SD", "Progression"),
        ("P2", 1, "tislelizumab", "PD1", "2020-01-01", "2020-08-31", "2020-09-15", "PR", "Progression"),
        ("P3", 1, "docetaxel+sintilimab", "CHEMOTHERAPY+PD1", "2020-01-01", "2020-04-30", "2020-07-24", "SD", "Completed"),
        ("P4", 1, "nivolumab", "PD1", "2021-01-01", "2021-01-30", "2021-02-05", "PD", "Progression"),
        ("P5", 1, "paclitaxel+cisplatin+camrelizumab", "CHEMOTHERAPY+CHEMOTHERAPY+PD1",
         "2020-01-01", "2020-05-31", None, "PR", "Toxicity"),
        ("P5", 2, "docetaxel", "CHEMOTHERAPY", "2020-07-01", "2020-10-31", "2020-11-10", "SD", "Progression"),
        ("P6", 1, "camrelizumab", "PD1", "2019-01-01", "2019-03-31", None, "SD", "Toxicity"),
        ("P6", 2, "docetaxel+tislelizumab", "CHEMOTHERAPY+PD1", "2019-06-01", "2019-12-31", "2020-01-05", "PD",
         "Progression"),
        ("P7", 1, "docetaxel", "CHEMOTHERAPY", "2020-01-01", "2020-04-30", "2020-05-10", "PD", "Progression"),
    ]
    df = pd.DataFrame(rows, columns=["USUBJID", "LINE", "REGIMEN", "REGIMEN_CLASS", "START_DATE", "END_DATE", "PD_DATE",
                                     "BEST_RESPONSE", "STOP_REASON"])
    for c in ("START_DATE", "END_DATE", "PD_DATE"):
        df[c] = pd.to_datetime(df[c])
    df["SETTING"] = "Advanced"
    df["HAS_ICI"] = df.REGIMEN_CLASS.str.contains("PD1")
    return df


def test_prior_ici_line_and_progression_on_it():
    p = cohort.prior_ici_line(prior_rows())
    assert sorted(p.index) == ["P1", "P2", "P3", "P4", "P5", "P6"]
    assert p.PRICIAG.to_dict() == {"P1": "camrelizumab", "P2": "tislelizumab", "P3": "sintilimab", "P4": "nivolumab",
                                   "P5": "camrelizumab", "P6": "tislelizumab"}
    assert p.PRICIPFL.to_dict() == {"P1": "Y", "P2": "Y", "P3": "Y", "P4": "Y", "P5": "N", "P6": "Y"}
    assert p.loc["P6", "PRICILN"] == 2                       # the ICI line that progressed, not the first
    assert p.ICIINTFL.to_dict() == {"P1": "N", "P2": "N", "P3": "N", "P4": "N", "P5": "Y", "P6": "N"}
    s = pd.DataFrame({"PRIORICI": ["Y"] * 6 + ["N"], "PRICIPFL": list(p.PRICIPFL) + [None]},
                     index=list(p.index) + ["P7"])
    # stopped for toxicity with a PR, then chemotherapy: did not progress on the ICI (APEC-0014 pattern)
    assert cohort.progressed_on_prior_ici(s).to_dict() == {"P1": True, "P2": True, "P3": True, "P4": True,
                                                          "P5": False, "P6": True, "P7": False}


def test_sitc_resistance_categories_and_boundaries():
    cases = {  # first dose, last dose, PD, best response -> expected
        "primary SD (PD 99 days after start)": ("2021-01-01", "2021-03-31", "2021-04-10", "SD", "Primary"),
        "primary PD, exposure exactly 42 days": ("2021-01-01", "2021-02-11", "2021-02-20", "PD", "Primary"),
        "exposure 41 days": ("2021-01-01", "2021-02-10", "2021-02-20", "PD", "Unclassifiable"),
        "secondary PR": ("2020-01-01", "2020-08-31", "2020-09-15", "PR", "Secondary (acquired)"),
        "secondary SD > 183 days": ("2020-01-01", "2020-07-15", "2020-08-01", "SD", "Secondary (acquired)"),
        "PR for 5 months": ("2020-01-01", "2020-05-31", "2020-06-10", "PR", "Unclassifiable"),
        "PD 85 days after the last dose": ("2020-01-01", "2020-04-30", "2020-07-24", "SD", "PD after discontinuation"),
        "PD 84 days after the last dose": ("2020-01-01", "2020-04-30", "2020-07-23", "SD", "Unclassifiable"),
        "no progression": ("2020-01-01", "2020-05-31", None, "PR", "No progression on ICI"),
        "best response NE": ("2021-01-01", "2021-03-31", "2021-04-10", "NE", "Unclassifiable"),
    }
    f = pd.DataFrame(cases, index=["first", "last", "pd", "best", "want"]).T
    got = cohort.sitc_resistance(pd.to_datetime(f["first"]), pd.to_datetime(f["last"]), pd.to_datetime(f["pd"]), f.best)
    assert got.to_dict() == f.want.to_dict()


def test_prior_ici_variables_and_ici_free_intervals():
    a = pd.DataFrame({"PRIORICI": ["Y", "N"], "PRICISDT": [D("2021-01-01"), pd.NaT], "PRICIEDT": [D("2021-03-31"), pd.NaT],
                      "PRICIPDT": [D("2021-04-10"), pd.NaT], "PRICIBR": ["SD", None],
                      "PD1SDT": [D("2021-05-01"), D("2021-05-01")], "TRTSDT": [D("2021-05-01"), D("2021-05-01")]},
                     index=["P1", "P7"])
    v = cohort.prior_ici_variables(a)
    assert v.loc["P1", ["RESISTYP", "ICIEXPD", "ICIFRA", "ICIFRB"]].tolist() == ["Primary", 90, 31, 21]
    assert v.loc["P7", "RESISTYP"] == "No prior ICI" and np.isnan(v.loc["P7", "ICIFRA"])


def test_groupings():
    assert cohort.ecog_group(pd.Series([0, 1, 2, np.nan])).tolist() == ["0", ">=1", ">=1", None]
    assert cohort.pdl1_group(pd.Series([0, 0.5, 1, 9, 10, 55, np.nan])).tolist() == \
        ["<1", "<1", "1-9", "1-9", ">=10", ">=10", "Not tested"]
    cls = pd.Series(["CHEMOTHERAPY", "PD1+CHEMOTHERAPY", "VEGFR_TKI", "RADIOTHERAPY", None, "OTHER"])
    assert cohort.therapy_type(cls).tolist() == ["Chemotherapy", "Immunotherapy-containing", "Anti-angiogenic TKI",
                                                 "Radiotherapy", "Other", "Other"]


def test_treatment_received_and_safety_population():
    s = pd.DataFrame({"RECEIVED_ANLOTINIB": [True, True, False, False], "RECEIVED_PD1": [True, False, True, False]})
    assert cohort.treatment_received(s).tolist() == ["Anlotinib + PD-1 inhibitor", "Anlotinib alone",
                                                     "PD-1 inhibitor alone", "Not treated"]


# --- exposure: RDI over period (B) -----------------------------------------------------------

CUTOFF = day(100)


def exposure_rows():
    rows = []

    def anl(s, cyc, start, days, dose):
        rows.append((s, cyc, "anlotinib", "ANLOTINIB", day(start), day(start + days - 1), dose))

    def pd1(s, cyc, start):
        rows.append((s, cyc, "camrelizumab", "PD1", day(start), day(start), 200.0))

    for k, st in enumerate((0, 21, 42), 1):          # A: 3 x 14 d x 12 mg = 504 mg, PD-1 each cycle
        anl("A", k, st, 14, 12.0)
        pd1("A", k, st)
    for k, (st, dose) in enumerate(((0, 10.0), (21, 10.0), (42, 8.0)), 1):   # B: 10 mg, reduced to 8 mg
        anl("B", k, st, 14, dose)
    anl("C", 1, 75, 14, 12.0)                        # C: second course running at the cut-off (day 100)
    pd1("C", 1, 75)
    anl("C", 2, 96, 5, 12.0)
    pd1("C", 2, 96)
    for k, st in enumerate((0, 28), 1):              # D: second cycle delayed by 7 days
        anl("D", k, st, 14, 12.0)
        pd1("D", k, st)
    anl("E", 1, 0, 10, 12.0)                         # E: first course interrupted after 10 days
    anl("E", 2, 21, 14, 12.0)
    anl("F", 1, 0, 14, 12.0)                         # F: the last course stopped after 7 days
    anl("F", 2, 21, 7, 12.0)
    ex = pd.DataFrame(rows, columns=["USUBJID", "CYCLE", "DRUG", "DRUG_CLASS", "START_DATE", "LAST_DOSE", "DOSE"])
    ex["END_DATE"] = np.where(ex.DRUG_CLASS == "ANLOTINIB", ex.LAST_DOSE, pd.NaT)
    ex.loc[(ex.USUBJID == "C") & (ex.CYCLE == 2) & (ex.DRUG_CLASS == "ANLOTINIB"), "END_DATE"] = pd.NaT  # ongoing
    ids = ["A", "B", "C", "D", "E", "F"]
    adsl = pd.DataFrame({"USUBJID": ids, "TRTSDT": [ex[ex.USUBJID == i].START_DATE.min() for i in ids],
                         "TRTEDT": [ex[ex.USUBJID == i].LAST_DOSE.max() for i in ids], "DCUTDT": CUTOFF})
    return ex, adsl


@pytest.fixture(scope="module")
def adex():
    ex, adsl = exposure_rows()
    return safety.build_adex(ex, adsl).set_index("USUBJID")


def test_rdi_full_adherence_is_one_with_the_last_rest_counted(adex):
    # APEC-0036 pattern: exactly 3 x 14 d x 12 mg = 504 mg; period B = 3 x 21 = 63 days
    assert adex.loc["A", ["ANLCYC", "ANLDURD", "ANLCUMD", "ANLRDI", "ANLRDIP"]].tolist() == [3, 63, 504.0, 1.0, 1.0]
    assert adex.loc["A", "ANLDI"] == pytest.approx(8.0)
    assert adex.loc["A", "TRTDURB"] == 63


def test_rdi_against_starting_and_protocol_dose(adex):
    b = adex.loc["B"]
    assert b.ANLCUMD == 392.0                                  # 140 + 140 + 112 mg
    assert b.ANLRDI == pytest.approx(392 / 420)                # vs 10 mg x 42 planned days
    assert b.ANLRDIP == pytest.approx(392 / 504)               # vs 12 mg
    assert b[["ANLDOSE0", "ANLFDOSE", "ANLNRED", "ANLREDFL", "ANLTTRED"]].tolist() == [10.0, 8.0, 1, "Y", 43]
    assert b.PD1N == 0 and np.isnan(b.PD1DI)


def test_rdi_course_running_at_the_cutoff(adex):
    c = adex.loc["C"]
    assert c.ANLDURD == 26                                     # 21 + days 96..100
    assert c.ANLCUMD == 12.0 * 19 and c.ANLRDI == pytest.approx(1.0)
    assert c[["PD1N", "PD1DURD", "PD1NEXP"]].tolist() == [2, 26, 2] and c.PD1DI == pytest.approx(1.0)


def test_delay_lengthens_the_period_and_lowers_intensity(adex):
    d = adex.loc["D"]
    assert d.ANLDURD == 49                                     # 28 + 21
    assert d.ANLRDI == pytest.approx(336 / 420)                # planned 14 + 14 + 7 days
    assert d[["ANLNDLY", "DELAYS", "PD1N", "PD1NEXP", "PD1NDLY"]].tolist() == [1, 1, 2, 3, 1]
    assert d.PD1DI == pytest.approx(2 / 3)                     # a third infusion was due on day 42


def test_interruptions(adex):
    assert adex.loc["E", ["ANLNINT", "ANLDAYS"]].tolist() == [1, 24]
    assert adex.loc["E", "ANLRDI"] == pytest.approx(288 / 336)
    assert adex.loc["F", "ANLNINT"] == 0                       # the last course cut short is the end of treatment


def test_planned_dosing_days():
    assert safety.planned_dosing_days(pd.Series([21, 26, 49, 63, 10])).tolist() == [14, 19, 35, 42, 10]


# --- ADAE: relatedness and immune-related AEs --------------------------------------------------

def ae_rows():
    rows = [  # subject, term, term-list flag, onset day, REL_ANL, REL_PD1, IRAE_INV, steroid, hormone
        ("A", "Hypothyroidism", "Y", 60, "Related", "Possibly related", "N", "N", "Y"),
        ("A", "Hypothyroidism", "Y", 70, "Possibly related", "Related", "Y", "N", "Y"),
        ("A", "Pneumonitis", "Y", 132, "Unlikely related", "Related", "N", "Y", "N"),
        ("A", "Alanine aminotransferase increased", "N", 133, "Possibly related", "Related", None, "Y", "N"),
        ("A", "Aspartate aminotransferase increased", "N", 50, "Possibly related", None, None, "Y", "N"),
        ("A", "Diarrhea", "N", 10, "Related", "Unlikely related", None, "Y", "N"),
        ("A", "Fatigue", "N", 5, None, "Not related", None, "N", "N"),
        ("A", "Cough", "N", 20, "Not related", "Not related", None, "N", "N"),
        ("B", "Hypothyroidism", "Y", 60, "Related", "Not related", "Y", "N", "Y"),
    ]
    ae = pd.DataFrame(rows, columns=["USUBJID", "AEDECOD", "AEIRFL", "ONSET", "REL_ANLOTINIB", "REL_PD1", "IRAE_INV",
                                     "SYSTEMIC_STEROID", "HORMONE_REPLACEMENT"])
    ae["START_DATE"] = ae.ONSET.map(day)
    ae = ae.drop(columns="ONSET").assign(AE_VERBATIM=ae.AEDECOD, AESOC="SOC", CTCAE_GRADE=1, START_DATE_F="",
                                         END_DATE=pd.NaT, END_DATE_F="", SERIOUS="N", ACTION_TAKEN="None",
                                         OUTCOME="Recovered/resolved", SRC_ROW=range(1, 10))
    adsl = pd.DataFrame({"USUBJID": ["A", "B"], "TRTSDT": [T0, T0], "TRTEDT": [day(55), day(55)],
                         "PD1SDT": [T0, pd.NaT], "PD1EDT": [day(42), pd.NaT], "SAFFL": "Y", "EFFFL": "Y"})
    return ae, adsl


def test_relatedness_missing_counts_as_related():
    ae, adsl = ae_rows()
    a = safety.build_adae(ae, adsl)
    assert a.AREL.tolist() == ["Y", "Y", "Y", "Y", "Y", "Y", "Y", "N", "Y"]
    assert a.ARELPD1.tolist() == ["Y", "Y", "Y", "Y", "Y", "N", "N", "N", "N"]
    assert a.AERELIFL.tolist() == [None, None, None, None, "Y", None, "Y", None, None]


def test_immune_related_definition():
    ae, adsl = ae_rows()
    a = safety.build_adae(ae, adsl)
    # 1 hypothyroidism replaced but attributed to anlotinib: no; 2 investigator-called: yes;
    # 3 steroids, PD-1-related, day 132 = last PD-1 dose + 90: yes; 4 day 133: outside the window;
    # 5 steroids with the PD-1 attribution missing: yes; 6 steroids, PD-1 unlikely: no;
    # 7-8 no; 9 no PD-1 given: no (whatever the form says)
    assert a.AEIRFL.tolist() == ["N", "Y", "Y", "N", "Y", "N", "N", "N", "N"]
    assert a.AEIRTLFL.tolist() == ["Y", "Y", "Y", "N", "N", "N", "N", "N", "Y"]
    assert a.IRWINFL.tolist() == ["Y", "Y", "Y", "N", "Y", "Y", "Y", "Y", "N"]
    assert a.IRONSDY.tolist()[:3] == [61, 71, 133]
    assert a.TRTEMFL.tolist()[:4] == ["Y", "Y", None, None]    # TEAE window: last dose (day 55) + 30


# --- response: SD window, clinical benefit, response-evaluable, confirmed DOR / TTR -----------

def subjects(*ids):
    return pd.DataFrame({"USUBJID": list(ids), "TRTSDT": [T0] * len(ids), "NACTDT": pd.NaT, "DTHDT": pd.NaT,
                         "LSTALVDT": T0})


def visits(rows):
    return pd.DataFrame({"USUBJID": [r[0] for r in rows], "ADT": [day(r[1]) for r in rows],
                         "AVALC": [r[2] for r in rows], "VISIT": "V"})


def test_bor_sd_window_sensitivity():
    adsl = subjects("A", "B", "C")
    ovr = response.flag_records(visits([("A", 35, "SD"), ("A", 80, "PD"), ("B", 49, "SD"), ("C", 30, "PR")]), adsl)
    got = {w: response.derive_bor(ovr, adsl, sd_window=w).set_index("USUBJID").AVALC.to_dict() for w in (28, 42, 56)}
    assert got[28] == {"A": "SD", "B": "SD", "C": "PR"}
    assert got[42] == {"A": "PD", "B": "SD", "C": "PR"}
    assert got[56] == {"A": "PD", "B": "NE", "C": "PR"}


def test_clinical_benefit_needs_sd_for_24_weeks():
    adsl = subjects("A", "B", "C", "D", "E")
    rows = [("A", 42, "SD"), ("A", 168, "SD"),                      # non-PD on day 168: benefit
            ("B", 42, "SD"), ("B", 167, "SD"), ("B", 210, "PD"),    # day 167 only: no
            ("C", 42, "PR"),                                        # response: benefit
            ("D", 42, "SD"), ("D", 100, "PD"), ("D", 170, "SD"),    # after PD: not counted
            ("E", 42, "PD")]
    ovr = response.flag_records(visits(rows), adsl)
    bor = response.derive_bor(ovr, adsl)
    cb = response.derive_clinical_benefit(ovr, adsl, bor).set_index("USUBJID")
    assert cb.AVALC.to_dict() == {"A": "Y", "B": "N", "C": "Y", "D": "N", "E": "N"}
    assert cb.loc["A", "ADT"] == day(168) and cb.loc["C", "ADT"] == day(42)


def test_response_evaluable():
    adsl = subjects("A", "B", "C")
    ta = pd.DataFrame({"USUBJID": ["A", "B", "C"], "VISIT": "Baseline", "TARGET_SUM_MM": [50.0, 0.0, 40.0]})
    ovr = response.flag_records(visits([("A", 42, "NE"), ("B", 42, "SD")]), adsl)
    ev = response.response_evaluable(ta, ovr, ["A", "B", "C"])
    assert ev.BMEASIFL.tolist() == ["Y", "N", "Y"]
    assert ev.RSEVALFL.tolist() == ["Y", "N", "N"]            # C: no post-baseline assessment


def test_confirmed_dor_and_ttr():
    adsl = subjects("A", "B")
    rows = [("A", 42, "PR"), ("A", 84, "PR"), ("A", 126, "PD"),     # confirmed PR from day 42
            ("B", 42, "PR"), ("B", 84, "SD"), ("B", 126, "PD")]     # unconfirmed only
    ovr = response.flag_records(visits(rows), adsl)
    cbor = response.derive_confirmed_bor(ovr, adsl)
    dorc = tte.derive_dor(adsl, ovr, cbor, "DORC").set_index("USUBJID")
    assert list(dorc.index) == ["A"] and dorc.loc["A", ["AVAL", "CNSR"]].tolist() == [85, 0]
    assert set(dorc.PARAMCD) == {"DORC"}
    ttrc = tte.derive_ttr(adsl, cbor, "TTRC").set_index("USUBJID")
    assert ttrc.loc["A", "AVAL"] == 43 and list(ttrc.index) == ["A"]
    ttr = tte.derive_ttr(adsl, response.derive_bor(ovr, adsl)).set_index("USUBJID")
    assert ttr.AVAL.tolist() == [43, 43]


# --- cleaning: a height in metres ---------------------------------------------------------------

def test_height_recorded_in_metres_is_converted():
    from apec_sar.clean.errors import QueryLog
    from apec_sar.clean.harmonise import heights_in_cm
    log = QueryLog()
    df = pd.DataFrame({"SRC_ROW": [1, 2, 3], "SUBJID": ["S01-001", "S01-002", "S01-003"],
                       "HEIGHT_CM": ["1.64", "170", "5"]})
    v = heights_in_cm("demographics", df, log, (120, 210))
    assert v[:2].tolist() == [164.0, 170.0] and np.isnan(v[2])
    q = log.frame()
    assert q.ROW.tolist() == [1, 3] and q.RULE.tolist() == ["height in metres", "out of range"]
    assert q.CHECK.tolist() == ["P06", "P01"]
    assert q.ACTION.iloc[0] == "recorded in metres: converted to 164 cm; site to confirm"
    assert ("demographics", "HEIGHT_CM", "height in metres -> cm", 1) in log.notes


def test_rccep_named_as_such():
    from apec_sar.clean.mappings import map_ae_terms
    t = map_ae_terms(pd.Series(["RCCEP", "反应性皮肤毛细血管增生症"]), "adverse_events", np.array([1, 2]))
    assert set(t.AEDECOD) == {"Reactive cutaneous capillary endothelial proliferation"}
    assert set(t.AESOC) == {"Skin and subcutaneous tissue disorders"}
