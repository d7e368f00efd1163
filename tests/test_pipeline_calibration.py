"""The published APEC figures come out of cleaning + derivation of the committed extract
(not out of the generator). Expected values typed in from the publication."""

from __future__ import annotations

import pandas as pd
from lifelines import KaplanMeierFitter


def test_consort_counts(derived):
    c = derived.consort.set_index("STEP").N
    assert c["Records screened"] == 50
    assert c["Duplicate patient records removed"] == 1
    assert c["Patients screened"] == 49
    assert c["Patients analysed"] == 29
    assert c["Patients excluded"] == 20
    assert c["Excluded: No documented progression on or after a prior immune checkpoint inhibitor"] == 3   # 1 no ICI, 2 stopped for toxicity
    assert c["Eligible and treated"] == 29 and c["Response-evaluable"] == 29
    assert c["Safety set: screened patients treated"] == 49 and c["  of whom not eligible"] == 20


def test_exclusions_by_first_failed_criterion(derived, committed_truth):
    truth = pd.read_csv(committed_truth / "patients.csv")
    truth = truth[truth.RECORD_STATUS == "unique"]
    expected = {"ecog_gt2": "IN2", "not_escc": "IN3", "no_prior_line": "IN4", "no_combination": "IN5",
                "no_prior_ici": "PUB1", "ici_not_progressed": "PUB1", "outside_window": "PUB2", "prior_anlotinib": "EX1",
                "small_cell_component": "EX2", "other_malignancy": "EX3", "symptomatic_brain": "EX4",
                "unstable_systemic": "EX5"}
    want = truth.EXCLUSION_REASON.dropna().map(expected).value_counts().sort_index()
    got = derived.eligibility.EXCLCRIT.dropna().value_counts().sort_index()
    assert got.to_dict() == want.to_dict()


def test_bor(derived):
    bor = derived.datasets["adrs"].query("PARAMCD == 'BOR'").AVALC.value_counts().to_dict()
    assert bor == {"PR": 9, "SD": 16, "PD": 4}          # CR 0; ORR 31.0 %, DCR 86.2 %


def test_prior_lines_and_resections(derived):
    a = derived.datasets["adsl"].query("EFFFL == 'Y'")
    assert len(a) == 29
    assert a.PRLINES.value_counts().to_dict() == {2: 20, 1: 8, 3: 1}
    assert (a.PRIOR_RESECTION == "Y").sum() == 23
    assert (a.PRIORICI == "Y").all()


def test_ae_constraints(derived):
    """The publication's safety figures concern its 29 eligible patients (EFFFL)."""
    ae = derived.datasets["adae"]
    te = ae[(ae.TRTEMFL == "Y") & (ae.EFFFL == "Y")]
    rel = te[te.AREL == "Y"]
    assert rel.USUBJID.nunique() == 29                               # TRAE in 29/29
    by = rel.groupby("AEDECOD").USUBJID.nunique().sort_values(ascending=False)
    assert set(by.index[:2]) == {"Anemia", "Lymphocyte count decreased"} and by.iloc[1] > by.iloc[2]
    g34 = rel[rel.AETOXGR.isin([3, 4])]
    assert set(g34.AEDECOD) == {"Lymphocyte count decreased"} and g34.USUBJID.nunique() == 2
    assert (te.AETOXGR >= 3).sum() == 2 and (te.AETOXGR == 5).sum() == 0


def test_km_medians(derived):
    t = derived.datasets["adtte"]
    for param, published in (("PFS", 5.33), ("OS", 10.37)):
        x = t[t.PARAMCD == param]
        km = KaplanMeierFitter().fit(x.AVAL / 30.4375, event_observed=(x.CNSR == 0))
        assert abs(km.median_survival_time_ - published) <= 0.05, param


def test_symmetric_median_ci_as_published(derived):
    """Issue 11 item 7: the SAR's symmetric CI (median +/- 1.96 SE, the ARD rows the concordance
    compares) within 0.3 months of the published 4.28-6.38 (PFS) and 6.26-14.48 (OS)."""
    from apec_sar.analysis.survival import tte_summary

    t = derived.datasets["adtte"]
    for param, (lo, hi) in (("PFS", (4.28, 6.38)), ("OS", (6.26, 14.48))):
        a = tte_summary(t, param, "t")[0].frame().set_index("STAT").VALUE
        assert abs(a["MEDIAN_SYM_LCL"] - lo) <= 0.3 and abs(a["MEDIAN_SYM_UCL"] - hi) <= 0.3, param


def test_prior_ici_and_irae_equal_the_ground_truth(derived, cleaned, committed_truth):
    """Per patient: the SITC resistance class the generator built the prior-ICI line with, and
    the irAE flag of the SAR's definition, as derived from the raw extract."""
    key = dict(zip(cleaned.subject_key.USUBJID, cleaned.subject_key.SUBJID))
    truth = pd.read_csv(committed_truth / "patients.csv").set_index("SUBJID")
    a = derived.datasets["adsl"].query("EFFFL == 'Y'")
    names = {"primary": "Primary", "secondary": "Secondary (acquired)",
             "after_discontinuation": "PD after discontinuation", "unclassifiable": "Unclassifiable"}
    assert dict(zip(a.USUBJID.map(key), a.RESISTYP)) == truth.loc[a.USUBJID.map(key), "ICI_RESISTANCE"].map(names).to_dict()
    ae = derived.datasets["adae"]
    got = set(ae[ae.AEIRFL == "Y"].USUBJID.map(key))
    tae = pd.read_csv(committed_truth / "adverse_events.csv")
    seen = pd.to_datetime(tae.START_DATE) <= pd.Timestamp("2022-07-03")
    dup = set(truth.index[truth.RECORD_STATUS == "duplicate"])
    want = set(tae[(tae.IRAE == "Y") & seen & ~tae.SUBJID.isin(dup)].SUBJID)
    assert got == want


def test_derived_endpoints_equal_the_ground_truth(derived, cleaned, committed_truth):
    """Per patient: BOR, confirmed BOR, PFS and OS (AVAL, event/censored) as the generator knows them."""
    truth = pd.read_csv(committed_truth / "patients.csv").set_index("SUBJID")
    key = dict(zip(cleaned.subject_key.USUBJID, cleaned.subject_key.SUBJID))
    rs = derived.datasets["adrs"]
    for p, col in (("BOR", "BOR"), ("CBOR", "CBOR")):
        x = rs[rs.PARAMCD == p]
        got = dict(zip(x.USUBJID.map(key), x.AVALC))
        assert got == truth.loc[list(got), col].to_dict(), p
    t = derived.datasets["adtte"]
    for p in ("PFS", "OS"):
        x = t[t.PARAMCD == p]
        subj = x.USUBJID.map(key)
        assert (x.AVAL.to_numpy() == truth.loc[subj, f"{p}_AVAL"].to_numpy()).all(), p
        assert ((x.CNSR > 0).astype(int).to_numpy() == truth.loc[subj, f"{p}_CNSR"].to_numpy()).all(), p


def test_reconciliation_identity(derived):
    r = derived.reconciliation
    assert (r.RECORDS_IN == r.REJECTED_BY_QUERY + r.EXCLUDED_NOT_IN_POPULATION + r.EXCLUDED_AFTER_CUTOFF
            + r.ANALYSED).all()
    assert (r.RECONCILES == "yes").all()
    assert r.set_index("FILE").loc["screening_log.csv"].tolist()[:5] == [50, 1, 20, 0, 29]
    # exposure and adverse events are analysed in the safety set: every treated patient's records
    for f in ("exposure.csv", "adverse_events.csv"):
        assert r.set_index("FILE").loc[f, "EXCLUDED_NOT_IN_POPULATION"] == 0


def test_later_cutoff_sees_more_events(cleaned):
    import datetime as dt

    from apec_sar.derive import derive_all
    early = derive_all(cleaned, dt.date(2022, 7, 3)).datasets["adtte"]
    late = derive_all(cleaned, dt.date(2023, 12, 31)).datasets["adtte"]
    for p in ("PFS", "OS"):
        assert (late[late.PARAMCD == p].CNSR == 0).sum() > (early[early.PARAMCD == p].CNSR == 0).sum()
