"""No raw name, hospital number or ID-card number appears in any derived file or notebook output."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from apec_sar.clean import save_clean
from apec_sar.derive import write_all

from .conftest import ROOT, read_raw


@pytest.fixture(scope="module")
def identifiers():
    scr = read_raw(ROOT / "data" / "raw", "screening_log")
    dm = read_raw(ROOT / "data" / "raw", "demographics")
    vals = set(scr.PATIENT_NAME) | set(scr.HOSPITAL_NO) | set(scr.ID_CARD_NO) | set(dm.HOSPITAL_NO)
    # also the parts a careless join could leak: the name without its "(FAKE)" suffix
    vals |= {v.replace(" (FAKE)", "") for v in scr.PATIENT_NAME}
    return sorted(vals)


def _assert_clean(blob: bytes, where: str, identifiers):
    text = blob.decode("utf-8", "replace")
    for v in identifiers:
        assert v not in text, f"{v!r} found in {where}"


def test_no_identifier_in_derived_files(tmp_path, cleaned, derived, identifiers):
    save_clean(cleaned, tmp_path / "clean")
    write_all(derived, cleaned, tmp_path / "derived")
    files = list(tmp_path.rglob("*"))
    assert any(p.suffix == ".parquet" for p in files)
    for p in files:
        if p.is_file():
            if p.suffix == ".parquet":
                df = pd.read_parquet(p)
                _assert_clean(df.to_csv(index=False).encode("utf-8"), str(p), identifiers)
            _assert_clean(p.read_bytes(), str(p), identifiers)


def test_no_identifier_in_notebook_outputs(identifiers):
    for nb in sorted((ROOT / "notebooks").glob("*.ipynb")):
        doc = json.loads(nb.read_text(encoding="utf-8"))
        outputs = [o for c in doc["cells"] if c["cell_type"] == "code" for o in c.get("outputs", [])]
        _assert_clean(json.dumps(outputs, ensure_ascii=False).encode("utf-8"), nb.name, identifiers)
