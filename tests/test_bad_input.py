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
    expect(raw, "exposure", 7, "START_DATE", "date in a site format")


@pytest.mark.parametrize("file,column,value,rule", [("exposure", "DOSE", "１２", "number"),
                                                      ("exposure", "CYCLE", "٣", "integer"),
                                                      ("baseline_labs", "RESULT", "4.５", "number")])
def test_non_ascii_digits_in_a_number_column(raw, file, column, value, rule):
    """Full-width (and other scripts') digits match Python's \\d but are no number to the
    parser: a clear error naming the cell, not a traceback."""
    set_cell(raw, file, 2, column, value)
    msg = expect(raw, file, 2, column, rule)
    assert value in msg


def test_unknown_code(raw):
    set_cell(raw, "demographics", 4, "SEX", "X")
    expect(raw, "demographics", 4, "SEX", "code in the dictionary")


def test_unknown_drug_name(raw):
    set_cell(raw, "exposure", 2, "DRUG", "wonderdrug")
    msg = expect(raw, "exposure", 2, "DRUG", "drug name mapping")
    assert "drug_names.csv" in msg


def test_unknown_ae_term(raw):
    set_cell(raw, "adverse_events", 5, "AE_VERBATIM", "felt odd")
    expect(raw, "adverse_events", 5, "AE_VERBATIM", "AE term mapping")


def test_unknown_lab_unit(raw):
    set_cell(raw, "baseline_labs", 4, "UNIT", "mmol/L")
    expect(raw, "baseline_labs", 4, "UNIT", "code in the dictionary")


def test_exact_duplicate_row_counted_once(raw):
    rows = lines(raw, "exposure")
    rows.insert(6, rows[5])          # data row 5 repeated as row 6
    write(raw, "exposure", rows)
    res = clean_extract(raw)
    q = res.queries[res.queries.CHECK == "K01"]
    assert q[["FILE", "ROW", "COLUMN", "ORIGINAL"]].values.tolist() == [["exposure", 6, "SUBJID,CYCLE,DRUG",
                                                                          "copy of row 5"]]
    assert 6 not in set(res.tables["exposure"].SRC_ROW)


def test_duplicate_key_with_different_content(raw):
    rows = lines(raw, "exposure")
    copy = rows[5].split(",")
    copy[5] = "8" if copy[5] != "8" else "10"                # DOSE differs
    rows.insert(6, ",".join(copy))
    write(raw, "exposure", rows)
    msg = expect(raw, "exposure", 6, "SUBJID,CYCLE,DRUG", "unique key")
    assert "rows 5, 6 share the key" in msg and "differ in DOSE" in msg


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
    assert "encodings tried: UTF-8 (fails), GB18030 (decodes" in msg and "re-export the file as UTF-8" in msg


def test_utf8_bom_removed_and_noted(raw):
    (raw / "adverse_events.csv").write_bytes(b"\xef\xbb\xbf" + (raw / "adverse_events.csv").read_bytes())
    res = clean_extract(raw)
    h = res.harmonised
    assert h[(h.FILE == "adverse_events") & (h.COLUMN == "(file)")].values.tolist() == [
        ["adverse_events", "(file)", "UTF-8 byte-order mark removed", 1]]


def test_semicolon_delimiter(raw):
    write(raw, "follow_up", [r.replace(",", ";") for r in lines(raw, "follow_up")])
    msg = expect(raw, "follow_up", None, None, "CSV dialect")
    assert "separated by ';', not by commas" in msg


def test_fully_quoted_header_and_values_read_as_their_content(raw):
    rows = lines(raw, "tumour_assessments")
    write(raw, "tumour_assessments", [",".join(f'"{c}"' for c in r.split(",")) for r in rows])
    res = clean_extract(raw)
    assert len(res.tables["tumour_assessments"]) == len(rows) - 1 - 4     # minus the duplicate patient's 4 rows


def test_trailing_space_in_a_header_name(raw):
    rows = lines(raw, "adverse_events")
    rows[0] = rows[0].replace("CTCAE_GRADE", "CTCAE_GRADE ")
    write(raw, "adverse_events", rows)
    res = clean_extract(raw)
    assert "CTCAE_GRADE" in res.tables["adverse_events"].columns


def test_unquoted_decimal_comma_names_row_and_column(raw):
    rows = lines(raw, "demographics")
    header = rows[0].split(",")
    i = next(i for i, r in enumerate(rows[1:], start=1) if "." in r.split(",")[header.index("WEIGHT_KG")])
    cells = rows[i].split(",")
    w = header.index("WEIGHT_KG")
    cells[w] = cells[w].replace(".", ",")
    rows[i] = ",".join(cells)
    write(raw, "demographics", rows)
    msg = expect(raw, "demographics", i, "WEIGHT_KG", "field count")
    assert "decimal comma" in msg


def test_missing_file(raw):
    (raw / "follow_up.csv").unlink()
    msg = expect(raw, "follow_up", None, None, "file present")
    assert "does not exist" in msg


def test_missing_required_value(raw):
    set_cell(raw, "tumour_assessments", 3, "ASSESS_DATE", "")
    expect(raw, "tumour_assessments", 3, "ASSESS_DATE", "required value")


def test_extra_unknown_column_is_logged_and_ignored(raw):
    rows = lines(raw, "metastatic_sites")
    write(raw, "metastatic_sites", [rows[0] + ",NOTES"] + [r + ",see chart" for r in rows[1:]])
    res = clean_extract(raw)
    q = res.queries
    hit = q[(q.RULE == "unknown column") & (q.FILE == "metastatic_sites")]
    assert hit.COLUMN.tolist() == ["NOTES"]
    assert "NOTES" not in res.tables["metastatic_sites"].columns


# --- what the user of `make report` sees ----------------------------------------------------------

BAD_CELL = ('from apec_sar.clean import DataError\n'
            'raise DataError("exposure", 3, "DOSE", "number", "not a number", value="1O")')
CLEAN_MESSAGE = ("data/raw/exposure.csv, row 3, column DOSE, value '1O': rule S05 'number' failed: not a number.")


@pytest.fixture
def failing_project(tmp_path, monkeypatch):
    import nbformat

    from apec_sar import pipeline
    (tmp_path / "notebooks").mkdir()
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(BAD_CELL)])
    nbformat.write(nb, tmp_path / "notebooks" / "01_bad.ipynb")
    monkeypatch.setattr(pipeline, "project_root", lambda: tmp_path)
    monkeypatch.setattr(pipeline.datalock, "check", lambda: "0" * 64)
    monkeypatch.setattr(pipeline, "stamp_of", lambda root, lock, nb, base=None: "new")
    monkeypatch.setattr(pipeline, "_base_hash", lambda root: "base")
    return pipeline


def test_a_data_error_in_a_notebook_reaches_the_user_as_one_clean_message(failing_project, capsys):
    assert failing_project.main(["--no-render"]) == 2
    err = capsys.readouterr().err
    assert err.splitlines() == [
        "[report] STOPPED by a problem in the raw data (notebooks/01_bad.ipynb):",
        f"  {CLEAN_MESSAGE}",
        "  What to do: correct the value at the site; re-export the file, replace it in data/raw and re-lock the "
        "extract (make relock).",
        "  (python -m apec_sar.pipeline --debug shows the traceback)"]


def test_debug_shows_the_traceback(failing_project):
    from nbclient.exceptions import CellExecutionError
    with pytest.raises(CellExecutionError):
        failing_project.main(["--no-render", "--debug"])


def test_data_error_line_found_in_a_traceback_text():
    from apec_sar.pipeline import data_error_message
    text = "Traceback (most recent call last):\n  ...\n\x1b[0;31mDataError\x1b[0m: data/raw/x.csv: bad. What to do: y."
    assert data_error_message(RuntimeError(text)) == "data/raw/x.csv: bad. What to do: y."
    assert data_error_message(RuntimeError("ValueError: no")) is None


def test_notebooks_run_in_dependency_order_two_at_a_time(tmp_path, monkeypatch):
    """01 -> 02 -> (03, 04 side by side) ; 09 needs nothing: it may start at once."""
    import threading
    import time as _time

    from apec_sar import pipeline
    log, lock = [], threading.Lock()

    def fake(path, cwd=None):
        with lock:
            log.append(("start", path.name[:2]))
        _time.sleep(0.2)
        with lock:
            log.append(("end", path.name[:2]))
    monkeypatch.setattr(pipeline, "execute_notebook", fake)
    todo = [tmp_path / f"{n}_x.ipynb" for n in ("01", "02", "03", "04", "09")]
    done = []
    pipeline.run_notebooks(todo, tmp_path, 2, lambda nb: done.append(nb.name[:2]))
    pos = {ev: i for i, ev in enumerate(log)}
    assert pos[("end", "01")] < pos[("start", "02")] < pos[("end", "02")] < pos[("start", "03")]
    assert pos[("start", "04")] < pos[("end", "03")]            # 03 and 04 ran at the same time
    assert pos[("start", "09")] < pos[("end", "01")]            # 09 depends on nothing
    assert sorted(done) == ["01", "02", "03", "04", "09"]
