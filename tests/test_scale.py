"""The Dask path (apec_sar.scale) gives what the in-memory notebook path gives: CONSORT,
reconciliation, harmonisation, every query-log row (original row numbers) and every ADaM
dataset's content, on the committed extract and on a scale-mode cohort; raw-data errors in a
partition reach the user as the in-memory pipeline's message; the block reader reads what the
in-memory reader reads; Kaplan-Meier from counts summed over partitions is the one-shot KM."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from apec_sar import io, scale
from apec_sar.analysis.cox import COVARIATES, MULTIVARIABLE, analysis_frame
from apec_sar.analysis.survival import DAYS_PER_MONTH
from apec_sar.clean import DataError, clean_extract
from apec_sar.derive import derive_all
from apec_sar.dictionary import columns as raw_files_columns
from apec_sar.dictionary import raw_files
from apec_sar.stats import km as K
from apec_sar.stats.cox import fit_cox
from apec_sar.synth import generate

from .conftest import ROOT
from .test_corruptions import CASES as CORRUPTIONS
from .test_corruptions import Raw as CorruptedCopy
from .test_corruptions import base  # noqa: F401 (the fixture)

CUTOFF = dt.date(2022, 7, 3)
RAW = ROOT / "data" / "raw"


def _sorted(df: pd.DataFrame) -> pd.DataFrame:
    return df.sort_values(list(df.columns), kind="stable", na_position="last").reset_index(drop=True)


def _roundtrip(df: pd.DataFrame, tmp_path, name: str) -> pd.DataFrame:
    """An in-memory dataset as its Parquet file reads back (the Dask path's datasets are files)."""
    p = tmp_path / f"inmem-{name}.parquet"
    io.write_dataset(df, p, name)
    return io.read_dataset(p)


def assert_same_as_in_memory(r: scale.ScaleResult, raw, tmp_path, clean=None) -> None:
    clean = clean_extract(raw) if clean is None else clean
    d = derive_all(clean, CUTOFF)
    pd.testing.assert_frame_equal(r.consort, d.consort)
    pd.testing.assert_frame_equal(r.reconciliation, d.reconciliation)
    pd.testing.assert_frame_equal(r.cleaning_reconciliation, clean.reconciliation)
    pd.testing.assert_frame_equal(r.harmonisation, clean.harmonised)
    q = pd.read_parquet(r.out / "query_log")
    assert len(q) == len(clean.queries) == r.queries
    pd.testing.assert_frame_equal(_sorted(q), _sorted(clean.queries.astype({"ROW": "int64"})))
    for name in scale.DATASETS:
        got = _sorted(pd.read_parquet(r.out / name))
        want = _sorted(_roundtrip(d.datasets[name], tmp_path, name))
        pd.testing.assert_frame_equal(got, want, obj=name)
    assert r.patients_analysed == int((d.datasets["adsl"].EFFFL == "Y").sum())
    # Kaplan-Meier from counts summed over partitions = the one-shot estimate, to the last bit
    adtte = d.datasets["adtte"]
    for _, s in r.survival.iterrows():
        x = adtte[adtte.PARAMCD == s.PARAMCD]
        km = K.kaplan_meier(x.AVAL.to_numpy() / DAYS_PER_MONTH, (x.CNSR == 0).astype(int).to_numpy(), "log-log")
        assert (s.N, s.EVENTS) == (km.n, km.events)
        assert np.array_equal([s.MEDIAN_MONTHS, s.MEDIAN_LCL, s.MEDIAN_UCL], list(K.quantile(km, 0.5)), equal_nan=True)
    # the Cox model fitted by a worker on the collected datasets = the notebooks' fit in memory
    for param in ("PFS", "OS"):
        res = fit_cox(analysis_frame(d.datasets["adsl"], adtte, param), "time", "status",
                      {c: COVARIATES[c][1] for c in MULTIVARIABLE}, term_tests=False)
        got = r.cox[r.cox.PARAMCD == param].reset_index(drop=True)
        assert (got.N.iloc[0], got.EVENTS.iloc[0]) == (res.n, res.events)
        for c in ("coef", "se", "hr", "lower", "upper", "p_wald"):
            np.testing.assert_allclose(got[c].to_numpy(), res.table[c].to_numpy(), rtol=1e-12, atol=0, err_msg=c)


def test_dask_run_on_the_committed_extract_equals_the_in_memory_run(tmp_path):
    r = scale.run(RAW, tmp_path / "out", CUTOFF, scheduler="synchronous", partitions=3, progress=False)
    assert r.patients_analysed == 29 and r.reconciles
    assert_same_as_in_memory(r, RAW, tmp_path)
    assert set(r.survival.PARAMCD) >= {"PFS", "OS"}
    assert set(r.cox.PARAMCD) == {"PFS", "OS"} and r.cox.coef.notna().all()


@pytest.fixture(scope="module")
def cohort(tmp_path_factory):
    """A scale-mode cohort of 2,000 patients (with ID-card collisions: linked duplicates)."""
    raw = tmp_path_factory.mktemp("scale2000") / "raw"
    generate(raw, patients=2000, mode="scale", truth_dir=None)
    return raw


def test_dask_run_on_a_local_cluster_equals_the_in_memory_run(cohort, tmp_path):
    """Through a real LocalCluster of two worker processes, in small raw blocks, so rows cross
    block and partition boundaries."""
    r = scale.run(cohort, tmp_path / "out", CUTOFF, workers=2, partitions=5, block_bytes=1 << 20, progress=False)
    assert r.workers == 2 and r.partitions == 5 and r.reconciles
    assert r.peak_mb["worker 1"] > 0 and r.peak_mb["worker 2"] > 0
    assert_same_as_in_memory(r, cohort, tmp_path)


def test_scheduler_address_runs_the_same_job(tmp_path):
    from distributed import LocalCluster
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        r = scale.run(RAW, tmp_path / "out", CUTOFF, scheduler=cluster.scheduler_address, partitions=2,
                      progress=False)
    assert r.workers == 1 and r.patients_analysed == 29
    assert_same_as_in_memory(r, RAW, tmp_path)


def test_the_cli_writes_the_datasets_and_a_summary(tmp_path):
    out = tmp_path / "out"
    res = subprocess.run([sys.executable, "-m", "apec_sar.scale", "--raw", str(RAW), "--out", str(out),
                          "--cutoff", "2022-07-03", "--scheduler", "threads", "--partitions", "2", "--no-progress"],
                         capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    assert "29 analysed" in res.stdout and "reconcile: yes" in res.stdout
    for name in (*scale.DATASETS, "query_log"):
        assert sorted(p.name for p in (out / name).iterdir())[:2] == ["part.00000.parquet", "part.00001.parquet"]
    for f in ("consort.csv", "reconciliation.csv", "harmonisation.csv", "survival.csv", "cox.csv", "summary.json"):
        assert (out / f).is_file()
    assert not (out / ".partitions").exists()       # the raw rows split by patient are not left behind


def _corrupt(tmp_path, file: str, row: int, column: str, value: str):
    raw = tmp_path / "raw"
    shutil.copytree(RAW, raw)
    df = pd.read_csv(raw / f"{file}.csv", dtype=str, keep_default_na=False)
    df.loc[row - 1, column] = value
    df.to_csv(raw / f"{file}.csv", index=False, lineterminator="\n")
    return raw


def test_a_data_error_in_a_partition_gives_the_in_memory_message(tmp_path):
    raw = _corrupt(tmp_path, "exposure", 300, "START_DATE", "2021-13-45")
    with pytest.raises(DataError) as mem:
        clean_extract(raw)
    with pytest.raises(DataError) as dask_err:
        scale.run(raw, tmp_path / "out", CUTOFF, scheduler="synchronous", partitions=4, progress=False)
    assert str(dask_err.value) == str(mem.value)
    assert "row 300" in str(mem.value)
    assert not (tmp_path / "out" / ".partitions").exists()
    res = subprocess.run([sys.executable, "-m", "apec_sar.scale", "--raw", str(raw), "--out", str(tmp_path / "o2"),
                          "--cutoff", "2022-07-03", "--workers", "2", "--partitions", "4", "--no-progress"],
                         capture_output=True, text=True)
    assert res.returncode == 2
    assert "Traceback" not in res.stderr
    problem, _, todo = str(mem.value).partition(" What to do: ")
    assert f"  {problem}" in res.stderr.splitlines() and f"  What to do: {todo}" in res.stderr.splitlines()


def test_a_data_error_in_the_subject_key_on_a_cluster_gives_the_in_memory_message(tmp_path):
    """A screening date that passes the schema but is no calendar date stops the subject-key
    task, which runs on a worker while the split by patient runs on the others: the user gets
    the in-memory run's message, and no raw rows stay behind, on a LocalCluster of two workers."""
    raw = _corrupt(tmp_path, "screening_log", 7, "SCREEN_DATE", "2021-02-30")
    with pytest.raises(DataError) as mem:
        clean_extract(raw)
    with pytest.raises(DataError) as dask_err:
        scale.run(raw, tmp_path / "out", CUTOFF, workers=2, partitions=4, block_bytes=1 << 14, progress=False)
    assert str(dask_err.value) == str(mem.value)
    assert "screening_log.csv, row 7" in str(mem.value)
    assert not (tmp_path / "out" / ".partitions").exists()


def _empty_demographics(raw):
    header = (raw / "demographics.csv").read_text(encoding="utf-8").split("\n")[0]
    (raw / "demographics.csv").write_text(header + "\n", encoding="utf-8")


@pytest.mark.parametrize("later", ["empty", "missing"])
@pytest.mark.parametrize("bad_screening", [True, False])
def test_the_screening_log_is_validated_before_the_other_files_are_checked(tmp_path, later, bad_screening):
    """As read_and_validate does: a schema failure in the screening log (validated on a worker,
    while the other files' lines are counted) is reported before a later file's file-level
    problem (no data rows F05, or missing F01), which alone gives the in-memory message."""
    raw = _corrupt(tmp_path, "screening_log", 7, "SCREEN_DATE", "abc" if bad_screening else "2021-03-04")
    if later == "empty":
        _empty_demographics(raw)
    else:
        (raw / "demographics.csv").unlink()
    with pytest.raises(DataError) as mem:
        clean_extract(raw)
    assert ("screening_log.csv, row 7, column SCREEN_DATE" in str(mem.value)) == bad_screening
    with pytest.raises(DataError) as dask_err:
        scale.run(raw, tmp_path / "out", CUTOFF, scheduler="synchronous", partitions=2, progress=False)
    assert str(dask_err.value) == str(mem.value)


def test_file_level_errors_of_later_files_come_in_file_order(tmp_path):
    """An empty demographics file (found by counting its lines) before a missing adverse-events
    file (found on opening it): the demographics error first, as in memory."""
    raw = tmp_path / "raw"
    shutil.copytree(RAW, raw)
    _empty_demographics(raw)
    (raw / "adverse_events.csv").unlink()
    with pytest.raises(DataError) as mem:
        clean_extract(raw)
    assert "demographics.csv" in str(mem.value)
    with pytest.raises(DataError) as dask_err:
        scale.run(raw, tmp_path / "out", CUTOFF, scheduler="synchronous", partitions=2, progress=False)
    assert str(dask_err.value) == str(mem.value)


def test_a_workers_schema_error_reaches_the_cli_as_the_message_alone(tmp_path):
    """The screening log's schema failure, raised on a worker of a LocalCluster: the CLI prints
    the in-memory message, no traceback and no warning about pandera objects pickled."""
    raw = _corrupt(tmp_path, "screening_log", 7, "SCREEN_DATE", "abc")
    _empty_demographics(raw)
    with pytest.raises(DataError) as mem:
        clean_extract(raw)
    res = subprocess.run([sys.executable, "-m", "apec_sar.scale", "--raw", str(raw), "--out", str(tmp_path / "o2"),
                          "--cutoff", "2022-07-03", "--workers", "2", "--partitions", "2", "--no-progress"],
                         capture_output=True, text=True, timeout=600)
    assert res.returncode == 2
    problem, _, todo = str(mem.value).partition(" What to do: ")
    lines = res.stderr.splitlines()
    assert f"  {problem}" in lines and f"  What to do: {todo}" in lines
    assert "Traceback" not in res.stderr and "Warning" not in res.stderr


def test_a_bad_row_in_a_block_gives_the_in_memory_message(tmp_path):
    """A field-count problem found by the parser of one block is located in the whole file."""
    raw = tmp_path / "raw"
    shutil.copytree(RAW, raw)
    p = raw / "adverse_events.csv"
    lines = p.read_text(encoding="utf-8").split("\n")
    lines[150] = lines[150] + ",extra"
    p.write_text("\n".join(lines), encoding="utf-8")
    with pytest.raises(DataError) as mem:
        clean_extract(raw)
    with pytest.raises(DataError) as dask_err:
        scale.run(raw, tmp_path / "out", CUTOFF, scheduler="synchronous", partitions=2, block_bytes=4096,
                  progress=False)
    assert str(dask_err.value) == str(mem.value) and "row 150" in str(mem.value)


@pytest.mark.parametrize("block", [29, 4096])
def test_block_reader_reads_what_the_reader_reads(tmp_path, block):
    """CRLF line ends, a byte-order mark, blank lines and no final newline: rows, values and
    original row numbers as read_raw gives them, whatever the block size."""
    raw = tmp_path / "raw"
    shutil.copytree(RAW, raw)
    ex = raw / "exposure.csv"
    lines = ex.read_bytes().split(b"\n")
    lines[5:5] = [b"", b""]
    lines.insert(40, b"")
    ex.write_bytes(b"\xef\xbb\xbf" + b"\r\n".join(lines))
    ae = raw / "adverse_events.csv"
    lines = ae.read_bytes().split(b"\n")
    lines[1:1] = [b""]
    ae.write_bytes(b"\n".join(lines).rstrip(b"\n"))
    for f in ("exposure", "adverse_events", "screening_log"):
        ref = io.read_raw(raw, f)
        path, header, _ = io.open_raw(raw, f)
        spans = io.blocks(path, block)
        counts = [io.line_counts(path, s, e) for s, e in spans]
        first = np.concatenate([[0], np.cumsum([n for n, _ in counts])[:-1]])
        got = io.categorical_frame(pd.concat([io.read_block(path, f, header, s, e, int(n))
                                              for (s, e), n in zip(spans, first)], ignore_index=True), f)
        assert got.SRC_ROW.tolist() == ref.SRC_ROW.tolist()
        for c in got.columns:
            assert got[c].astype(object).equals(ref[c].astype(object)), (f, c)
        assert sum(b for _, b in counts) == {"exposure": 3, "adverse_events": 1, "screening_log": 0}[f]


def _first_block_error(path, f, header, block):
    spans = io.blocks(path, block)
    counts = [io.line_counts(path, s, e) for s, e in spans]
    first = np.concatenate([[0], np.cumsum([n for n, _ in counts])[:-1]])
    for (s, e), n in zip(spans, first):
        try:
            io.read_block(path, f, header, s, e, int(n))
        except DataError as exc:
            return str(exc)
    return None


def _set_cell(data: bytes, row: int, column: str, value: bytes) -> bytes:
    lines = data.split(b"\n")
    k = lines[0].rstrip(b"\r").split(b",").index(column.encode())
    cells = lines[row].split(b",")
    cells[k] = value
    lines[row] = b",".join(cells)
    return b"\n".join(lines)


SPANNING = {   # name: (file, edit of its bytes, the row and column named)
    "line feed in a middle column": ("adverse_events", lambda b: _set_cell(b, 7, "AE_VERBATIM", '"疲\n劳"'.encode()),
                                     7, "AE_VERBATIM"),
    "the same, CRLF line ends": ("adverse_events", lambda b: _set_cell(b, 7, "AE_VERBATIM", b'"a\nb"').replace(
        b"\n", b"\r\n"), 7, "AE_VERBATIM"),
    "line feed in the last column": ("adverse_events", lambda b: _set_cell(b, 7, "OUTCOME", b'"Recovered/\nresolved"'),
                                     7, "OUTCOME"),
    "a comma and a line feed": ("metastatic_sites", lambda b: _set_cell(b, 10, "MET_SITE", b'"Liver,\nlung, bone"'),
                                10, "MET_SITE"),
    "25 lines in one value": ("adverse_events",
                              lambda b: _set_cell(b, 7, "AE_VERBATIM", b'"' + b"\n".join([b"x"] * 25) + b'"'),
                              7, "AE_VERBATIM"),
    "a stray quote before it": ("adverse_events", lambda b: _set_cell(_set_cell(b, 7, "SUBJID", b'S01-0"03'), 7,
                                                                      "AE_VERBATIM", b'"Rash\nsevere"'), 7, "AE_VERBATIM"),
    "BOM, blank lines, CRLF": ("adverse_events", lambda b: b"\xef\xbb\xbf" + _set_cell(b, 9, "AE_VERBATIM", b'"a\nb"')
                               .replace(b"\n", b"\n\n", 3).replace(b"\n", b"\r\n"), 12, "AE_VERBATIM"),
    "a carriage return in a quoted value": ("adverse_events", lambda b: _set_cell(b, 7, "AE_VERBATIM", b'"a\rb"'),
                                            7, "AE_VERBATIM"),
}


@pytest.mark.parametrize("case", sorted(SPANNING))
def test_a_record_over_two_lines_stops_every_block_reader_as_the_reader(tmp_path, case):
    """A quoted value holding a line break, with a block boundary anywhere from 40 bytes before
    it to 40 after (and small blocks everywhere): every block split gives read_raw's message
    (rule F10, the row the record starts on, the column)."""
    f, edit, row, column = SPANNING[case]
    raw = tmp_path / "raw"
    shutil.copytree(RAW, raw)
    p = raw / f"{f}.csv"
    p.write_bytes(edit(p.read_bytes()))
    with pytest.raises(DataError) as e:
        io.read_raw(raw, f)
    assert (e.value.check, e.value.row, e.value.column) == ("F10", row, column), str(e.value)
    path, header, _ = io.open_raw(raw, f)
    data = p.read_bytes()
    at = data.index(b'"', data.index(b"\n"))
    for block in [*range(max(at - 40, 1), at + 41, 3), 20, 97, 300, 2048]:
        assert _first_block_error(path, f, header, block) == str(e.value), block


def test_parquet_pieces_read_as_the_reader_returns_them(tmp_path):
    """A partition's pieces (12 of them, so that 'part.10' sorts before 'part.2'; rows out of
    file order; a value missing; a column empty in one piece and in all) read by
    categorical_parquet exactly as categorical_table reads them: rows in file order, categories
    in order of first appearance in the file."""
    import pyarrow as pa
    import pyarrow.parquet as pq
    f = "adverse_events"
    cols = [c for c in io.categorical_table(pa.table({"SRC_ROW": pa.array([], pa.int64())} | {
        c: pa.array([], pa.string()) for c in raw_files_columns(f)}), f).columns if c != "SRC_ROW"]
    rng = np.random.default_rng(3)
    rows = np.arange(1, 121)
    rng.shuffle(rows)
    d = tmp_path / "__PART=0"
    d.mkdir()
    for i, chunk in enumerate(np.array_split(rows, 12)):
        data = {"SRC_ROW": pa.array(chunk, pa.int64())}
        for j, c in enumerate(cols):
            v = [None if (r + j) % 7 == 0 else f"{c[:2]}{(r * (j + 1)) % 5}" for r in chunk]
            if c == cols[1] or (c == cols[2] and i == 4):
                v = [None] * len(chunk)
            data[c] = pa.array(v, pa.string())
        pq.write_table(pa.table(data), d / f"part.{i}.parquet")
    want = io.categorical_table(pq.read_table(d), f)
    got = io.categorical_parquet(d, f)
    assert want.SRC_ROW.tolist() == list(range(1, 121))
    pd.testing.assert_frame_equal(got, want)
    assert list(got[cols[0]].cat.categories) == list(pd.unique(want[cols[0]].dropna().astype(object)))


def test_km_from_summed_partition_counts_equals_the_one_shot_km():
    rng = np.random.default_rng(7)
    t = np.ceil(rng.exponential(200, 5000))
    e = rng.integers(0, 2, 5000)
    one = K.kaplan_meier(t, e, "log-log")
    part = rng.integers(0, 7, 5000)
    c = K.sum_event_counts([K.event_counts(t[part == k], e[part == k]) for k in range(7)])
    agg = K.kaplan_meier_from_counts(c.time, c.n_event, c.n_censor, "log-log")
    for a in ("time", "n_risk", "n_event", "n_censor", "surv", "std_err", "lower", "upper"):
        assert np.array_equal(getattr(one, a), getattr(agg, a), equal_nan=True), a
    assert one.n == agg.n and K.quantile(one, 0.5) == K.quantile(agg, 0.5)


def test_raw_files_are_all_partitioned():
    assert set(raw_files()) == {f.stem for f in RAW.glob("*.csv")}


@pytest.mark.parametrize(("records", "threads", "expected"), [
    (29, 1, 1), (29, 2, 2),                   # a small extract still gives every thread a partition
    (100_000, 1, 5), (100_000, 2, 6),         # 5 of 20,000 on 2 threads would leave one idle in round 3
    (1_000_000, 2, 50), (1_000_000, 3, 51), (1_000_000, 8, 56),
    (20_001, 2, 2), (0, 2, 2)])
def test_default_partitions_fill_whole_rounds_of_the_worker_threads(records, threads, expected):
    assert scale.default_partitions(records, threads) == expected


@pytest.mark.parametrize(("total_mb", "threads", "expected_mb"), [
    (250, 2, 31.25),          # 10^5 patients: 8 blocks, not 4 (whole 64 MB blocks would leave a worker idle)
    (2560, 2, 64), (2560, 16, 40),
    (1, 2, 4), (0, 1, 4)])    # never below 4 MB a block
def test_default_block_bytes_give_every_thread_several_blocks(total_mb, threads, expected_mb):
    assert scale.default_block_bytes(int(total_mb * 2 ** 20), threads) == int(expected_mb * 2 ** 20)


def test_partition_numbers_follow_the_rows_whatever_their_index():
    part_of = pd.Series([3, 4], index=["S-1", "S-2"])
    s = pd.Series(["s-1", " S-2", None], dtype="string[pyarrow]")
    assert scale._partition_numbers(s, part_of).tolist() == [3, 4, 0]
    assert scale._partition_numbers(s.set_axis([10, 11, 12]), part_of).tolist() == [3, 4, 0]


def test_a_scheduler_without_workers_stops_with_a_message(tmp_path, monkeypatch, capsys):
    """--scheduler ADDRESS waits for a worker to join (the partition count follows the cluster's
    threads), then stops with a message naming the address, not a traceback nor a hang."""
    from distributed import LocalCluster
    monkeypatch.setattr(scale, "WORKERS_SECONDS", 1)
    with LocalCluster(n_workers=0, processes=True, dashboard_address=None) as cluster:     # a tcp:// address
        rc = scale.main(["--raw", str(RAW), "--out", str(tmp_path / "out"), "--cutoff", "2022-07-03",
                         "--scheduler", cluster.scheduler_address, "--no-progress"])
        err = capsys.readouterr().err
    assert rc == 2
    assert f"no worker has joined the Dask scheduler at {cluster.scheduler_address} within 1 s" in err
    assert "dask worker" in err and "Traceback" not in err
    assert not (tmp_path / "out").exists()


def test_an_unreachable_scheduler_stops_with_a_message(tmp_path, monkeypatch, capsys):
    import socket
    with socket.socket() as sock:               # a port with nothing listening on it
        sock.bind(("127.0.0.1", 0))
        address = f"tcp://127.0.0.1:{sock.getsockname()[1]}"
    monkeypatch.setattr(scale, "CONNECT_SECONDS", 1)
    rc = scale.main(["--raw", str(RAW), "--out", str(tmp_path / "out"), "--cutoff", "2022-07-03",
                     "--scheduler", address, "--no-progress"])
    err = capsys.readouterr().err
    assert rc == 2
    assert f"cannot reach the Dask scheduler at {address} within 1 s" in err and "Traceback" not in err


@pytest.mark.parametrize("name", sorted(CORRUPTIONS))
def test_every_corruption_gives_the_in_memory_result_or_message(name, base, tmp_path):
    """The corruption battery of tests/test_corruptions.py through the Dask path, in raw blocks
    of 2 kB (rows cross block and partition boundaries): the same datasets, queries and counts as
    the in-memory run, or the same stop with the same message."""
    folder = tmp_path / "raw"
    shutil.copytree(RAW, folder)
    CORRUPTIONS[name](CorruptedCopy(folder, base), base)
    try:
        clean, want = clean_extract(folder), None
    except DataError as e:
        clean, want = None, str(e)
    try:
        r = scale.run(folder, tmp_path / "out", CUTOFF, scheduler="synchronous", partitions=2, block_bytes=2048,
                      progress=False)
    except DataError as e:
        assert str(e) == want
        return
    assert want is None, "the in-memory run stopped"
    assert r.reconciles
    assert_same_as_in_memory(r, folder, tmp_path, clean)


@pytest.mark.parametrize(("option", "value", "kind"), [("--partitions", "0", "integer"), ("--partitions", "-1", "integer"),
                                                      ("--workers", "1.5", "integer"), ("--block-mb", "0", "number"),
                                                      ("--block-mb", "inf", "number"), ("--block-mb", "x", "number"),
                                                      ("--block-mb", "1e-7", "")])
def test_the_cli_refuses_a_count_or_size_that_is_not_positive(tmp_path, capsys, option, value, kind):
    with pytest.raises(SystemExit) as e:
        scale.main(["--raw", str(RAW), "--out", str(tmp_path / "out"), option, value])
    assert e.value.code == 2
    want = f"must be a positive {kind}, not '{value}'" if kind else f"must be at least 0.01, not '{value}'"
    assert f"argument {option}: {want}" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def _environ_of_worker():
    import os
    return os.environ.get("MALLOC_TRIM_THRESHOLD_"), os.environ.get("GLIBC_TUNABLES")


_MALLOC_PROBE = """
import ctypes, json
libc = ctypes.CDLL(None)
class Info(ctypes.Structure):
    _fields_ = [(n, ctypes.c_size_t) for n in ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks",
                                                "fsmblks", "uordblks", "fordblks", "keepcost")]
libc.mallinfo2.restype = Info
libc.malloc.restype = ctypes.c_void_p
libc.free.argtypes = [ctypes.c_void_p]
start = libc.mallinfo2()
blocks = [libc.malloc(16 << 20) for _ in range(40)]          # 640 MiB, far more than the pad
during = libc.mallinfo2()
for p in blocks:
    libc.free(p)
after = libc.mallinfo2()
print(json.dumps({"heap_at_start": start.arena, "mapped": during.hblkhd - start.hblkhd,
                  "heap": during.arena, "heap_after_free": after.arena}))
"""


def _malloc_probe(tunables: str | None) -> dict:
    """How glibc's malloc serves and frees 40 blocks of 16 MiB in a fresh Python with these tunables."""
    import json
    env = {k: v for k, v in os.environ.items() if k != "GLIBC_TUNABLES" and not k.startswith("MALLOC_")}
    if tunables is not None:
        env["GLIBC_TUNABLES"] = tunables
    got = subprocess.run([sys.executable, "-c", _MALLOC_PROBE], env=env, capture_output=True, text=True, check=True)
    return json.loads(got.stdout)


def _glibc_has_mallinfo2() -> bool:
    import ctypes
    try:
        return hasattr(ctypes.CDLL(None), "mallinfo2")
    except OSError:
        return False


def test_local_workers_keep_glibc_malloc_tuning_and_ask_for_huge_pages(monkeypatch):
    monkeypatch.delenv("GLIBC_TUNABLES", raising=False)
    client, cluster, _ = scale._connect(1, None)
    try:
        assert client.submit(_environ_of_worker, pure=False).result() == (None, scale.GLIBC_TUNABLES)
    finally:
        client.close()
        cluster.close()
    assert scale.GLIBC_TUNABLES.split(":") == [
        "glibc.malloc.hugetlb=1", "glibc.malloc.mmap_threshold=33554432", "glibc.malloc.trim_threshold=17179869184",
        "glibc.malloc.top_pad=67108864"]
    monkeypatch.setenv("GLIBC_TUNABLES", "glibc.malloc.arena_max=2")      # the user's own setting: inherited as is
    assert scale.worker_environ() == {"MALLOC_TRIM_THRESHOLD_": None}


@pytest.mark.skipif(not sys.platform.startswith("linux") or not _glibc_has_mallinfo2(), reason="glibc 2.33+ only")
def test_glibc_applies_the_workers_malloc_tunables():
    # glibc ignores a tunable it cannot parse, without a word: the workers' string, tried on glibc
    default = _malloc_probe(None)
    assert default["mapped"] >= 640 << 20 and default["heap_at_start"] < 64 << 20   # each block its own mmap
    ours = _malloc_probe(scale.GLIBC_TUNABLES)
    assert ours["heap_at_start"] >= 64 << 20          # top_pad 64 MiB: the heap grows in large steps
    assert ours["mapped"] == 0 and ours["heap"] >= 640 << 20       # mmap_threshold 32 MiB: from the heap
    assert ours["heap_after_free"] == ours["heap"]    # trim_threshold 16 GiB: nothing handed back on free
    kept = _malloc_probe("glibc.malloc.mmap_threshold=33554432")
    assert kept["mapped"] == 0 and kept["heap_after_free"] < kept["heap"]     # the probe sees a trim


def test_a_blank_line_of_the_other_line_end_keeps_the_row_numbers(tmp_path):
    """A CRLF file with one LF-only blank line (and the reverse): read_raw numbers rows as every
    block split does."""
    for crlf in (True, False):
        raw = tmp_path / f"raw{crlf}"
        shutil.copytree(RAW, raw)
        p = raw / "adverse_events.csv"
        lines = p.read_bytes().rstrip(b"\n").split(b"\n")
        end, other = (b"\r\n", b"\n") if crlf else (b"\n", b"\r\n")
        p.write_bytes(end.join(lines[:9]) + end + other + end.join(lines[9:]) + end)
        ref = io.read_raw(raw, "adverse_events")
        assert ref.SRC_ROW.tolist()[7:10] == [8, 10, 11]
        path, header, _ = io.open_raw(raw, "adverse_events")
        for block in (300, 2048):
            spans = io.blocks(path, block)
            counts = [io.line_counts(path, s, e) for s, e in spans]
            first = np.concatenate([[0], np.cumsum([n for n, _ in counts])[:-1]])
            got = pd.concat([io.read_block(path, "adverse_events", header, s, e, int(n))
                             for (s, e), n in zip(spans, first)], ignore_index=True)
            assert got.SRC_ROW.tolist() == ref.SRC_ROW.tolist()


def test_a_quoted_carriage_return_beside_another_error_stops_every_reader_alike(tmp_path):
    raw = tmp_path / "raw"
    shutil.copytree(RAW, raw)
    p = raw / "adverse_events.csv"
    p.write_bytes(_set_cell(_set_cell(p.read_bytes(), 3, "AE_VERBATIM", b'"a\rb"'), 10, "AE_VERBATIM", b"rash,severe"))
    with pytest.raises(DataError) as e:
        io.read_raw(raw, "adverse_events")
    assert (e.value.check, e.value.row, e.value.column) == ("F10", 3, "AE_VERBATIM")
    path, header, _ = io.open_raw(raw, "adverse_events")
    for block in (97, 300, 2048, 1 << 20):
        assert _first_block_error(path, "adverse_events", header, block) == str(e.value), block


def test_a_carriage_return_in_a_row_of_the_wrong_field_count_is_a_data_error(tmp_path):
    raw = tmp_path / "raw"
    shutil.copytree(RAW, raw)
    p = raw / "subsequent_therapy.csv"
    lines = p.read_bytes().split(b"\n")
    lines[2] = lines[2].split(b",")[0] + b"\r" + b",".join(lines[2].split(b",")[1:2])
    p.write_bytes(b"\n".join(lines))
    with pytest.raises(DataError) as e:
        io.read_raw(raw, "subsequent_therapy")
    assert e.value.row == 2


def test_the_line_break_scan_sees_a_file_rewritten_with_its_old_time(tmp_path):
    raw = tmp_path / "raw"
    shutil.copytree(RAW, raw)
    p = raw / "adverse_events.csv"
    clean = p.read_bytes()
    p.write_bytes(_set_cell(_set_cell(clean, 9, "AE_VERBATIM", b'"abcd"'), 7, "AE_VERBATIM", b'"a\nbc"'))
    st = p.stat()
    header = io.open_raw(raw, "adverse_events")[1]
    assert io.spanning_record_error(p, "adverse_events", header).row == 7
    p.write_bytes(_set_cell(_set_cell(clean, 7, "AE_VERBATIM", b'"abcd"'), 9, "AE_VERBATIM", b'"a\nbc"'))
    assert p.stat().st_size == st.st_size
    os.utime(p, ns=(st.st_atime_ns, st.st_mtime_ns))                    # as cp -p or rsync -a leave it
    assert io.spanning_record_error(p, "adverse_events", header).row == 9


_PRELOADED = {"apec_sar.derive", "apec_sar.clean.extract", "apec_sar.analysis.survival", "scipy.stats"}


def _warm_state_of_worker():
    import sys

    from apec_sar.clean import schema
    from apec_sar.dictionary import raw_files
    return {m for m in _PRELOADED if m in sys.modules}, set(schema._SCHEMAS) == set(raw_files())


def test_local_workers_import_the_partition_code_as_they_start():
    import importlib
    assert importlib.import_module(scale.PRELOAD) is scale and callable(scale.dask_setup)   # also from the CLI
    client, cluster, _ = scale._connect(2, None)
    try:
        got = client.run(_warm_state_of_worker)
    finally:
        client.close()
        cluster.close()
    assert len(got) == 2
    for imported, schemas in got.values():
        assert imported == _PRELOADED
        assert schemas


def test_the_huge_page_setting_stays_out_of_the_clients_environment(monkeypatch):
    monkeypatch.delenv("GLIBC_TUNABLES", raising=False)
    client, cluster, _ = scale._connect(1, None)
    try:
        assert "GLIBC_TUNABLES" not in os.environ
    finally:
        client.close()
        cluster.close()
