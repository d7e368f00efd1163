"""Cleaning rules one function at a time, on small hand-built inputs (in the spirit of admiral's
testthat files): each case types its input and the expected output, query or full message.
Registry ids in the test names (see apec_sar.clean.registry)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from apec_sar.clean import consistency as C
from apec_sar.clean import dates as D
from apec_sar.clean import harmonise as H
from apec_sar.clean import identity
from apec_sar.clean import plausibility as P
from apec_sar.clean import registry
from apec_sar.clean.duplicates import reject_exact_duplicate_rows, signal_duplicate_records
from apec_sar.clean.errors import DataError, QueryLog
from apec_sar.io import read_raw

from .conftest import ROOT

RELOCK = "re-export the file, replace it in data/raw and re-lock the extract (make relock)"
ts = pd.Timestamp


@pytest.fixture
def log():
    return QueryLog()


def frame(**cols) -> pd.DataFrame:
    n = len(next(iter(cols.values())))
    return pd.DataFrame({"SRC_ROW": np.arange(1, n + 1), **cols})


def day(s: str) -> np.int64:
    return np.int64((np.datetime64(s) - np.datetime64("1970-01-01")).astype(np.int64))


def queries(log) -> list[tuple]:
    q = log.frame()
    return list(zip(q.FILE, q.ROW, q.SUBJID, q.COLUMN, q.CHECK, q.ORIGINAL, q.ACTION))


def message(exc_info) -> str:
    return str(exc_info.value)


# --- registry, DataError, QueryLog -------------------------------------------------------------

def test_registry_ids_and_rules_are_unique_and_complete():
    t = registry.checks_table()
    assert t.CHECK.is_unique and t.RULE.is_unique
    assert set(t.OUTCOME) <= {"stop", "query", "harmonise", "stop/query"}
    assert (t.ACTION.str.len() > 0).all() and (t["LOOKS FOR"].str.len() > 0).all()
    assert registry.check_of("duplicate patient").id == "I04"


def test_data_error_names_file_row_column_rule_value_and_what_to_do():
    e = DataError("adverse_events", 3, "START_DATE", "valid date", "not a calendar date in any site format",
                  value="2021-02-30", other_rows=[5, 9])
    assert str(e) == ("data/raw/adverse_events.csv, row 3, column START_DATE, value '2021-02-30': rule S08 "
                      "'valid date' failed: not a calendar date in any site format (the same in rows 5, 9). "
                      f"What to do: correct the date at the site; {RELOCK}.")
    assert (e.check, e.value, e.other_rows) == ("S08", "2021-02-30", [5, 9])


def test_data_error_lists_at_most_five_other_rows():
    e = DataError("exposure", 1, "DOSE", "number", "not a number", value="x", other_rows=range(2, 10),
                  todo="fix it")
    assert str(e) == ("data/raw/exposure.csv, row 1, column DOSE, value 'x': rule S05 'number' failed: not a number "
                      "(the same in rows 2, 3, 4, 5, 6 and 3 more). What to do: fix it.")


def test_query_log_fills_the_check_id_and_refuses_unregistered_rules(log):
    log.add("demographics", [4], ["S01-004"], "HEIGHT_CM", "out of range", ["12"], "set to missing")
    assert queries(log) == [("demographics", 4, "S01-004", "HEIGHT_CM", "P01", "12", "set to missing")]
    with pytest.raises(KeyError):
        log.add("demographics", [4], ["S01-004"], "HEIGHT_CM", "made-up rule", ["12"], "x")


def test_query_log_reject_counts_rows(log):
    df = frame(SUBJID=["A", "B", "C"])
    kept = log.reject("f", df, [False, True, False], "SUBJID", "duplicate patient", ["A", "B", "C"], "gone")
    assert kept.SUBJID.tolist() == ["A", "C"]
    assert log.rejected == {"f": 1}
    assert queries(log) == [("f", 2, "B", "SUBJID", "I04", "B", "gone")]


def test_query_log_original_is_text_whatever_the_cleaned_column_holds(log):
    """One type in ORIGINAL (a partition's Parquet file cannot mix numbers and text): numbers as
    written, without a spurious .0; dates ISO; missing None."""
    orig = np.array([12.0, 2.5, np.int64(3), "Dose reduced", None, np.nan, ts("2021-03-04"), pd.NaT, 1e-7],
                    dtype=object)
    log.add("exposure", range(1, 10), ["A"] * 9, "DOSE", "dose change flag", orig, "kept")
    assert log.frame().ORIGINAL.tolist() == ["12", "2.5", "3", "Dose reduced", None, None, "2021-03-04", None,
                                             "1e-07"]


def test_query_log_original_numbers_dates_and_arrays():
    log = QueryLog()
    orig = np.array([1e15, 2.0 ** 53 + 2, -0.0, np.float32(0.1), np.datetime64("NaT"), ts("2021-03-04 10:30"),
                     1e20, True], dtype=object)
    log.add("exposure", range(1, 9), ["A"] * 8, "DOSE", "dose change flag", orig, "kept")
    assert log.frame().ORIGINAL.tolist() == ["1000000000000000", "9007199254740994", "-0", "0.1", None,
                                             "2021-03-04T10:30:00", "1e+20", "True"]
    log = QueryLog()       # a datetime64 array (not Timestamps): dates, not nanosecond counts
    log.add("exposure", [1, 2], ["A", "A"], "START_DATE", "dose change flag",
            pd.Series(pd.to_datetime(["2021-03-04", None])).to_numpy(), "kept")
    assert log.frame().ORIGINAL.tolist() == ["2021-03-04", None]
    log = QueryLog()       # one value for every row; a list keeps its numbers numbers (and its NaN missing)
    log.add("exposure", [1, 2], ["A", "A"], "DOSE", "dose change flag", 12.0, "kept")
    log.add("exposure", [3, 4], ["A", "A"], "DOSE", "dose change flag", [12.0, np.nan], "kept")
    assert log.frame().ORIGINAL.tolist() == ["12", "12", "12", None]


# --- I01-I07 identity ----------------------------------------------------------------------------

def test_I01_identifiers_normalised_for_width_case_and_whitespace():
    got = identity.normalise_identifier(pd.Series(["ｓ０１－００１ ", "s01-001", " 11010519491231002x", "", None,
                                            "1101 0519 4912 3100 2X"]))
    assert got.astype(object).where(got.notna(), None).tolist() == [
        "S01-001", "S01-001", "11010519491231002X", None, None, "11010519491231002X"]


def test_I01_normalisation_counted_in_the_harmonisation_summary(log):
    df = frame(SUBJID=pd.Series(["s01-001", "S01-002", "Ｓ01-003"], dtype="category"))
    out = identity.normalise_identifiers("metastatic_sites", df, log)
    assert out.SUBJID.astype(object).tolist() == ["S01-001", "S01-002", "S01-003"]
    assert log.harmonisation().values.tolist() == [
        ["metastatic_sites", "SUBJID", "identifier normalised (case / width / whitespace)", 2]]


def test_I02_subject_not_in_screening_log():
    raw = {"screening_log": frame(SUBJID=["S01-001"]), "adverse_events": frame(SUBJID=["S01-001", "S09-999"])}
    with pytest.raises(DataError) as e:
        identity.check_subjects_in_screening_log(raw)
    assert message(e) == ("data/raw/adverse_events.csv, row 2, column SUBJID, value 'S09-999': rule I02 'subject in "
                          "screening log' failed: this subject id does not appear in screening_log.csv. What to do: "
                          f"correct the subject id at the site, or add the patient to the screening log; {RELOCK}.")


def test_I02_a_subject_id_blank_once_normalised():
    raw = {"screening_log": frame(SUBJID=["S01-001"]), "adverse_events": frame(SUBJID=["S01-001", None])}
    with pytest.raises(DataError) as e:
        identity.check_subjects_in_screening_log(raw)
    assert message(e).startswith("data/raw/adverse_events.csv, row 2, column SUBJID: rule I02 'subject in screening "
                                 "log' failed: the subject id is blank (white space only). What to do: ")


def screening(ids, cards, dates, sites):
    return frame(SUBJID=ids, ID_CARD_NO=cards, SCREENDT=[ts(d) for d in dates], SITEID=sites)


def test_I03_I04_link_on_the_normalised_card_never_on_an_empty_one(log):
    cards = identity.normalise_identifier(pd.Series(["11010519491231002x", "11010519491231002X", None, "", "2"]))
    scr = screening(["S01-001", "S02-001", "S03-001", "S04-001", "S05-001"], cards.astype(object),
                    ["2021-03-01", "2021-02-01", "2021-01-01", "2021-01-01", "2021-01-01"], [1, 2, 3, 4, 5])
    dup_of = identity.link_patient_records(scr, log)
    assert dup_of.to_dict() == {"S01-001": "S02-001"}          # S02-001 was screened first
    action = ("kept as a patient of its own (never linked on an empty ID-card number); site to complete the number "
              "and confirm the patient was not screened twice")
    assert queries(log) == [("screening_log", 3, "S03-001", "ID_CARD_NO", "I03", None, action),
                            ("screening_log", 4, "S04-001", "ID_CARD_NO", "I03", None, action)]


def test_I04_same_screening_date_keeps_the_lower_site(log):
    scr = screening(["S07-005", "S02-003"], ["X1", "X1"], ["2021-01-01", "2021-01-01"], [7, 2])
    assert identity.link_patient_records(scr, log).to_dict() == {"S07-005": "S02-003"}


def test_I05_every_conflicting_attribute_queried_with_the_value_kept(log):
    dm = frame(SUBJID=["S02-003", "S07-005"], BIRTH_DATE=[ts("1955-10-06"), ts("1965-10-06")],
               BIRTH_DATE_F=["", ""], SEX=["M", "F"], ECOG=[1, 1])
    bd = frame(SUBJID=["S02-003", "S07-005"], HISTOLOGY=["Squamous cell carcinoma"] * 2)
    scr = frame(SUBJID=["S02-003", "S07-005"])
    names = pd.Series(["LI LEI", "LI LEI"], index=["S02-003", "S07-005"])
    identity.query_conflicting_attributes(pd.Series({"S07-005": "S02-003"}), {"demographics": dm, "baseline_disease": bd,
                                                                       "screening_log": scr}, names, log)
    assert queries(log) == [
        ("demographics", 2, "S07-005", "BIRTH_DATE", "I05", "1965-10-06",
         "linked to S02-003 (same ID-card number): 1955-10-06 from S02-003 is kept (screened first); this record's "
         "value is not used; site to confirm"),
        ("demographics", 2, "S07-005", "SEX", "I05", "F",
         "linked to S02-003 (same ID-card number): M from S02-003 is kept (screened first); this record's value is "
         "not used; site to confirm")]


def test_I05_differing_names_queried_without_showing_them(log):
    empty = frame(SUBJID=["A", "B"])
    names = pd.Series(["WANG FANG", "ZHANG WEI"], index=["A", "B"])
    identity.query_conflicting_attributes(pd.Series({"B": "A"}), {"demographics": empty, "baseline_disease": empty,
                                                           "screening_log": empty}, names, log)
    assert queries(log) == [("screening_log", 2, "B", "PATIENT_NAME", "I05", None,
                             "linked to A (same ID-card number) but the names differ (not shown: direct identifier); "
                             "the record of A is kept (screened first); site to confirm this is one patient")]


def test_I06_rows_of_the_rejected_record_without_a_twin(log):
    ae = frame(SUBJID=["A", "B", "B"], AE_VERBATIM=["nausea", "恶心", "rash"], AEDECOD=["Nausea", "Nausea", "Rash"],
               START_DATE=[ts("2021-01-05")] * 3)
    identity.query_rows_only_in_rejected_record(pd.Series({"B": "A"}), {"adverse_events": ae}, log)
    assert queries(log) == [("adverse_events", 3, "B", "SUBJID", "I06", "B",
                             "no identical row under A: rejected with its record; site to confirm that no data are "
                             "lost")]


def test_I04_every_row_of_the_later_record_rejected(log):
    t = {"exposure": frame(SUBJID=["A", "B", "B"]), "follow_up": frame(SUBJID=["A"])}
    out = identity.reject_duplicate_patients(pd.Series({"B": "A"}), t, log)
    assert out["exposure"].SUBJID.tolist() == ["A"] and len(out["follow_up"]) == 1
    action = "row rejected: same patient (ID-card number) as A, screened first"
    assert queries(log) == [("exposure", 2, "B", "SUBJID", "I04", "B", action),
                            ("exposure", 3, "B", "SUBJID", "I04", "B", action)]
    assert log.rejected == {"exposure": 2}


def test_I07_one_row_per_subject():
    t = {"screening_log": frame(SUBJID=["A", "B"]), "demographics": frame(SUBJID=["A"]),
         "baseline_disease": frame(SUBJID=["A", "B"])}
    with pytest.raises(DataError) as e:
        identity.check_one_row_per_subject(t)
    assert message(e).startswith("data/raw/demographics.csv, column SUBJID, value 'B': rule I07 'one row per "
                                 "subject' failed: no row for B.")


# --- K01/K02 duplicates --------------------------------------------------------------------------------

def test_K01_exact_copy_of_a_raw_row_rejected(log):
    df = frame(SUBJID=["A", "A", "A"], MET_SITE=["Lung", "Liver", "Lung"])
    out = reject_exact_duplicate_rows("metastatic_sites", df, log)
    assert out.MET_SITE.tolist() == ["Lung", "Liver"]
    assert queries(log) == [("metastatic_sites", 3, "A", "SUBJID,MET_SITE", "K01", "copy of row 1",
                             "row rejected: identical to row 1 (the record counts once)")]


def test_K01_same_record_after_harmonisation_rejected(log):
    # the same course written 安罗替尼 and anlotinib: identical once mapped to the INN
    ex = frame(SUBJID=["A", "A", "A"], CYCLE=[1, 1, 2], DRUG=["anlotinib"] * 3, DOSE=[12.0, 12.0, 12.0])
    out = signal_duplicate_records("exposure", ex, log)
    assert out.SRC_ROW.tolist() == [1, 3]
    assert queries(log) == [("exposure", 2, "A", "SUBJID,CYCLE,DRUG", "K01", "copy of row 1",
                             "row rejected: same content as row 1 after harmonisation (the record counts once)")]


def test_K02_same_key_different_content_stops(log):
    ae = frame(SUBJID=["A", "A", "B"], AE_VERBATIM=["nausea", "nausea", "rash"],
               START_DATE=[ts("2021-01-05")] * 3, START_DATE_F=["", "", ""], CTCAE_GRADE=[2, 3, 1])
    with pytest.raises(DataError) as e:
        signal_duplicate_records("adverse_events", ae, log)
    assert message(e) == (
        "data/raw/adverse_events.csv, row 2, column SUBJID,AE_VERBATIM,START_DATE,START_DATE_F: rule K02 'unique key' "
        "failed: rows 1, 2 share the key ['A', 'nausea', '2021-01-05', ''] but differ in CTCAE_GRADE 2 vs 3. "
        f"What to do: keep one row per key at the site (merge or correct the key); {RELOCK}.")


def test_K02_message_shows_dates_and_numbers_as_written(log):
    ex = frame(SUBJID=["A", "A"], CYCLE=[1, 1], DRUG=["anlotinib"] * 2, DOSE=[12.0, 10.0],
               START_DATE=[ts("2021-01-05"), ts("2021-02-05")])
    with pytest.raises(DataError) as e:
        signal_duplicate_records("exposure", ex, log)
    assert "share the key ['A', '1', 'anlotinib'] but differ in DOSE 12 vs 10, START_DATE 2021-01-05 vs 2021-02-05. " \
        in message(e)


def test_K02_on_fail_query_keeps_the_rows(log):
    ex = frame(SUBJID=["A", "A"], CYCLE=[1, 1], DRUG=["anlotinib"] * 2, DOSE=[12.0, 10.0])
    out = signal_duplicate_records("exposure", ex, log, on_fail="query")
    assert len(out) == 2
    assert [q[4] for q in queries(log)] == ["K02", "K02"]


@pytest.mark.parametrize(("file", "column", "value", "rule", "detail"), [
    ("exposure", "CYCLE", "1234567890", "S03 'integer'", "more than 9 digits (not a count or a code)"),
    ("exposure", "CYCLE", "-99999999999999999999", "S03 'integer'", "more than 9 digits (not a count or a code)"),
    ("exposure", "DOSE", "1234567890123456", "S05 'number'",
     "more than 15 digits before the decimal point (no measurement has as many)"),
    ("exposure", "DOSE", "1234567890123456.5", "S05 'number'",
     "more than 15 digits before the decimal point (no measurement has as many)"),
    ("exposure", "DOSE", "12.5.1", "S05 'number'", "not a number"),
    ("exposure", "CYCLE", "1.0", "S03 'integer'", "not an integer"),
])
def test_S03_S05_values_the_numeric_parser_cannot_hold_stop_with_their_rule(file, column, value, rule, detail):
    from apec_sar.clean.schema import validate_raw
    df = read_raw(ROOT / "data" / "raw", file).astype(object)
    df.loc[4, column] = value
    with pytest.raises(DataError) as e:
        validate_raw(file, df)
    assert message(e).startswith(f"data/raw/{file}.csv, row 5, column {column}, value '{value}': rule {rule} failed: "
                                 f"{detail}. ")


def test_S03_S05_leading_zeros_and_long_decimals_are_numbers():
    from apec_sar.clean.schema import validate_raw
    df = read_raw(ROOT / "data" / "raw", "exposure").astype(object)
    df.loc[4, "CYCLE"] = "0000000000007"
    df.loc[4, "DOSE"] = "000000000000000012.000000000000000001"
    validate_raw("exposure", df)


def test_data_error_shows_the_start_of_a_long_value():
    e = DataError("exposure", 1, "DOSE", "number", "not a number", value="9" * 400, todo="fix it")
    assert str(e) == (f"data/raw/exposure.csv, row 1, column DOSE, value '{'9' * 60}'... (400 characters): rule S05 "
                      "'number' failed: not a number. What to do: fix it.")


# --- dates -----------------------------------------------------------------------------------------

def test_S08_invalid_calendar_date(log):
    df = frame(SUBJID=["A", "B"], START_DATE=["2021-02-30", "2021-03-01"])
    with pytest.raises(DataError) as e:
        H.parse_site_dates("adverse_events", df, "START_DATE", log)
    assert message(e).startswith("data/raw/adverse_events.csv, row 1, column START_DATE, value '2021-02-30': rule S08")


def test_S09_partial_date_where_a_complete_one_is_required(log):
    df = frame(SUBJID=["A"], START_DATE=["2021-03"])
    with pytest.raises(DataError) as e:
        H.parse_site_dates("exposure", df, "START_DATE", log, complete=True)
    assert "rule S09 'complete date' failed: partial; this date must be complete." in message(e)


def test_D02_after_the_extract_stop(log):
    df = frame(SUBJID=["A", "B"], ASSESS_DATE=["2023-12-31", "2099-01-05"])
    days, prec = D.parse(df.ASSESS_DATE)
    with pytest.raises(DataError) as e:
        H.check_dates_not_after_extract("tumour_assessments", df, "ASSESS_DATE", days, prec, log, "stop",
                                        extract=day("2023-12-31"))
    assert message(e) == (
        "data/raw/tumour_assessments.csv, row 2, column ASSESS_DATE, value '2099-01-05': rule D02 'date after the "
        "extract' failed: after the extract date 2023-12-31 (data/data_dictionary.yml, extract.date). What to do: "
        f"correct the date at the site; {RELOCK}.")


def test_D02_after_the_extract_set_missing_or_rejected(log):
    df = frame(SUBJID=["A", "B", "C"], START_DATE=["2099-01", "2021-01-01", "2024-01-01"])
    days, prec = D.parse(df.START_DATE)
    d2, p2, rej = H.check_dates_not_after_extract("adverse_events", df, "START_DATE", days, prec, log,
                                                  ["missing", "missing", "reject"], "onset unknown",
                                                  extract=day("2023-12-31"))
    assert d2.tolist() == [D.MISSING, day("2021-01-01"), day("2024-01-01")]
    assert p2.tolist() == [D.EMPTY, D.FULL, D.FULL]
    assert rej.tolist() == [False, False, True]
    assert queries(log) == [("adverse_events", 1, "A", "START_DATE", "D02", "2099-01",
                             "set to missing: after the extract date 2023-12-31; onset unknown")]


def test_D01_imputation_worded_from_the_bounds(log):
    df = frame(SUBJID=["A", "B"], START_DATE=["2021-03", "2021-04-02"])
    days, prec = D.parse(df.START_DATE)
    out, flag = H.impute_partial_dates("adverse_events", df, "START_DATE", days, prec, log, "first",
                                       min_dates={"the first dose": np.array([day("2021-03-10"), D.MISSING])},
                                       max_dates={"death": np.array([D.MISSING, D.MISSING])})
    assert D.iso(out).tolist() == ["2021-03-10", "2021-04-02"] and flag.tolist() == ["D", ""]
    assert queries(log) == [("adverse_events", 1, "A", "START_DATE", "D01", "2021-03",
                             "imputed first possible day, not before the first dose nor after death: 2021-03-10 "
                             "(flag D)")]


def test_D03_record_before_birth_stops():
    tables = {f: frame(SUBJID=["A"], **{c: [pd.NaT] for c in cols}) for f, cols in P.EVENT_DATES.items()}
    tables["demographics"] = frame(SUBJID=["A"], BIRTH_DATE=[ts("1950-06-01")])
    tables["exposure"] = frame(SUBJID=["A", "A"], START_DATE=[ts("2021-01-01"), ts("1939-01-15")],
                               END_DATE=[pd.NaT, pd.NaT])
    raw = {"exposure": frame(START_DATE=["44197", "14260"])}
    with pytest.raises(DataError) as e:
        P.check_dates_not_before_birth(tables, raw)
    assert message(e) == (
        "data/raw/exposure.csv, row 2, column START_DATE, value '14260': rule D03 'date before birth' failed: "
        "1939-01-15 is before the birth date 1950-06-01 of A (demographics). What to do: check both dates at the site "
        f"(the event date or the birth date is wrong); {RELOCK}.")


def test_D04_ae_end_before_start(log):
    df = frame(SUBJID=["A", "B"], END_DATE=["2021-01-01", "2021-02"])
    s, sp = D.parse(pd.Series(["2021-01-05", "2021-02-20"]))
    e, ep = D.parse(df.END_DATE)
    bad = H.query_ae_end_before_start(df, s, sp, e, ep, log)
    assert bad.tolist() == [0]                                  # a partial end is not compared
    assert queries(log) == [("adverse_events", 1, "A", "END_DATE", "D04", "2021-01-01",
                             "end date before start date: end set to missing")]


def fu_frame(subj, status, contact, death):
    df = frame(SUBJID=subj, STATUS=status, CONTACT_DATE=contact, DEATH_DATE=death)
    c, _ = D.parse(df.CONTACT_DATE)
    d, p = D.parse(df.DEATH_DATE)
    return df.assign(_CONTACT=c, _DEATH=d, _DEATH_P=p)


def test_C01_one_death_per_subject():
    fu = fu_frame(["A", "A", "B"], ["DEAD", "DEAD", "DEAD"], ["2021-05-01", "2021-06-01", "2021-01-01"],
                  ["2021-05-01", "2021-06-01", "2021-01-01"])
    with pytest.raises(DataError) as e:
        H.check_one_death_per_subject(fu)
    assert message(e).startswith("data/raw/follow_up.csv, row 2, column STATUS, value 'DEAD': rule C01 'one death "
                                 "per subject' failed: A has DEAD rows 1, 2.")


def test_D04_alive_contact_after_death_rejected_partial_death_by_its_last_day(log):
    fu = fu_frame(["A", "A", "A", "B"], ["ALIVE", "DEAD", "ALIVE", "ALIVE"],
                  ["2021-05-20", "2021-06-01", "2021-06-02", "2021-07-01"], [None, "2021-05", None, None])
    out = H.reject_contacts_after_death(fu, log)
    assert out.SRC_ROW.tolist() == [1, 2, 4]
    assert queries(log) == [("follow_up", 3, "A", "CONTACT_DATE", "D04", "2021-06-02",
                             "row rejected: ALIVE contact after the date of death")]


def test_D05_death_before_first_dose():
    fu = frame(SUBJID=["A"], STATUS=["DEAD"], DEATH_DATE=[ts("2020-12-31")])
    trt = pd.DataFrame({"TRTSDT": [ts("2021-01-01")]}, index=["A"])
    with pytest.raises(DataError) as e:
        C.check_death_not_before_first_dose(fu, trt)
    assert "rule D05 'death on/after first dose' failed: death 2020-12-31 before the first study dose 2021-01-01." \
        in message(e)


# --- plausibility ------------------------------------------------------------------------------------

def test_P01_out_of_range_set_missing(log):
    df = frame(SUBJID=["A", "B"], HEIGHT_CM=["17", "170"])
    got = H.numbers("demographics", df, "HEIGHT_CM", log, (120, 210))
    assert np.isnan(got[0]) and got[1] == 170
    assert queries(log) == [("demographics", 1, "A", "HEIGHT_CM", "P01", "17",
                             "set to missing (allowed 120-210); site to confirm")]


def test_P02_implausible_age_queried_and_kept(log):
    scr = frame(SUBJID=["A", "B", "C", "D"], SCREENDT=[ts("2021-01-01")] * 4)
    dm = frame(SUBJID=["A", "B", "C", "D"],
               BIRTH_DATE=[ts("1900-01-01"), ts("2005-06-01"), ts("1950-01-01"), ts("2002-12-31")])
    trt = pd.DataFrame({"TRTSDT": [ts("2021-02-01"), ts("2021-02-01")]}, index=["A", "B"])
    P.query_implausible_age(scr, dm, trt, log)
    assert queries(log) == [
        ("demographics", 1, "A", "BIRTH_DATE", "P02", "1900-01-01",
         "kept as collected: age 121 at the first dose (plausible 18-100); the patient stays in the analysis; site to "
         "confirm the birth date"),
        ("demographics", 2, "B", "BIRTH_DATE", "P02", "2005-06-01",
         "kept as collected: age 15 at the first dose (plausible 18-100); fails inclusion 1 (aged 18 or older): "
         "excluded in the CONSORT flow; site to confirm the birth date")]           # D is 18 at screening


def test_completed_years():
    got = P.completed_years(pd.Series([ts("2000-03-01"), ts("2000-03-01")]), pd.Series([ts("2018-02-28"),
                                                                                      ts("2018-03-01")]))
    assert got.tolist() == [17, 18]


def test_P03_series_outliers(log):
    d = [ts(x) for x in ("2021-01-01", "2021-02-15", "2021-04-01", "2021-05-15")]
    ta = frame(SUBJID=["A"] * 4 + ["B"] * 3 + ["C"] * 2 + ["D"] * 3,
               ASSESS_DATE=d + d[:3] + d[:2] + d[:3],
               TARGET_SUM_MM=[50, 500, 45, 40,        # A: a decimal shift in the middle
                              1000, 100, 90,          # B: at baseline (one neighbour)
                              50, 500,                # C: two values, no judgement
                              40, 0, 0.0])            # D: CR (zeros are not compared)
    out = P.query_series_outliers(ta, log)
    assert out.TARGET_SUM_MM.isna().tolist() == [False, True, False, False, True] + [False] * 7
    assert queries(log) == [
        ("tumour_assessments", 2, "A", "TARGET_SUM_MM", "P03", "500",
         "set to missing: at least 5 times, or at most a fifth of, each neighbouring value (previous/next 50/45); "
         "site to confirm"),
        ("tumour_assessments", 5, "B", "TARGET_SUM_MM", "P03", "1000",
         "set to missing: at least 5 times, or at most a fifth of, each neighbouring value (previous/next -/100); "
         "site to confirm")]


def test_P04_dose_outside_the_prescribed_range(log):
    df = frame(SUBJID=["A", "A", "B"], DOSE=["120", "8", "2000"])
    dose = P.query_dose_outside_prescribed("exposure", df, np.array(["anlotinib", "anlotinib", "camrelizumab"]),
                                           np.array([120.0, 8.0, 2000.0]), log,
                                           prescribed={"anlotinib": [8, 10, 12], "camrelizumab": [200]})
    assert np.isnan(dose[0]) and dose[1] == 8 and np.isnan(dose[2])
    assert [q[4:] for q in queries(log)] == [
        ("P04", "120", "set to missing: anlotinib is prescribed at 8/10/12 mg (plausible 4-18); the course counts in "
                       "days on drug, not in the cumulative dose; site to confirm"),
        ("P04", "2000", "set to missing: camrelizumab is prescribed at 200 mg (plausible 100-300); the course counts "
                        "in days on drug, not in the cumulative dose; site to confirm")]


def test_P04_undeclared_drug_stops(log):
    df = frame(SUBJID=["A"], DOSE=["3"])
    with pytest.raises(DataError) as e:
        P.query_dose_outside_prescribed("exposure", df, np.array(["atezolizumab"]), np.array([3.0]), log,
                                        prescribed={"anlotinib": [12]})
    assert "no prescribed dose declared for atezolizumab" in message(e)


def test_P05_missing_value(log):
    df = frame(SUBJID=["A", "B"], SMOKING=[None, "Y"])
    H.query_missing_values("demographics", df, ["SMOKING"], log)
    assert queries(log) == [("demographics", 1, "A", "SMOKING", "P05", None, "kept missing; site to complete")]


# --- cross-domain consistency ----------------------------------------------------------------------------

DEATH = pd.Series({"D": ts("2021-06-01")})


def ae_frame(**kw):
    n = len(kw["SUBJID"])
    base = dict(START_DATE=[ts("2021-02-01")] * n, END_DATE=[ts("2021-02-20")] * n, CTCAE_GRADE=[1] * n,
                OUTCOME=["Recovered/resolved"] * n, ACTION_TAKEN=["None"] * n)
    base.update(kw)
    return frame(**base)


def ex_frame(**kw):
    n = len(kw["SUBJID"])
    base = dict(CYCLE=list(range(1, n + 1)), DRUG_CLASS=["ANLOTINIB"] * n, START_DATE=[ts("2021-01-01")] * n,
                END_DATE=[pd.NaT] * n, DOSE=[12.0] * n, DOSE_CHANGE=[None] * n, EOT_REASON=[None] * n)
    base.update(kw)
    return frame(**base)


def test_C02_grade_5_for_a_patient_alive_stops():
    ae = ae_frame(SUBJID=["D", "A"], CTCAE_GRADE=[5, 5], OUTCOME=["Fatal", "Recovered/resolved"])
    with pytest.raises(DataError) as e:
        C.check_fatal_ae_has_death(ae, DEATH)
    assert message(e) == (
        "data/raw/adverse_events.csv, row 2, column CTCAE_GRADE, value 5: rule C02 'fatal AE without a death' failed: "
        "grade 5 (death) for A, who has no death in follow_up.csv. What to do: correct the grade/outcome, or add the "
        f"death to the follow-up log; {RELOCK}.")


def test_C03_fatal_coding_mismatch_queried(log):
    ae = ae_frame(SUBJID=["D", "D"], CTCAE_GRADE=[5, 3], OUTCOME=["Not recovered/not resolved", "Fatal"])
    C.query_fatal_ae_coding(ae, log)
    assert [q[:5] for q in queries(log)] == [("adverse_events", 1, "D", "OUTCOME", "C03"),
                                             ("adverse_events", 2, "D", "CTCAE_GRADE", "C03")]


def test_C04_ae_death_without_a_fatal_ae(log):
    fu = frame(SUBJID=["D"], STATUS=["DEAD"], DEATH_CAUSE=["Adverse event"])
    C.query_ae_death_without_fatal_ae(fu, ae_frame(SUBJID=["D"]), log)
    assert queries(log) == [("follow_up", 1, "D", "DEATH_CAUSE", "C04", "Adverse event",
                             "kept as collected: death attributed to an AE with no grade 5 or fatal AE recorded; site "
                             "to add the AE")]


def test_C18_unexplained_death_soon_after_the_last_dose(log):
    fu = frame(SUBJID=["A", "B", "C", "D"], STATUS=["DEAD"] * 4,
               DEATH_CAUSE=["Other / unknown", "Progressive disease", "Other / unknown", None],
               DEATH_DATE=[ts("2021-03-20"), ts("2021-03-20"), ts("2021-05-01"), ts("2021-03-31")])
    trt = pd.DataFrame({"TRTEDT": [ts("2021-03-01")] * 4}, index=pd.Index(["A", "B", "C", "D"], name="SUBJID"))
    C.query_unexplained_death_after_treatment(fu, ae_frame(SUBJID=["X"]), trt, log)
    # A: 19 days, other cause; B: progression; C: 61 days; D: 30 days, no cause recorded
    assert [(q[2], q[4]) for q in queries(log)] == [("A", "C18"), ("D", "C18")]
    assert queries(log)[0][6].startswith("kept as collected: death 19 days after the last study dose")
    log2 = type(log)()
    C.query_unexplained_death_after_treatment(fu, ae_frame(SUBJID=["A"], CTCAE_GRADE=[5], OUTCOME=["Fatal"]), trt, log2)
    assert [q[2] for q in queries(log2)] == ["D"]          # A has a fatal AE: nothing to ask


def test_C05_study_drug_after_death_stops_ae_after_death_queried(log):
    ta = frame(SUBJID=["D"], ASSESS_DATE=[ts("2021-05-01")])
    ae = ae_frame(SUBJID=["D"], START_DATE=[ts("2021-06-03")])
    C.check_records_after_death(ex_frame(SUBJID=["D"]), ta, ae, DEATH, log)
    assert queries(log) == [("adverse_events", 1, "D", "START_DATE", "C05", "2021-06-03",
                             "kept as collected: onset after the date of death 2021-06-01; site to confirm")]
    with pytest.raises(DataError) as e:
        C.check_records_after_death(ex_frame(SUBJID=["D", "D"], START_DATE=[ts("2021-05-01"), ts("2021-06-02")]),
                                    ta, ae, DEATH, log)
    assert "row 2, column START_DATE, value '2021-06-02': rule C05 'record after death' failed: study drug after " \
           "the date of death 2021-06-01." in message(e)


def test_C06_C07_ae_dose_reduction_and_exposure_reduction_matched_within_30_days(log):
    ae = ae_frame(SUBJID=["A", "B", "C"], ACTION_TAKEN=["Dose reduced"] * 3,
                  START_DATE=[ts("2021-02-01")] * 3, END_DATE=[ts("2021-02-20"), ts("2021-02-20"), pd.NaT])
    ex = ex_frame(SUBJID=["A", "B", "C", "E"], DOSE_CHANGE=["Reduced"] * 4,
                  START_DATE=[ts("2021-03-22"), ts("2021-03-23"), ts("2022-01-01"), ts("2021-03-01")])
    C.query_ae_dose_reduction_not_in_exposure(ae, ex, log)
    C.query_dose_reduction_without_ae(ex, ae, log)
    assert [q[:5] for q in queries(log)] == [("adverse_events", 2, "B", "ACTION_TAKEN", "C06"),
                                             ("exposure", 2, "B", "DOSE_CHANGE", "C07"),
                                             ("exposure", 4, "E", "DOSE_CHANGE", "C07")]


def test_C19_C20_ae_interruption_and_interrupted_course_matched_within_30_days(log):
    ae = ae_frame(SUBJID=["A", "B"], ACTION_TAKEN=["Drug interrupted", "Drug interrupted"],
                  START_DATE=[ts("2021-02-01")] * 2, END_DATE=[ts("2021-02-20")] * 2)
    ex = ex_frame(SUBJID=["A", "B", "E"], DOSE_CHANGE=["Interrupted", "Reduced", "Interrupted"],
                  START_DATE=[ts("2021-02-10"), ts("2021-02-10"), ts("2021-03-01")])
    C.query_ae_interruption_not_in_exposure(ae, ex, log)
    C.query_interruption_without_ae(ex, ae, log)
    # A matched; B's AE has no interrupted course (its course is a reduction); E's course has no AE
    assert [q[:5] for q in queries(log)] == [("adverse_events", 2, "B", "ACTION_TAKEN", "C19"),
                                             ("exposure", 3, "E", "DOSE_CHANGE", "C20")]
    assert queries(log)[0][6] == ("kept as collected: no interrupted administration from the AE onset to 30 days "
                                  "after it ends; site to confirm")


def test_C08_dose_change_flag(log):
    ex = ex_frame(SUBJID=["A"] * 4, DOSE=[12.0, 10.0, 10.0, 8.0], DOSE_CHANGE=[None, None, "Reduced", "Reduced"],
                  START_DATE=[ts("2021-01-01"), ts("2021-01-22"), ts("2021-02-12"), ts("2021-03-05")])
    C.query_dose_change_flag(ex, log)
    assert queries(log) == [
        ("exposure", 2, "A", "DOSE", "C08", "10",
         "kept as collected: lower than the previous course (12 mg) but not marked 'Reduced'; site to confirm"),
        ("exposure", 3, "A", "DOSE_CHANGE", "C08", "Reduced",
         "kept as collected: marked 'Reduced' but not lower than the previous course (10 mg); site to confirm")]


def test_C09_C10_C11_end_of_treatment_reasons(log):
    ex = ex_frame(SUBJID=["A", "A", "B", "C"], EOT_REASON=["Toxicity", "Toxicity", "Death", "Progressive disease"])
    C.query_eot_toxicity_without_ae(ex, ae_frame(SUBJID=["A"]), log)
    C.query_eot_death_without_death(ex, DEATH, log)
    C.query_eot_progression_without_pd(ex, frame(SUBJID=["C"], INV_RESPONSE=["SD"]), log)
    assert [q[:5] for q in queries(log)] == [("exposure", 1, "A", "EOT_REASON", "C09"),
                                             ("exposure", 3, "B", "EOT_REASON", "C10"),
                                             ("exposure", 4, "C", "EOT_REASON", "C11")]


def test_C09_withdrawal_ae_satisfies_eot_toxicity(log):
    ex = ex_frame(SUBJID=["A"], EOT_REASON=["Toxicity"])
    C.query_eot_toxicity_without_ae(ex, ae_frame(SUBJID=["A"], ACTION_TAKEN=["Drug withdrawn"]), log)
    assert queries(log) == []


def test_C12_withdrawal_while_dosing_continues(log):
    ae = ae_frame(SUBJID=["A", "B"], ACTION_TAKEN=["Drug withdrawn"] * 2, START_DATE=[ts("2021-02-01")] * 2)
    ex = ex_frame(SUBJID=["A", "B"], START_DATE=[ts("2021-03-03"), ts("2021-03-04")])
    C.query_withdrawal_while_dosing(ae, ex, log)
    assert [q[:5] for q in queries(log)] == [("adverse_events", 2, "B", "ACTION_TAKEN", "C12")]


def test_C13_progression_before_the_first_dose_stops(log):
    ta = frame(SUBJID=["A", "A"], VISIT=["Baseline", "Week 6"], ASSESS_DATE=[ts("2020-12-20"), ts("2020-12-25")],
               INV_RESPONSE=[None, "PD"])
    trt = pd.DataFrame({"TRTSDT": [ts("2021-01-01")]}, index=["A"])
    with pytest.raises(DataError) as e:
        C.check_assessments_after_treatment_start(ta, trt, log)
    assert message(e).startswith(
        "data/raw/tumour_assessments.csv, row 2, column ASSESS_DATE, value '2020-12-25': rule C13 'progression before "
        "treatment' failed: PD at Week 6 before the first dose 2021-01-01 or the baseline scan 2020-12-20: the "
        "derivation would drop it.")


def test_C14_other_early_assessments_queried(log):
    ta = frame(SUBJID=["A", "A", "B", "B"], VISIT=["Baseline", "Week 6", "Baseline", "Week 6"],
               ASSESS_DATE=[ts("2020-12-20"), ts("2020-12-25"), ts("2021-01-03"), ts("2021-02-15")],
               INV_RESPONSE=[None, "SD", None, "SD"])
    trt = pd.DataFrame({"TRTSDT": [ts("2021-01-01"), ts("2021-01-01")]}, index=["A", "B"])
    C.check_assessments_after_treatment_start(ta, trt, log)
    assert queries(log) == [
        ("tumour_assessments", 2, "A", "ASSESS_DATE", "C14", "2020-12-25",
         "kept: post-baseline visit before the first dose, not used for response or PFS (ANL01FL not set); site to "
         "confirm the date"),
        ("tumour_assessments", 3, "B", "ASSESS_DATE", "C14", "2021-01-03",
         "kept as baseline: the baseline scan is after the first dose; site to confirm the date")]


def test_C15_new_therapy_during_study_treatment(log):
    sub = frame(SUBJID=["A", "B"], START_DATE=[ts("2021-03-01"), ts("2021-03-02")])
    trt = pd.DataFrame({"TRTEDT": [ts("2021-03-01"), ts("2021-03-01")]}, index=["A", "B"])
    C.query_new_therapy_during_treatment(sub, trt, log)
    assert [q[:5] for q in queries(log)] == [("subsequent_therapy", 1, "A", "START_DATE", "C15")]


def test_C16_study_drug_before_diagnosis():
    bd = frame(SUBJID=["A"], DIAGNOSIS_DATE=[ts("2021-02-01")])
    with pytest.raises(DataError) as e:
        C.check_study_drug_not_before_diagnosis(ex_frame(SUBJID=["A"]), bd)
    assert "rule C16 'study drug before diagnosis' failed: the study drug starts before the diagnosis date " \
           "2021-02-01 (baseline_disease)." in message(e)


def test_C17_extra_baseline_scans(log):
    ta = frame(SUBJID=["A", "A", "A"], VISIT=["Baseline", "Baseline", "Week 6"],
               ASSESS_DATE=[ts("2020-12-20"), ts("2020-12-10"), ts("2021-02-01")])
    C.query_extra_baseline_scans(ta, log)
    assert [q[:5] for q in queries(log)] == [("tumour_assessments", 2, "A", "ASSESS_DATE", "C17")]


def test_X01_X02_missing_domains_named_with_row_0(log):
    scr = frame(SUBJID=["A", "B", "C"])
    ex = ex_frame(SUBJID=["A", "C"])
    ta = frame(SUBJID=["A"], VISIT=["Baseline"])
    C.query_patients_without_exposure(scr, ex, log)
    C.query_patients_without_tumour_assessment(ex, ta, log)
    assert [q[:5] for q in queries(log)] == [("exposure", 0, "B", "SUBJID", "X01"),
                                             ("tumour_assessments", 0, "A", "SUBJID", "X02"),
                                             ("tumour_assessments", 0, "C", "SUBJID", "X02"),
                                             ("tumour_assessments", 0, "C", "SUBJID", "X02")]


# --- the validated reader ---------------------------------------------------------------------------------

def write(folder, name: str, data: bytes):
    folder.mkdir(exist_ok=True)
    (folder / f"{name}.csv").write_bytes(data)
    return folder


def test_F09_bom_quotes_spaces_and_blank_lines_harmonised(tmp_path, log):
    d = write(tmp_path, "metastatic_sites",
              b'\xef\xbb\xbf"SUBJID","MET_SITE "\r\nS01-001,Lung\r\n\r\n"S01-002",Liver\r\n')
    df = read_raw(d, "metastatic_sites", log)
    assert df.SRC_ROW.tolist() == [1, 3]                     # the blank line keeps its number
    assert df.SUBJID.astype(object).tolist() == ["S01-001", "S01-002"]
    assert df.MET_SITE.astype(object).tolist() == ["Lung", "Liver"]
    assert log.harmonisation().values.tolist() == [
        ["metastatic_sites", "(header)", "column names unquoted / trimmed", 3],
        ["metastatic_sites", "(file)", "UTF-8 byte-order mark removed", 1],
        ["metastatic_sites", "(file)", "blank lines skipped", 1]]


def test_F02_gb18030_named_with_the_encodings_tried(tmp_path):
    d = write(tmp_path, "metastatic_sites", "SUBJID,MET_SITE\nS01-001,肺\n".encode("gb18030"))
    with pytest.raises(DataError) as e:
        read_raw(d, "metastatic_sites")
    assert message(e) == (
        "data/raw/metastatic_sites.csv, row 1, column MET_SITE, value b'\\xb7\\xce': rule F02 'encoding' failed: not "
        "valid UTF-8 (byte 9 of the line); encodings tried: UTF-8 (fails), GB18030 (decodes: the file looks like a "
        "GB18030/GBK export of a Chinese hospital system; it is not converted automatically). What to do: re-export "
        "the file as UTF-8 (Excel: Save As 'CSV UTF-8'; or iconv -f GB18030 -t UTF-8), replace it in data/raw and "
        "re-lock the extract (make relock).")


def test_F02_utf16(tmp_path):
    d = write(tmp_path, "metastatic_sites", "SUBJID,MET_SITE\nS01-001,Lung\n".encode("utf-16"))
    with pytest.raises(DataError) as e:
        read_raw(d, "metastatic_sites")
    assert "the file is UTF-16" in message(e)


def test_F03_semicolon_delimiter(tmp_path):
    d = write(tmp_path, "metastatic_sites", b"SUBJID;MET_SITE\nS01-001;Lung\n")
    with pytest.raises(DataError) as e:
        read_raw(d, "metastatic_sites")
    assert "rule F03 'CSV dialect' failed: the header is separated by ';', not by commas (2 names split by ';')" \
        in message(e)


def test_F04_decimal_comma_named_with_its_row_and_column(tmp_path):
    rows = ["SUBJID,LAB_DATE,LAB_TEST,RESULT,UNIT", "S01-001,2021-01-01,WBC,4.5,10^9/L",
            "S01-001,2021-01-01,HGB,12,5,g/dL"]
    d = write(tmp_path, "baseline_labs", ("\n".join(rows) + "\n").encode())
    with pytest.raises(DataError) as e:
        read_raw(d, "baseline_labs")
    assert message(e).startswith(
        "data/raw/baseline_labs.csv, row 2, column RESULT, value '12,5': rule F04 'field count' failed: the row has 6 "
        "fields, the header 5; the value looks like a decimal comma.")


def test_F04_quoted_comma_is_not_a_field(tmp_path):
    d = write(tmp_path, "metastatic_sites", b'SUBJID,MET_SITE\nS01-001,"Lung, left"\n')
    assert read_raw(d, "metastatic_sites").MET_SITE.astype(object).tolist() == ["Lung, left"]


def test_F01_missing_file_names_a_near_match(tmp_path):
    d = write(tmp_path, "Metastatic_sites", b"SUBJID,MET_SITE\n")
    with pytest.raises(DataError) as e:
        read_raw(d, "metastatic_sites")
    assert f"{d}/metastatic_sites.csv does not exist (found instead: Metastatic_sites.csv)" in message(e)


def test_F06_missing_column_names_the_near_match(tmp_path):
    d = write(tmp_path, "metastatic_sites", b"subjid,MET_SITE\nS01-001,Lung\n")
    with pytest.raises(DataError) as e:
        read_raw(d, "metastatic_sites")
    assert "column SUBJID missing from the header (the header has 'subjid'; names are matched exactly)" in message(e)


def test_I08_possible_duplicate_with_another_id_card_number(log):
    scr = frame(SUBJID=["A", "B", "C"], SCREENDT=[ts("2021-01-01"), ts("2021-02-01"), ts("2021-03-01")],
                SITEID=[1, 2, 3])
    dm = frame(SUBJID=["A", "B", "C"], BIRTH_DATE=[ts("1950-01-01")] * 3, SEX=["M", "M", "F"])
    names = pd.Series(["LI LEI"] * 3, index=["A", "B", "C"])
    identity.query_possible_duplicates(scr, dm, names, pd.Series(dtype=object), log)
    assert queries(log) == [("screening_log", 2, "B", "ID_CARD_NO", "I08", None,
                             "kept as a patient of its own: same name, birth date and sex as A but another ID-card "
                             "number (not shown); site to confirm whether one number is mistyped")]


# --- the data-handling appendix ---------------------------------------------------------------------------

def test_queries_grouped_by_rule_in_registry_order(log):
    log.add("follow_up", [3], ["S01-002"], "DEATH_DATE", "partial date", ["2021-05"], "imputed")
    log.add("screening_log", [5, 6], ["S02-001", "S02-001"], "SUBJID", "duplicate patient", ["x", "x"], "rejected")
    log.add("exposure", [9], ["S02-001"], "SUBJID", "duplicate patient", ["x"], "rejected")
    from apec_sar.reports.cleaning import queries_by_rule
    got = queries_by_rule(log.frame())
    assert got.values.tolist() == [
        ["I04", "duplicate patient", 3, 1, "exposure, screening_log",
         "the record screened first is kept (the patient's original enrolment); every row of the later record is "
         "rejected, one query per row"],
        ["D01", "partial date", 1, 1, "follow_up",
         "imputed by the stated rule (admiral derive_vars_dt), flagged in <COL>_F"]]


def test_checks_table_states_what_to_do_for_stops():
    from apec_sar.reports.cleaning import checks_table
    t = checks_table().set_index("CHECK")
    assert t.loc["D03", "ACTION"] == ("the run stops; to fix: check both dates at the site (the event date or the "
                                      f"birth date is wrong); {RELOCK}")
    assert t.loc["P03", "OUTCOME"] == "query"


def test_parsed_dates_are_the_same_from_the_per_process_cache(monkeypatch):
    """Each distinct date string is parsed once per process; a second parse reads the cache
    (day and precision packed in one integer): the same days and precisions, hand-typed here."""
    monkeypatch.setattr(D, "_PARSED", {})
    values = pd.Series(["2021-03-05", "1969-12-31", "1900-01-01", "2021年3月", "2021", "44260",
                        "2021-02-30", "abc", None, "  "], dtype=object)
    want_days = [18691, -1, -25567, 18687, 18628, 18691, int(D.MISSING), int(D.MISSING), int(D.MISSING),
                 int(D.MISSING)]
    want_prec = [D.FULL, D.FULL, D.FULL, D.MONTH, D.YEAR, D.FULL, D.INVALID, D.INVALID, D.EMPTY, D.EMPTY]
    for _ in range(2):                                   # cold cache, then warm
        days, prec = D.parse(values)
        assert days.tolist() == want_days and prec.tolist() == want_prec
        assert days.dtype == np.int64 and prec.dtype == np.int8
    assert len(D._PARSED) == 9                           # the distinct strings (blank "  " too)
