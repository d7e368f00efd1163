"""Corrupted copies of the raw extract: a clear error naming file, row, column and rule, or a
logged query; never a silent change."""

from __future__ import annotations

import shutil

import pytest

from apec_sar.clean import DataError, clean_extract

from .conftest import ROOT


@pytest.fixture
def raw(tmp_path):
    d = tmp_path / "raw"
    shutil.copytree(ROOT / "data" / "raw", d)
    return d


def lines(raw, name):
    return (raw / f"{name}.csv").read_text(encoding="utf-8").splitlines()


def write(raw, name, rows):
    (raw / f"{name}.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")


def set_cell(raw, name, row, column, value):
    """row: 1-based data row."""
    rows = lines(raw, name)
    header = rows[0].split(",")
    cells = rows[row].split(",")
    cells[header.index(column)] = value
    rows[row] = ",".join(cells)
    write(raw, name, rows)


def expect(raw, file, row, column, rule_part):
    with pytest.raises(DataError) as e:
        clean_extract(raw)
    err = e.value
    assert (err.file, err.row, err.column) == (file, row, column), str(err)
    assert rule_part in err.rule
    msg = str(err)
    assert f"data/raw/{file}.csv" in msg and (row is None or f"row {row}" in msg) and (column is None or column in msg)
    return msg


def test_missing_column(raw):
    rows = [",".join(c for i, c in enumerate(r.split(",")) if i != 4) for r in lines(raw, "demographics")]
    write(raw, "demographics", rows)
    expect(raw, "demographics", None, "ECOG", "required column")


def test_unparseable_date(raw):
    set_cell(raw, "adverse_events", 3, "START_DATE", "2021-02-30")
    expect(raw, "adverse_events", 3, "START_DATE", "valid date")


def test_text_in_a_date_column(raw):
    set_cell(raw, "exposure", 7, "START_DATE", "next week")
    expect(raw, "exposure", 7, "START_DATE", "not a date")


def test_unknown_code(raw):
    set_cell(raw, "demographics", 4, "SEX", "X")
    expect(raw, "demographics", 4, "SEX", "unknown code")


def test_unknown_drug_name(raw):
    set_cell(raw, "exposure", 2, "DRUG", "wonderdrug")
    msg = expect(raw, "exposure", 2, "DRUG", "drug name mapping")
    assert "drug_names.csv" in msg


def test_unknown_ae_term(raw):
    set_cell(raw, "adverse_events", 5, "AE_VERBATIM", "felt odd")
    expect(raw, "adverse_events", 5, "AE_VERBATIM", "AE term mapping")


def test_unknown_lab_unit(raw):
    set_cell(raw, "baseline_labs", 4, "UNIT", "mmol/L")
    expect(raw, "baseline_labs", 4, "UNIT", "unknown code")


def test_duplicate_key(raw):
    rows = lines(raw, "exposure")
    rows.insert(6, rows[5])          # data row 5 repeated as row 6
    write(raw, "exposure", rows)
    expect(raw, "exposure", 6, "SUBJID,CYCLE,DRUG", "unique key")


def test_orphan_subject(raw):
    set_cell(raw, "adverse_events", 2, "SUBJID", "S09-999")
    expect(raw, "adverse_events", 2, "SUBJID", "subject in screening log")


def test_death_before_treatment_start(raw):
    rows = lines(raw, "follow_up")
    header = rows[0].split(",")
    i = next(i for i, r in enumerate(rows) if r.split(",")[header.index("STATUS")] == "DEAD" and
             r.split(",")[header.index("DEATH_DATE")][:4].isdigit() and "-" in r.split(",")[header.index("DEATH_DATE")])
    set_cell(raw, "follow_up", i, "DEATH_DATE", "2019-01-01")
    expect(raw, "follow_up", i, "DEATH_DATE", "death on/after first dose")


def test_empty_file(raw):
    (raw / "subsequent_therapy.csv").write_bytes(b"")
    expect(raw, "subsequent_therapy", None, None, "not empty")


def test_header_only_file(raw):
    write(raw, "metastatic_sites", lines(raw, "metastatic_sites")[:1])
    expect(raw, "metastatic_sites", None, None, "not empty")


def test_wrong_encoding(raw):
    text = (raw / "demographics.csv").read_text(encoding="utf-8")
    (raw / "demographics.csv").write_bytes(text.encode("gb18030"))
    # data row 20 (S03-001) is the first with Chinese text; 女 in GB18030 (C5 AE) happens to be
    # valid UTF-8, so the first undecodable byte is in SMOKING (是)
    msg = expect(raw, "demographics", 20, "SMOKING", "encoding")
    assert "UTF-8" in msg


def test_missing_required_value(raw):
    set_cell(raw, "tumour_assessments", 3, "ASSESS_DATE", "")
    expect(raw, "tumour_assessments", 3, "ASSESS_DATE", "not_nullable")


def test_extra_unknown_column_is_logged_and_ignored(raw):
    rows = lines(raw, "metastatic_sites")
    write(raw, "metastatic_sites", [rows[0] + ",NOTES"] + [r + ",see chart" for r in rows[1:]])
    res = clean_extract(raw)
    q = res.queries
    hit = q[(q.RULE == "unknown column") & (q.FILE == "metastatic_sites")]
    assert hit.COLUMN.tolist() == ["NOTES"]
    assert "NOTES" not in res.tables["metastatic_sites"].columns
