"""Versions: two releases are recorded in the repository (v1.0 at the publication cut-off, v2.0
later), each with an ARD snapshot; v1.0 is reproduced from its record (the commit and data lock
it was built from); two clean runs give byte-identical notebook outputs, ARD and derived data."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from apec_sar.release import KEY, changes, history

from .conftest import ROOT


def test_two_versions_recorded():
    h = history()
    assert [str(x["version"]) for x in h][:2] == ["1.0", "2.0"]
    assert h[0]["data_cutoff"] == "2022-07-03" and h[1]["data_cutoff"] > "2022-07-03"
    assert h[1]["previous"] == "1.0"
    for x in h:
        snap = ROOT / "releases" / f"v{x['version']}" / "ard.csv"
        assert snap.is_file() and len(pd.read_csv(snap)) > 500
        assert x["built_from_commit"] and len(x["datalock"]) == 64
    assert (ROOT / "releases" / "v2.0" / "changes.csv").is_file()


def test_v2_sees_more_follow_up_than_v1():
    a = pd.read_csv(ROOT / "releases" / "v1.0" / "ard.csv")
    b = pd.read_csv(ROOT / "releases" / "v2.0" / "ard.csv")
    ev = lambda d, p: d[(d.OUTPUT_ID == "14.2.5") & (d.PARAMETER == p) & (d.STAT == "EVENTS_N")].VALUE.iloc[0]  # noqa: E731
    assert ev(b, "OS") > ev(a, "OS") and ev(b, "PFS") > ev(a, "PFS")
    assert ev(a, "PFS") == 24 and ev(a, "OS") == 19


def test_changes_between_snapshots():
    base = dict(OUTPUT_ID="t", ANALYSIS="a", POPULATION="p", GROUP="All", METHOD="")
    prev = pd.DataFrame([{**base, "PARAMETER": "PFS", "STAT": "MEDIAN", "VALUE": 5.32},
                         {**base, "PARAMETER": "PFS", "STAT": "N", "VALUE": 29.0},
                         {**base, "PARAMETER": "OS", "STAT": "MEDIAN", "VALUE": np.nan},
                         {**base, "PARAMETER": "DOR", "STAT": "N", "VALUE": 9.0}])
    cur = pd.DataFrame([{**base, "PARAMETER": "PFS", "STAT": "MEDIAN", "VALUE": 5.59},
                        {**base, "PARAMETER": "PFS", "STAT": "N", "VALUE": 29.0},
                        {**base, "PARAMETER": "OS", "STAT": "MEDIAN", "VALUE": np.nan},
                        {**base, "PARAMETER": "TTR", "STAT": "N", "VALUE": 9.0}])
    ch = changes(prev, cur)
    got = {(r.CHANGE, r.PARAMETER) for r in ch.itertuples()}
    assert got == {("moved", "PFS"), ("added", "TTR"), ("removed", "DOR")}
    moved = ch[ch.CHANGE == "moved"].iloc[0]
    assert (moved.PREVIOUS, moved.CURRENT) == (5.32, 5.59)
    assert list(ch.columns[:len(KEY)]) == KEY


def _tree_hash(folder):
    h = hashlib.sha256()
    for p in sorted(folder.rglob("*")):
        if p.is_file():
            h.update(str(p.relative_to(folder)).encode())
            h.update(p.read_bytes())
    return h.hexdigest()


@pytest.fixture(scope="module")
def scratch(tmp_path_factory):
    from apec_sar.paths import scratch_copy
    return scratch_copy(tmp_path_factory.mktemp("scratch") / "project", ROOT)


def _run(project):
    env = {**os.environ, "APEC_SAR_ROOT": str(project)}
    res = subprocess.run([sys.executable, "-m", "apec_sar.pipeline", "--no-render"], cwd=project, env=env,
                         capture_output=True, text=True)
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-2000:]


def test_two_clean_runs_are_byte_identical(scratch):
    from .test_pipeline_incremental import assert_every_written_file_is_declared
    _run(scratch)
    assert_every_written_file_is_declared(scratch)
    first = {d: _tree_hash(scratch / d) for d in ("notebooks", "data/ard", "data/derived")}
    for d in ("data/ard", "data/derived"):
        shutil.rmtree(scratch / d)
    _run(scratch)
    second = {d: _tree_hash(scratch / d) for d in ("notebooks", "data/ard", "data/derived")}
    assert first == second
    # and the committed notebooks are exactly what a clean run produces
    assert _tree_hash(scratch / "notebooks") == _tree_hash(ROOT / "notebooks")


def test_v1_reproduced_from_its_record():
    """v1.0 is rebuilt from the commit and data lock recorded in history.yml (not from today's
    code and data, which have changed since): its ARD equals the snapshot."""
    from apec_sar.release import rebuild

    assert rebuild("1.0").empty


def test_rebuild_names_a_missing_commit(tmp_path):
    from apec_sar.release import extract_commit, recorded_commit

    assert recorded_commit({"built_from_commit": "70215f097c4a (uncommitted changes)"}) == "70215f097c4a"
    with pytest.raises(SystemExit, match="commit 0123456789ab is not in the repository"):
        extract_commit("0123456789ab", tmp_path / "tree", ROOT)


def test_recorded_commit_tree_is_extracted(tmp_path):
    from apec_sar.release import extract_commit

    h = {str(x["version"]): x for x in history()}["1.0"]
    tree = extract_commit(h["built_from_commit"], tmp_path / "tree", ROOT)
    assert (tree / "data" / "datalock.json").is_file() and (tree / "src" / "apec_sar" / "pipeline.py").is_file()
    assert not (tree / "releases" / "v1.0").exists()          # the tree v1.0 was built from, before its release


def test_set_variables_changes_only_the_sar_block(tmp_path):
    from apec_sar.release import set_variables
    (tmp_path / "_variables.yml").write_text(
        '# comment\nsar:\n  version: "2.0"\n  status: "final"\n  data-cutoff: "2023-06-30"\n'
        'sap:\n  version: "1.0"\n  status: "final"\n', encoding="utf-8")
    (tmp_path / "_quarto.yml").write_text('book:\n  output-file: "APEC-SAR-v2.0"\n', encoding="utf-8")
    set_variables(tmp_path, "3.1", "draft", "2023-12-31")
    assert (tmp_path / "_variables.yml").read_text(encoding="utf-8") == (
        '# comment\nsar:\n  version: "3.1"\n  status: "draft"\n  data-cutoff: "2023-12-31"\n'
        'sap:\n  version: "1.0"\n  status: "final"\n')
    assert 'output-file: "APEC-SAR-v3.1"' in (tmp_path / "_quarto.yml").read_text(encoding="utf-8")
