"""Partitioned cleaning + derivation (used for the 10^6-patient benchmark) gives the same
counts as the in-memory path."""

from __future__ import annotations

import datetime as dt

from apec_sar import scale

from .conftest import ROOT


def test_partitioned_run_matches_in_memory(tmp_path, derived, cleaned):
    r = scale.run(ROOT / "data" / "raw", tmp_path, dt.date(2022, 7, 3), partitions=3, workers=2)
    assert r.patients_analysed == 29
    assert r.consort.N.tolist() == derived.consort.N.tolist()
    assert r.reconciliation.drop(columns="RECONCILES").equals(derived.reconciliation.drop(columns="RECONCILES"))
    assert r.queries == len(cleaned.queries)
