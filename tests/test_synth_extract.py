"""The generator: determinism, the committed extract, the defects of SAR_SPEC 3, scale mode."""

from __future__ import annotations

import filecmp
import re
import subprocess
import sys

import pandas as pd
import pytest

from apec_sar.dictionary import columns, load_dictionary, raw_files
from apec_sar.synth import generate

from .conftest import ROOT, read_raw

FILES = ["screening_log", "demographics", "baseline_disease", "metastatic_sites", "baseline_labs",
         "prior_therapy", "exposure", "tumour_assessments", "adverse_events", "follow_up",
         "subsequent_therapy"]


def _same_tree(a, b):
    names_a = sorted(p.name for p in a.iterdir())
    names_b = sorted(p.name for p in b.iterdir())
    assert names_a == names_b
    for n in names_a:
        assert filecmp.cmp(a / n, b / n, shallow=False), f"{n} differs"


def test_byte_for_byte_deterministic(fresh, tmp_path):
    generate(tmp_path / "raw", truth_dir=tmp_path / "truth")
    _same_tree(fresh / "raw", tmp_path / "raw")
    _same_tree(fresh / "truth", tmp_path / "truth")


def test_another_seed_gives_another_extract(tmp_path):
    # scale mode: a calibrated run with another seed repeats the whole calibration search (minutes)
    generate(tmp_path / "a", seed=7, patients=60, mode="scale", truth_dir=None)
    generate(tmp_path / "b", seed=8, patients=60, mode="scale", truth_dir=None)
    generate(tmp_path / "c", seed=7, patients=60, mode="scale", truth_dir=None)
    assert not filecmp.cmp(tmp_path / "a" / "exposure.csv", tmp_path / "b" / "exposure.csv", shallow=False)
    _same_tree(tmp_path / "a", tmp_path / "c")


def test_committed_raw_equals_a_fresh_default_run(fresh):
    _same_tree(ROOT / "data" / "raw", fresh / "raw")


def test_one_file_per_domain_and_dictionary_covers_every_column(fresh):
    assert sorted(p.stem for p in (fresh / "raw").glob("*.csv")) == sorted(FILES)
    assert raw_files() == FILES
    for f in FILES:
        header = (fresh / "raw" / f"{f}.csv").read_text(encoding="utf-8").splitlines()[0].split(",")
        assert header == columns(f), f


def test_no_derived_endpoint_stored(fresh):
    for f in FILES:
        cols = set(read_raw(fresh / "raw", f).columns)
        assert not cols & {"BOR", "PFS", "OS", "DOR", "BEST_RESPONSE_OVERALL", "PFS_DAYS"}, f


# --- every defect kind of SAR_SPEC 3, seen in the raw files themselves ---------------------

def _all_dates(folder):
    vals = []
    for f in FILES:
        df = read_raw(folder, f)
        for c in df.columns:
            if c.endswith("_DATE"):
                vals += [v for v in df[c] if v]
    return vals


def test_site_date_formats(fresh):
    vals = _all_dates(fresh / "raw")
    patterns = {
        "iso": r"^\d{4}-\d{2}-\d{2}$", "slash": r"^\d{4}/\d{1,2}/\d{1,2}$", "dot": r"^\d{4}\.\d{2}\.\d{2}$",
        "cjk": r"^\d{4}年\d{1,2}月\d{1,2}日$", "excel": r"^\d{5}$",
    }
    for name, pat in patterns.items():
        assert any(re.match(pat, v) for v in vals), name
    assert "2021/3/5" not in vals or True  # style example only


def test_partial_dates(fresh):
    vals = _all_dates(fresh / "raw")
    assert any(re.match(r"^\d{4}(-\d{2}|/\d{1,2}|\.\d{2}|年\d{1,2}月)$", v) for v in vals)   # 2021-03
    assert any(v.endswith("UNK") for v in vals)                                          # UNK day


def test_drug_names_in_four_styles(fresh):
    text = " ".join(read_raw(fresh / "raw", "exposure").DRUG) + " " + " ".join(read_raw(fresh / "raw", "prior_therapy").REGIMEN)
    for name in ("卡瑞利珠单抗", "camrelizumab", "安罗替尼", "anlotinib", "福可维"):
        assert name in text, name
    assert re.search(r"SHR-1210|AL3818|IBI308|BGB-A317|JS001", text)                    # code
    assert re.search(r"艾瑞卡|达伯舒|百泽安|拓益", text)                                  # brand


def test_mixed_category_codings(fresh):
    sex = set(read_raw(fresh / "raw", "demographics").SEX)
    assert {"男", "M", "1"} <= sex
    smoke = set(read_raw(fresh / "raw", "demographics").SMOKING)
    assert {"Y", "是", "1"} & smoke and len(smoke - {""}) >= 4


def test_lab_units_differ_by_site(fresh):
    labs = read_raw(fresh / "raw", "baseline_labs")
    assert set(labs[labs.LAB_TEST == "HGB"].UNIT) == {"g/L", "g/dL"}
    assert set(labs[labs.LAB_TEST == "LYMPH"].UNIT) == {"10^9/L", "cells/uL"}


def test_verbatim_ae_terms_need_mapping(fresh):
    terms = set(read_raw(fresh / "raw", "adverse_events").AE_VERBATIM)
    assert "贫血" in terms or "anemia" in terms
    assert len(terms) > 18                      # more spellings than CTCAE terms used


def test_duplicated_patient(fresh):
    scr = read_raw(fresh / "raw", "screening_log")
    dup = scr[scr.duplicated("ID_CARD_NO", keep=False)]
    assert len(dup) == 2 and dup.PATIENT_NAME.nunique() == 1 and dup.SUBJID.nunique() == 2


def test_direct_identifiers_present_and_fake(fresh):
    scr = read_raw(fresh / "raw", "screening_log")
    assert scr.PATIENT_NAME.str.endswith("(FAKE)").all()
    assert scr.HOSPITAL_NO.str.startswith("FAKE-").all()
    assert scr.ID_CARD_NO.str.match(r"^000000\d{12}$").all()   # region code 000000 does not exist


def test_pdl1_mostly_missing(fresh):
    bd = read_raw(fresh / "raw", "baseline_disease")
    assert (bd.PDL1_CPS == "").mean() > 0.7
    cps = bd.PDL1_CPS[bd.PDL1_CPS != ""].astype(int)
    assert (cps < 1).any() and cps.between(1, 9).any() and (cps >= 10).any()     # every CPS group present


def test_ae_form_carries_immune_related_judgement_and_treatment(fresh):
    ae = read_raw(fresh / "raw", "adverse_events")
    for col in ("IRAE_INV", "SYSTEMIC_STEROID", "HORMONE_REPLACEMENT"):
        assert {"Y", "是", "1"} & set(ae[col]) and {"N", "否", "0"} & set(ae[col]), col
    assert (ae.IRAE_INV == "").any()                       # not asked when not attributed to the PD-1 antibody
    rccep = ae[ae.AE_VERBATIM.isin(["RCCEP", "反应性皮肤毛细血管增生症", "capillary hemangioma", "皮肤毛细血管增生"])]
    assert len(rccep) and rccep.IRAE_INV.isin(["Y", "是", "1"]).all()


def test_prior_ici_line_has_progression_dates(fresh, truth_patients):
    pt = read_raw(fresh / "raw", "prior_therapy")
    assert "PD_DATE" in pt.columns
    adv = pt[pt.SETTING == "Advanced"]
    assert (adv.PD_DATE != "").mean() > 0.8 and (adv[adv.STOP_REASON == "Toxicity"].PD_DATE == "").any()
    el = truth_patients[truth_patients.ELIGIBLE == "Y"]
    assert el.ICI_RESISTANCE.value_counts().to_dict() == {"primary": 14, "secondary": 9, "after_discontinuation": 3,
                                                          "unclassifiable": 3}


def test_every_defect_kind_logged(defects):
    kinds = set(defects.KIND)
    assert kinds == {"date_format", "partial_date", "drug_name_variant", "code_variant", "lab_unit",
                     "ae_verbatim", "duplicate_patient", "out_of_range", "impossible_sequence",
                     "missing_value", "direct_identifier"}
    seq = defects[defects.KIND == "impossible_sequence"]
    assert set(zip(seq.FILE, seq.COLUMN)) == {("follow_up", "CONTACT_DATE"), ("adverse_events", "END_DATE")}
    oor = defects[defects.KIND == "out_of_range"]
    assert {"WEIGHT_KG", "HEIGHT_CM", "RESULT"} == set(oor.COLUMN)


def test_defect_log_points_at_the_raw_cells(fresh, defects):
    """Each logged defect's RAW_VALUE is what the raw file holds at (ROW, COLUMN)."""
    for f, grp in defects.groupby("FILE"):
        raw = read_raw(fresh / "raw", f)
        for row, col, val, subj in zip(grp.ROW.astype(int), grp.COLUMN, grp.RAW_VALUE, grp.SUBJID):
            assert raw.iloc[row - 1][col] == val, (f, row, col)
            assert raw.iloc[row - 1]["SUBJID"] == subj, (f, row)


def test_impossible_sequences_are_real(fresh, defects):
    seq = defects[(defects.KIND == "impossible_sequence") & (defects.FILE == "follow_up")].iloc[0]
    fu = read_raw(fresh / "raw", "follow_up")
    subj = fu[fu.SUBJID == seq.SUBJID]
    assert (subj.STATUS == "DEAD").any()


# --- scale mode ---------------------------------------------------------------------------

def test_scale_mode_valid_cohort_of_10000(tmp_path):
    s = generate(tmp_path / "raw", patients=10_000, mode="scale", truth_dir=tmp_path / "truth", chunk=4_000)
    scr = read_raw(tmp_path / "raw", "screening_log")
    assert len(scr) == 10_000 and scr.SUBJID.is_unique
    assert s.rows["screening_log"] == 10_000
    spec = load_dictionary()["files"]
    subjects = set(scr.SUBJID)
    for f in FILES:
        df = read_raw(tmp_path / "raw", f)
        assert list(df.columns) == list(spec[f]["columns"]), f
        assert set(df.SUBJID) <= subjects, f
    tp = pd.read_csv(tmp_path / "truth" / "patients.csv")
    assert 0.5 < (tp.ELIGIBLE == "Y").mean() < 0.7
    ta = read_raw(tmp_path / "raw", "tumour_assessments")
    assert set(ta.INV_RESPONSE) <= {"", "PR", "SD", "PD", "NE"}


def test_calibrated_mode_refuses_other_sizes(tmp_path):
    res = subprocess.run([sys.executable, "-m", "apec_sar.synth", "--patients", "100", "--out", str(tmp_path)],
                         capture_output=True, text=True)
    assert res.returncode == 2
    assert "--mode scale" in res.stderr
