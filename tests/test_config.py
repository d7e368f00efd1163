from __future__ import annotations

import datetime as dt

import pytest

from apec_sar.config import load_config
from apec_sar.dictionary import identifier_columns


def test_cutoff_is_the_current_release_or_later():
    from apec_sar.config import PUBLICATION_CUTOFF
    from apec_sar.release import history

    cfg = load_config()
    assert PUBLICATION_CUTOFF == dt.date(2022, 7, 3)          # the first SAR's and the abstract's
    assert cfg.status in ("draft", "final")
    recorded = {str(h["version"]): h["data_cutoff"] for h in history()}
    if cfg.version in recorded:
        assert cfg.data_cutoff.isoformat() == recorded[cfg.version]


def test_bad_config_is_named(tmp_path):
    p = tmp_path / "_variables.yml"
    p.write_text("sar:\n  study: x\n  title: y\n  version: '1'\n  status: draft\n  data-cutoff: 2022-13-01\n")
    with pytest.raises(ValueError, match="data-cutoff"):
        load_config(p)


def test_identifier_columns_declared():
    ids = identifier_columns()
    assert ids["screening_log"] == ["PATIENT_NAME", "HOSPITAL_NO", "ID_CARD_NO"]
    assert ids["demographics"] == ["HOSPITAL_NO"]
