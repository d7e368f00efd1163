"""The data lock passes on the committed extract and refuses, naming the file, anything else."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest

from apec_sar import datalock

from .conftest import ROOT


def test_committed_extract_matches_the_lock():
    h = datalock.check()
    assert len(h) == 64


@pytest.fixture
def copy(tmp_path):
    raw = tmp_path / "raw"
    shutil.copytree(ROOT / "data" / "raw", raw)
    shutil.copy(ROOT / "data" / "datalock.json", tmp_path / "datalock.json")
    return raw, tmp_path / "datalock.json"


def test_modified_file_is_refused_by_name(copy):
    raw, man = copy
    p = raw / "adverse_events.csv"
    p.write_bytes(p.read_bytes().replace(b",3,", b",2,", 1))
    with pytest.raises(datalock.DataLockError, match=r"adverse_events\.csv: content differs"):
        datalock.check(raw, man)


def test_missing_and_extra_files_are_refused(copy):
    raw, man = copy
    (raw / "follow_up.csv").unlink()
    (raw / "notes.csv").write_text("x\n", encoding="utf-8")
    with pytest.raises(datalock.DataLockError) as e:
        datalock.check(raw, man)
    assert "follow_up.csv: missing" in str(e.value)
    assert "notes.csv: not in the data lock" in str(e.value)


def test_relock_then_check(copy):
    raw, man = copy
    (raw / "exposure.csv").write_text("changed\n", encoding="utf-8")
    m = datalock.write_manifest(raw, man)
    assert datalock.check(raw, man) == m["lock_hash"]


def test_command_line_exit_codes(copy):
    raw, man = copy
    ok = subprocess.run([sys.executable, "-m", "apec_sar.datalock", "check", "--raw", str(raw), "--manifest", str(man)],
                        capture_output=True, text=True)
    assert ok.returncode == 0 and "data lock OK" in ok.stdout
    (raw / "demographics.csv").write_text("tampered\n", encoding="utf-8")
    bad = subprocess.run([sys.executable, "-m", "apec_sar.datalock", "check", "--raw", str(raw), "--manifest", str(man)],
                         capture_output=True, text=True)
    assert bad.returncode == 1 and "demographics.csv" in bad.stderr
