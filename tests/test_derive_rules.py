"""Derivation rules on small hand-built patients (in the spirit of admiralonco's tests).
Expected values are typed in; day numbers count from the first dose on 2021-01-01."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from apec_sar.clean import dates as D
from apec_sar.derive import cohort, response, safety, tte

T0 = pd.Timestamp("2021-01-01")


def day(n: int) -> pd.Timestamp:
    """The date n days after the first dose (day(42) = 2021-02-12)."""
    return T0 + pd.Timedelta(days=n)


def subjects(*ids, nact=None, death=None, alive=None):
    nact, death, alive = nact or {}, death or {}, alive or {}
    return pd.DataFrame({
        "USUBJID": list(ids), "TRTSDT": [T0] * len(ids),
        "NACTDT": [day(nact[i]) if i in nact else pd.NaT for i in ids],
        "DTHDT": [day(death[i]) if i in death else pd.NaT for i in ids],
        "LSTALVDT": [day(alive[i]) if i in alive else T0 for i in ids]})


def visits(rows):
    """rows: (subject, day, response)."""
    return pd.DataFrame({"USUBJID": [r[0] for r in rows], "ADT": [day(r[1]) for r in rows],
                         "AVALC": [r[2] for r in rows], "VISIT": "V"})


def bor_of(rows, adsl, confirmed=False):
    ovr = response.flag_records(visits(rows), adsl)
    f = response.derive_confirmed_bor if confirmed else response.derive_bor
    return f(ovr, adsl).set_index("USUBJID")


# --- best overall response -------------------------------------------------------------------

def test_day_numbers():
    assert day(42) == pd.Timestamp("2021-02-12")


def test_sd_needs_42_days_from_first_dose():
    adsl = subjects("A", "B", "C")
    b = bor_of([("A", 35, "SD"), ("A", 80, "PD"),      # SD too early, then PD -> PD
                ("B", 42, "SD"),                        # exactly 42 days -> SD
                ("C", 41, "SD")], adsl)                 # only an early SD -> NE
    assert b.AVALC.to_dict() == {"A": "PD", "B": "SD", "C": "NE"}
    assert b.loc["B", "ADT"] == pd.Timestamp("2021-02-12")
    assert b.loc["C", "NE_REASON"] == "response or SD only before 42 days (SD too early)"


def test_worst_response_per_date():
    adsl = subjects("A", "B")
    ovr = response.flag_records(visits([("A", 42, "SD"), ("A", 42, "PD"), ("B", 42, "NE"), ("B", 42, "PR")]), adsl)
    kept = ovr[ovr.ANL01FL == "Y"].set_index("USUBJID").AVALC.to_dict()
    assert kept == {"A": "PD", "B": "PR"}
    assert response.derive_bor(ovr, adsl).set_index("USUBJID").AVALC.to_dict() == {"A": "PD", "B": "PR"}


def test_stop_at_first_pd():
    adsl = subjects("A")
    b = bor_of([("A", 42, "SD"), ("A", 84, "PD"), ("A", 126, "PR")], adsl)
    assert b.loc["A", "AVALC"] == "SD"


def test_assessments_after_new_anticancer_therapy_ignored_for_bor():
    adsl = subjects("A", nact={"A": 60})
    b = bor_of([("A", 42, "SD"), ("A", 84, "PR")], adsl)
    assert b.loc["A", "AVALC"] == "SD"


def test_ne_versus_missing():
    adsl = subjects("A", "B", "C", death={"C": 20})
    b = bor_of([("A", 42, "NE"), ("A", 84, "NE")], adsl)
    assert b.loc["A", "AVALC"] == "NE" and b.loc["A", "NE_REASON"] == "all post-baseline assessments not evaluable"
    assert b.loc["B", "AVALC"] == "MISSING" and b.loc["B", "NE_REASON"] == "no post-baseline assessment"
    assert b.loc["C", "AVALC"] == "MISSING" and b.loc["C", "NE_REASON"] == "death before the first assessment"


def test_confirmation_with_one_ne_between():
    adsl = subjects("A", "B", "C")
    rows = [("A", 42, "PR"), ("A", 84, "NE"), ("A", 126, "PR"),                     # one NE: confirmed
            ("B", 42, "PR"), ("B", 84, "NE"), ("B", 126, "NE"), ("B", 168, "PR"),   # two NEs: not
            ("C", 42, "PR"), ("C", 63, "PR")]                                        # 21 days: not
    c = bor_of(rows, adsl, confirmed=True)
    assert c.AVALC.to_dict() == {"A": "PR", "B": "SD", "C": "SD"}
    assert c.loc["A", "ADT"] == pd.Timestamp("2021-02-12")
    assert bor_of(rows, adsl).AVALC.to_dict() == {"A": "PR", "B": "PR", "C": "PR"}


def test_confirmed_cr_and_pr_after_cr():
    adsl = subjects("A", "B")
    rows = [("A", 42, "CR"), ("A", 84, "CR"),          # confirmed CR (42 days apart)
            ("B", 42, "CR"), ("B", 84, "PR")]          # CR then PR: data issue, not confirmed
    c = bor_of(rows, adsl, confirmed=True)
    assert c.AVALC.to_dict() == {"A": "CR", "B": "SD"}
    assert bor_of(rows, adsl).loc["B", "AVALC"] == "CR"
    ovr = response.flag_records(visits(rows), adsl)
    assert response.cr_followed_by_pr(ovr).USUBJID.tolist() == ["B"]


# --- time to event ---------------------------------------------------------------------------

def pfs(rows, adsl, rule="primary"):
    ovr = response.flag_records(visits(rows), adsl) if rows else \
        response.flag_records(pd.DataFrame({"USUBJID": [], "ADT": pd.Series(dtype="datetime64[ns]"),
                                            "AVALC": [], "VISIT": []}), adsl)
    return tte.derive_pfs(adsl, ovr, rule).set_index("USUBJID")


def test_pfs_no_post_baseline_assessment_censored_at_day_1():
    p = pfs([], subjects("A"))
    assert p.loc["A", ["AVAL", "CNSR"]].tolist() == [1, 2]
    assert p.loc["A", "ADT"] == T0


def test_pfs_event_and_censoring_at_last_adequate_assessment():
    adsl = subjects("A", "B")
    p = pfs([("A", 42, "SD"), ("A", 84, "PD"), ("B", 42, "SD"), ("B", 84, "NE")], adsl)
    assert p.loc["A", ["AVAL", "CNSR", "EVNTDESC"]].tolist() == [85, 0, "Disease progression"]
    assert p.loc["B", ["AVAL", "CNSR"]].tolist() == [43, 1]     # NE is not an adequate assessment


def test_two_missed_assessments_sensitivity():
    adsl = subjects("A", "B")
    rows = [("A", 42, "SD"), ("A", 210, "PD"),         # gap 168 days > 2 x 42 + 14: two missed
            ("B", 42, "SD"), ("B", 126, "PD")]         # gap 84: one missed at most
    prim, sens = pfs(rows, adsl), pfs(rows, adsl, "missed")
    assert prim.loc["A", ["AVAL", "CNSR"]].tolist() == [211, 0]
    assert sens.loc["A", ["AVAL", "CNSR"]].tolist() == [43, 4]
    assert sens.loc["B", ["AVAL", "CNSR"]].tolist() == [127, 0]


def test_death_after_a_long_gap():
    adsl = subjects("A", death={"A": 300})
    rows = [("A", 42, "SD")]
    assert pfs(rows, adsl).loc["A", ["AVAL", "CNSR", "EVNTDESC"]].tolist() == [301, 0, "Death"]
    assert pfs(rows, adsl, "missed").loc["A", ["AVAL", "CNSR"]].tolist() == [43, 4]


def test_pfs_censored_at_new_therapy_sensitivity():
    adsl = subjects("A", nact={"A": 100})
    rows = [("A", 42, "SD"), ("A", 84, "SD"), ("A", 126, "PD")]
    assert pfs(rows, adsl).loc["A", ["AVAL", "CNSR"]].tolist() == [127, 0]
    assert pfs(rows, adsl, "nact").loc["A", ["AVAL", "CNSR"]].tolist() == [85, 3]


def test_os_censored_at_last_known_alive():
    adsl = subjects("A", "B", death={"B": 99}, alive={"A": 180, "B": 90})
    o = tte.derive_os(adsl).set_index("USUBJID")
    assert o.loc["A", ["AVAL", "CNSR"]].tolist() == [181, 5]
    assert o.loc["A", "ADT"] == pd.Timestamp("2021-06-30")
    assert o.loc["B", ["AVAL", "CNSR"]].tolist() == [100, 0]


def test_last_known_alive_sources():
    t = {"follow_up": pd.DataFrame({"USUBJID": ["A", "A"], "STATUS": ["ALIVE", "LOST"],
                                    "CONTACT_DATE": [day(100), day(200)]}),
         "tumour_assessments": pd.DataFrame({"USUBJID": ["A"], "ASSESS_DATE": [day(120)]}),
         "exposure": pd.DataFrame({"USUBJID": ["A", "A"], "START_DATE": [day(0), day(21)],
                                   "END_DATE": [day(13), pd.NaT], "LAST_DOSE": [day(13), day(21)]})}
    # a LOST row is not evidence of being alive; the assessment on day 120 is the latest
    assert cohort.last_known_alive(t, ["A"]).loc["A"] == day(120)


def test_os_censored_at_the_cutoff_when_a_course_runs_over_it():
    """APEC-0020 pattern: the last anlotinib course started 7 days before the cut-off and runs
    past it; the patient is known alive on treatment on the cut-off day, not only on the day
    the course started."""
    c = dt.date(2023, 6, 30)
    cut = pd.Timestamp(c)
    tables = {
        "exposure": pd.DataFrame({"USUBJID": ["A", "A", "B"], "SRC_ROW": [1, 2, 3],
                                  "START_DATE": [pd.Timestamp("2023-06-02"), pd.Timestamp("2023-06-23"),
                                                 pd.Timestamp("2023-05-01")],
                                  "END_DATE": [pd.Timestamp("2023-06-15"), pd.Timestamp("2023-07-06"),
                                               pd.Timestamp("2023-05-14")],
                                  "LAST_DOSE": [pd.Timestamp("2023-06-15"), pd.Timestamp("2023-07-06"),
                                                pd.Timestamp("2023-05-14")]}),
        "follow_up": pd.DataFrame({"USUBJID": ["A", "B"], "STATUS": ["ALIVE", "ALIVE"], "SRC_ROW": [1, 2],
                                   "CONTACT_DATE": [pd.Timestamp("2023-05-20"), pd.Timestamp("2023-06-01")],
                                   "DEATH_DATE": [pd.NaT, pd.NaT]}),
        "tumour_assessments": pd.DataFrame({"USUBJID": ["A"], "ASSESS_DATE": [pd.Timestamp("2023-06-10")],
                                            "SRC_ROW": [1]}),
    }
    out, _ = cohort.apply_cutoff(tables, c)
    lka = cohort.last_known_alive(out, ["A", "B"])
    assert lka.loc["A"] == cut                                   # not 2023-06-23 (start of the last course)
    assert lka.loc["B"] == pd.Timestamp("2023-06-01")            # course ended 05-14; contact 06-01
    adsl = pd.DataFrame({"USUBJID": ["A"], "TRTSDT": [pd.Timestamp("2023-01-06")], "DTHDT": [pd.NaT],
                         "LSTALVDT": [lka.loc["A"]]})
    o = tte.derive_os(adsl).set_index("USUBJID")
    assert o.loc["A", ["AVAL", "CNSR"]].tolist() == [176, 5]     # 2023-01-06 .. 2023-06-30 inclusive


def test_dor_from_first_response():
    adsl = subjects("A", "B")
    rows = [("A", 42, "PR"), ("A", 84, "PR"), ("A", 126, "PD"), ("B", 42, "SD")]
    ovr = response.flag_records(visits(rows), adsl)
    bor = response.derive_bor(ovr, adsl)
    d = tte.derive_dor(adsl, ovr, bor).set_index("USUBJID")
    assert list(d.index) == ["A"]
    assert d.loc["A", ["AVAL", "CNSR"]].tolist() == [85, 0]      # day 42 to day 126 inclusive
    # from the PFS of every patient, as derive_all passes it: the same responder rows
    d2 = tte.derive_dor(adsl, ovr, bor, pfs=tte.derive_pfs(adsl, ovr)).set_index("USUBJID")
    assert list(d2.index) == ["A"] and d2.loc["A", ["AVAL", "CNSR"]].tolist() == [85, 0]


def test_no_responder_gives_an_empty_dor():
    adsl = subjects("A")
    ovr = response.flag_records(visits([("A", 42, "SD")]), adsl)
    bor = response.derive_bor(ovr, adsl)
    assert tte.derive_dor(adsl, ovr, bor).empty


# --- dates, TEAE, cut-off ------------------------------------------------------------------

def _d(s):
    return D.parse([s])[0][0]


def test_partial_date_imputation_bounded_by_treatment_start_and_death():
    days, prec = D.parse(["2021-01", "2021-02", "2021-03", "2021-03-UNK", "2021"])
    trtsdt = np.full(5, _d("2021-01-15"))
    death = np.full(5, _d("2021-03-10"))
    first, flag = D.impute(days, prec, "first", lower=trtsdt, upper=death)
    assert list(D.iso(first)) == ["2021-01-15", "2021-02-01", "2021-03-01", "2021-03-01", "2021-01-15"]
    assert list(flag) == ["D", "D", "D", "D", "M"]
    last, _ = D.impute(days, prec, "last", upper=death)
    assert list(D.iso(last)) == ["2021-01-31", "2021-02-28", "2021-03-10", "2021-03-10", "2021-03-10"]
    # a bound outside the possible range never changes the collected parts
    out, _ = D.impute(days[:1], prec[:1], "first", lower=np.array([_d("2021-05-01")]))
    assert D.iso(out)[0] == "2021-01-01"


def test_site_date_formats_parse_to_the_same_day():
    days, prec = D.parse(["2021-03-05", "2021/3/5", "2021.03.05", "2021年3月5日", "44260"])
    assert set(D.iso(days)) == {"2021-03-05"} and set(prec) == {D.FULL}
    days, prec = D.parse(["2021-02-30", "2021-13-01", "March 5", "2021/3/UNK", "2021年3月"])
    assert list(prec) == [D.INVALID, D.INVALID, D.INVALID, D.MONTH, D.MONTH]


def test_teae_window_30_days_after_last_dose():
    trtsdt = pd.Series([T0] * 5)
    trtedt = pd.Series([pd.Timestamp("2021-03-01")] * 5)
    ast = pd.Series([pd.Timestamp("2021-03-31"), pd.Timestamp("2021-04-01"), pd.NaT,
                     pd.Timestamp("2020-12-20"), pd.Timestamp("2020-12-20")])
    aen = pd.Series([pd.NaT, pd.NaT, pd.NaT, pd.Timestamp("2020-12-25"), pd.Timestamp("2021-01-05")])
    flags = safety.treatment_emergent(ast, aen, trtsdt, trtedt)
    # exactly 30 days after: yes; 31: no; missing start: yes; ended before first dose: no;
    # started before and still going on at the first dose: no (no worsening collected)
    assert list(flags) == ["Y", None, "Y", None, None]
    assert list(safety.treatment_emergent(ast[:1], aen[:1], pd.Series([pd.NaT]), trtedt[:1])) == [None]


def test_cutoff_on_the_day_of_an_event():
    c = dt.date(2021, 6, 1)
    cut = pd.Timestamp(c)
    tables = {
        "tumour_assessments": pd.DataFrame({"ASSESS_DATE": [cut, cut + pd.Timedelta(days=1)], "SRC_ROW": [1, 2]}),
        "follow_up": pd.DataFrame({"STATUS": ["DEAD", "ALIVE", "ALIVE"], "DEATH_DATE": [cut, pd.NaT, pd.NaT],
                                   "CONTACT_DATE": [cut + pd.Timedelta(days=20), cut, cut + pd.Timedelta(days=1)],
                                   "SRC_ROW": [1, 2, 3]}),
        "adverse_events": pd.DataFrame({"START_DATE": [cut, cut + pd.Timedelta(days=1)],
                                        "END_DATE": [cut + pd.Timedelta(days=5), pd.NaT],
                                        "END_DATE_F": ["", ""], "SRC_ROW": [1, 2]}),
        "exposure": pd.DataFrame({"START_DATE": [cut - pd.Timedelta(days=3)], "END_DATE": [cut + pd.Timedelta(days=10)],
                                  "LAST_DOSE": [cut + pd.Timedelta(days=10)], "SRC_ROW": [1]}),
    }
    out, excluded = cohort.apply_cutoff(tables, c)
    assert out["tumour_assessments"].SRC_ROW.tolist() == [1]           # PD on the cut-off day is seen
    assert out["follow_up"].SRC_ROW.tolist() == [1, 2]                 # death on the cut-off day is seen
    assert out["adverse_events"].SRC_ROW.tolist() == [1]
    assert pd.isna(out["adverse_events"].END_DATE.iloc[0])             # ongoing at the cut-off
    assert pd.isna(out["exposure"].END_DATE.iloc[0]) and out["exposure"].LAST_DOSE.iloc[0] == cut
    assert excluded == {"tumour_assessments": 1, "follow_up": 1, "adverse_events": 1, "exposure": 0}


def test_eligibility_first_failed_criterion():
    s = pd.DataFrame({
        "TRTSDT": [T0, T0, pd.Timestamp("2022-05-01")], "SCREENDT": [T0] * 3,
        "BIRTH_DATE": [pd.Timestamp("1960-01-01"), pd.Timestamp("2005-01-02"), pd.Timestamp("1960-01-01")],
        "ECOG": [1, 3, 1], "HISTOLOGY": ["Squamous cell carcinoma"] * 3, "PRLINES": [2, 1, 1],
        "RECEIVED_ANLOTINIB": [True] * 3, "RECEIVED_PD1": [True] * 3, "PRIORICI": ["Y"] * 3, "PRICIPFL": ["Y"] * 3,
        "PRANLOT": ["N"] * 3, "OTHER_MALIGNANCY_5Y": ["N"] * 3, "BRAIN_METASTASIS": ["None"] * 3,
        "UNSTABLE_SYSTEMIC_DISEASE": ["N"] * 3, "PREGNANT": [None] * 3}, index=["A", "B", "C"])
    e = cohort.eligibility(s)
    assert e.ELIGFL.tolist() == ["Y", "N", "N"]
    assert e.EXCLCRIT.tolist() == [None, "IN1", "PUB2"]      # aged 15 (and ECOG 3): first is IN1
    assert e.AGE.tolist() == [61, 15, 62]


def test_patient_codes_keep_the_pseudonyms_order_and_decode_every_output():
    from apec_sar.derive.build import PatientCodes
    tables = {"screening_log": pd.DataFrame({"USUBJID": ["APEC-010", "APEC-002", "APEC-100"], "X": [1, 2, 3]}),
              "exposure": pd.DataFrame({"USUBJID": ["APEC-100", "APEC-002", "APEC-100"]}),
              "metastatic_sites": pd.DataFrame({"SITE": ["liver"]})}
    codes = PatientCodes(tables)
    enc = codes.encode(tables["exposure"])
    assert enc.USUBJID.tolist() == [2, 0, 2]                      # ranks: APEC-002 < APEC-010 < APEC-100
    assert tables["exposure"].USUBJID.tolist() == ["APEC-100", "APEC-002", "APEC-100"]   # input untouched
    assert codes.encode(tables["metastatic_sites"]) is tables["metastatic_sites"]
    assert codes.decode(enc).USUBJID.tolist() == ["APEC-100", "APEC-002", "APEC-100"]
    by_id = pd.DataFrame({"N": [5, 6]}, index=pd.Index([1, 0], name="USUBJID"))
    assert codes.decode(by_id).index.tolist() == ["APEC-010", "APEC-002"]
    with pytest.raises(ValueError, match="without USUBJID"):
        PatientCodes({"exposure": pd.DataFrame({"USUBJID": ["APEC-1", None]})})
