"""The analyses of issue 10 on hand-built data (typed-in expected values; CIs from R
``binom.test``), and the irAE survival analyses and the reverse-KM follow-up against R
``survival`` on the derived data of the committed extract."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from apec_sar.analysis import exposure as E
from apec_sar.analysis import irae as I
from apec_sar.analysis import prior_therapy as P
from apec_sar.analysis import response as R
from apec_sar.analysis import survival as S

R_DIR = Path(__file__).parent / "r"
needs_r = pytest.mark.skipif(shutil.which("Rscript") is None,
                             reason="R is not installed (apt-get install r-base-core r-cran-survival)")
T0 = pd.Timestamp("2021-01-01")
M = 30.4375


def stat(ard, **kw):
    df = ard.frame() if hasattr(ard, "frame") else ard
    for k, v in kw.items():
        df = df[df[k.upper()] == v]
    assert len(df) == 1, kw
    return float(df.VALUE.iloc[0])


# --- response ----------------------------------------------------------------------------------

def adrs_hand():
    rows = {"BOR": ["PR", "SD", "SD", "PD", "NE"], "BORSD28": ["PR", "SD", "SD", "SD", "NE"],
            "BORSD56": ["PR", "SD", "NE", "PD", "NE"], "CBOR": ["SD", "SD", "SD", "PD", "NE"],
            "CBR": ["Y", "N", "N", "N", "N"]}
    return pd.concat([pd.DataFrame({"USUBJID": list("ABCDE"), "PARAMCD": p, "AVALC": v}) for p, v in rows.items()],
                     ignore_index=True)


def test_disease_control_by_sd_window_and_clinical_benefit():
    a = R.disease_control_sensitivity(adrs_hand(), "t")
    want = {"BORSD28": (4, 80.0, 28.35820639, 99.49492366), "BOR": (3, 60.0, 14.66327996, 94.72550495),
            "BORSD56": (2, 40.0, 5.274495053, 85.33672004), "CBR": (1, 20.0, 0.5050763379, 71.6417936118)}
    for p, (k, rate, lo, hi) in want.items():
        assert stat(a, parameter=p, stat="N") == 5
        assert stat(a, parameter=p, stat="RATE_N") == k and stat(a, parameter=p, stat="RATE") == rate
        assert stat(a, parameter=p, stat="RATE_LCL") == pytest.approx(lo, rel=1e-8)
        assert stat(a, parameter=p, stat="RATE_UCL") == pytest.approx(hi, rel=1e-8)
    assert stat(a, parameter="BORSD28", stat="n[SD]") == 3 and stat(a, parameter="BORSD56", stat="n[NE]") == 2
    t = R.disease_control_table(a.frame())
    assert t["Rate, n (%)"].tolist() == ["4 (80.0)", "3 (60.0)", "2 (40.0)", "1 (20.0)"]
    assert t["SD, n"].tolist() == ["3", "2", "1", ""]


def test_response_by_population_and_two_full_columns():
    adrs = adrs_hand()
    adsl = pd.DataFrame({"USUBJID": list("ABCDE"), "EFFFL": "Y", "RSEVALFL": ["Y", "Y", "Y", "Y", "N"]})
    a = R.response_by_population(adrs, adsl, "t")
    assert stat(a, population="Analysis set", parameter="BOR", stat="ORR_N") == 1
    assert stat(a, population="Response-evaluable set", parameter="BOR", stat="N") == 4
    assert stat(a, population="Response-evaluable set", parameter="BOR", stat="ORR") == 25.0
    assert stat(a, population="Analysis set", parameter="CBOR", stat="ORR") == 0.0
    t = R.response_table(a.frame()).set_index("Statistic")
    assert list(t.columns) == ["Unconfirmed (primary)", "Confirmed"]
    assert t.loc["Partial response (PR), n (%)"].tolist() == ["1 (20.0)", "0 (0.0)"]
    assert t.loc["Disease control rate (CR + PR + SD), n (%)"].tolist() == ["3 (60.0)", "3 (60.0)"]


def test_time_to_response_median_and_range():
    adtte = pd.DataFrame({"USUBJID": list("ABCD") + ["A", "C"], "PARAMCD": ["TTR"] * 4 + ["TTRC"] * 2,
                          "AVAL": [43, 50, 85, 127, 43, 85]})
    a = R.time_to_response(adtte, "t")
    assert stat(a, parameter="TTR", stat="n") == 4
    assert stat(a, parameter="TTR", stat="MEDIAN") == pytest.approx(67.5 / M)
    assert stat(a, parameter="TTR", stat="MIN") == pytest.approx(43 / M)
    assert stat(a, parameter="TTR", stat="MAX") == pytest.approx(127 / M)
    assert stat(a, parameter="TTR", stat="Q1") == pytest.approx(48.25 / M)   # type 7: 43 + 0.75 x 7
    assert stat(a, parameter="TTRC", stat="MEDIAN") == pytest.approx(64 / M)
    t = R.time_to_response_table(a.frame())
    assert t["Range, months"].tolist() == ["1.41 - 4.17", "1.41 - 2.79"]


# --- follow-up ---------------------------------------------------------------------------------

def test_followup_reverse_km_and_potential():
    adtte = pd.DataFrame({"USUBJID": list("ABCDEF"), "PARAMCD": "OS", "AVAL": [100, 150, 200, 250, 300, 350],
                          "CNSR": [0, 5, 0, 5, 5, 5]})
    adsl = pd.DataFrame({"USUBJID": list("ABCDEF"),
                         "TRTSDT": [T0 + pd.Timedelta(days=d) for d in (0, 10, 20, 30, 40, 50)],
                         "DCUTDT": T0 + pd.Timedelta(days=399)})
    a = S.followup_summary(adtte, adsl, "t")
    # reverse KM: 'events' (censorings) at 150 (S 4/5), 250 (8/15), 300 (4/15), 350 (0)
    assert stat(a, stat="FU_REVKM_MEDIAN") == pytest.approx(300 / M)
    assert stat(a, stat="FU_REVKM_Q1") == pytest.approx(250 / M)
    assert stat(a, stat="FU_REVKM_Q3") == pytest.approx(350 / M)
    # potential follow-up 400, 390, ..., 350 days
    assert stat(a, stat="FU_POT_MEDIAN") == pytest.approx(375 / M)
    assert (stat(a, stat="FU_POT_MIN"), stat(a, stat="FU_POT_MAX")) == pytest.approx((350 / M, 400 / M))
    t = S.followup_table(a.frame())
    assert t.Value.iloc[2] == "12.32 (11.50 - 13.14)"


def test_no_followup_rows_in_the_ttet01_summary():
    adtte = pd.DataFrame({"USUBJID": list("ABC"), "PARAMCD": "PFS", "AVAL": [30, 60, 90], "CNSR": [0, 1, 0],
                          "EVNTDESC": ["Death", None, "Death"], "CNSDTDSC": [None, "Last date known alive", None]})
    st = set(S.tte_summary(adtte, "PFS", "t")[0].frame().STAT)
    assert not {s for s in st if s.startswith("FOLLOWUP")}


@needs_r
def test_followup_reverse_km_agrees_with_r(derived, tmp_path):
    adsl, adtte = derived.datasets["adsl"], derived.datasets["adtte"]
    eff = adsl[adsl.EFFFL == "Y"]
    x = adtte[(adtte.PARAMCD == "OS") & adtte.USUBJID.isin(eff.USUBJID)]
    src, ref = tmp_path / "in.csv", tmp_path / "out.csv"
    pd.DataFrame({"time": x.AVAL, "status": (x.CNSR == 0).astype(int)}).to_csv(src, index=False)
    res = subprocess.run(["Rscript", str(R_DIR / "ard_reference.R"), str(src), str(ref)], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    r = pd.read_csv(ref).set_index("STAT").VALUE
    a = S.followup_summary(x, eff, "t")
    for mine, theirs in (("FU_REVKM_MEDIAN", "FOLLOWUP_MEDIAN"), ("FU_REVKM_LCL", "FOLLOWUP_LCL"),
                         ("FU_REVKM_UCL", "FOLLOWUP_UCL")):
        got, want = stat(a, stat=mine), r[theirs]
        assert (np.isnan(got) and np.isnan(want)) or got == pytest.approx(want, rel=1e-6), mine


# --- exposure ----------------------------------------------------------------------------------

def test_exposure_by_drug():
    adex = pd.DataFrame({
        "USUBJID": list("ABC"), "ANLCYC": [3, 3, 2], "ANLDURD": [63, 63, 26], "ANLCUMD": [504.0, 392.0, 228.0],
        "ANLDI": [8.0, 392 / 63, 228 / 26], "ANLRDI": [1.0, 392 / 420, 1.0], "ANLRDIP": [1.0, 392 / 504, 1.0],
        "ANLDOSE0": [12.0, 10.0, 12.0], "ANLFDOSE": [12.0, 8.0, 12.0], "ANLREDFL": ["N", "Y", "N"],
        "ANLTTRED": [np.nan, 43, np.nan], "ANLNINT": [0, 1, 0], "ANLNDLY": [0, 0, 1],
        "PD1AGENT": ["camrelizumab", None, "sintilimab"], "PD1N": [3, 0, 2], "PD1NEXP": [3, np.nan, 2],
        "PD1DI": [1.0, np.nan, 1.0], "PD1DURD": [63, np.nan, 26], "PD1NDLY": [0, 0, 1]})
    a = E.exposure_by_drug(adex, "t")
    an = "exposure: anlotinib"
    assert stat(a, analysis=an, parameter="ALL", stat="N") == 3
    assert stat(a, analysis=an, parameter="ANLRDIPC", stat="MEDIAN") == pytest.approx(100.0)
    assert stat(a, analysis=an, parameter="ANLRDIPC", stat="MIN") == pytest.approx(100 * 392 / 420)
    assert stat(a, analysis=an, parameter="ANLRDIPPC", stat="MIN") == pytest.approx(100 * 392 / 504)
    assert stat(a, analysis=an, parameter="ANLRDILO", stat="n[Y]") == 0          # 93.3% is not < 85%
    assert stat(a, analysis=an, parameter="ANLFDOSE", stat="n[8]") == 1
    assert stat(a, analysis=an, parameter="ANLINTFL", stat="n[Y]") == 1
    assert stat(a, analysis="exposure: anlotinib, reduced", parameter="ANLTTRED", stat="MEDIAN") == 43
    p = "exposure: PD-1 inhibitor"
    assert stat(a, analysis=p, parameter="ALL", stat="N") == 2
    assert stat(a, analysis=p, parameter="PD1AGENT", stat="n[sintilimab]") == 1
    assert stat(a, analysis=p, parameter="PD1DLYFL", stat="n[Y]") == 1
    from apec_sar.tables import describe_table
    t = describe_table(a.frame(), "All", blocks={an: "Anlotinib", p: "PD-1 inhibitor"})
    assert t.Characteristic.tolist().count("Anlotinib") == 1 and t.Characteristic.tolist().count("PD-1 inhibitor") == 1


# --- prior therapy, PD-L1, subsequent therapy ---------------------------------------------------

def test_prior_ici_pdl1_and_subsequent_summaries():
    adsl = pd.DataFrame({
        "USUBJID": list("ABCD"), "PRICIAG": ["camrelizumab", "sintilimab", "camrelizumab", "tislelizumab"],
        "PRICILN": [1.0, 2.0, 1.0, 1.0], "PRICIBR": ["PD", "PR", "SD", "SD"],
        "PRICISTP": ["Progression", "Progression", "Completed", "Progression"],
        "RESISTYP": ["Primary", "Secondary (acquired)", "PD after discontinuation", "Primary"],
        "ICIEXPD": [90, 244, 121, 100], "ICIFRA": [31, 60, 200, 30], "ICIFRB": [21, 40, 50, 25],
        "ICIINTFL": ["N", "Y", "N", "N"], "PDL1_CPS": [np.nan, 0.0, 15.0, np.nan],
        "PDL1GR": ["Not tested", "<1", ">=10", "Not tested"], "NACTFL": ["Y", "N", "Y", "N"],
        "NACTTYP": ["Chemotherapy", "None", "Anti-angiogenic TKI", "None"]})
    a = P.prior_ici_summary(adsl, "t")
    assert stat(a, parameter="RESISTYP", stat="n[Primary]") == 2
    assert stat(a, parameter="RESISTYP", stat="n[Unclassifiable]") == 0
    assert stat(a, parameter="PRICILN", stat="n[2]") == 1
    assert stat(a, parameter="ICIFRAM", stat="MEDIAN") == pytest.approx(45.5 / M)
    assert stat(a, parameter="ICIEXPM", stat="MAX") == pytest.approx(244 / M)
    b = P.pdl1_summary(adsl, "t")
    assert stat(b, parameter="PDL1GR", stat="n[Not tested]") == 2
    assert stat(b, parameter="PDL1_CPS", stat="n") == 2 and stat(b, parameter="PDL1_CPS", stat="MEDIAN") == 7.5
    c = P.subsequent_therapy_summary(adsl, "t")
    assert stat(c, parameter="NACTTYP", stat="n[Anti-angiogenic TKI]") == 1
    from apec_sar.tables import describe_table
    t = describe_table(a.frame(), "All")
    assert "  Secondary (acquired)" in t.Characteristic.tolist()


# --- irAE ----------------------------------------------------------------------------------------

def irae_hand():
    # A: irAE day 30, event day 200; B: irAE day 100 = censoring day (no split); C: none, event 60;
    # D: irAE day 50, censored 300; E: none, censored 90
    adsl = pd.DataFrame({"USUBJID": list("ABCDE"), "EFFFL": "Y", "PD1SDT": T0})
    adtte = pd.DataFrame({"USUBJID": list("ABCDE"), "PARAMCD": "PFS", "AVAL": [200, 100, 60, 300, 90],
                          "CNSR": [0, 1, 0, 1, 1]})
    adae = pd.DataFrame({"USUBJID": ["A", "A", "B", "D", "D"], "AEIRFL": ["Y", "Y", "Y", "N", "Y"],
                         "AEIRTLFL": "Y", "ASTDY": [40, 30, 100, 20, 50]})
    return adsl, adtte, adae


def test_counting_process_split_at_the_first_irae():
    cp = I.counting_process(*irae_hand(), "PFS")
    rows = [tuple(r) for r in cp[["USUBJID", "start", "stop", "event", "irae"]].itertuples(index=False)]
    assert rows == [("A", 0, 30, 0, 0), ("A", 30, 200, 1, 1), ("B", 0, 100, 0, 0), ("C", 0, 60, 1, 0),
                    ("D", 0, 50, 0, 0), ("D", 50, 300, 0, 1), ("E", 0, 90, 0, 0)]


def test_landmark_groups_and_exclusions():
    a = I.irae_landmarks(*irae_hand(), "PFS", "t", landmarks=(42, 91))
    # day 42: all at risk; irAE by day 42: A only. Day 91: C (60) and E (90) excluded; irAE: A, D
    assert stat(a, analysis="irAE landmark 42 days", group="ALL", stat="N") == 5
    assert stat(a, analysis="irAE landmark 42 days", group="IRAE=Y", stat="N") == 1
    assert stat(a, analysis="irAE landmark 91 days", group="ALL", stat="EXCLUDED") == 2
    assert stat(a, analysis="irAE landmark 91 days", group="IRAE=Y", stat="N") == 2
    assert stat(a, analysis="irAE landmark 91 days", group="IRAE=N", stat="N") == 1


def test_irae_incidence_by_definition():
    adsl = pd.DataFrame({"USUBJID": list("ABC"), "PD1SDT": [T0, T0, pd.NaT]})
    adae = pd.DataFrame({"USUBJID": ["A", "A", "B", "C"], "AEDECOD": ["Hypothyroidism", "Pneumonitis", "Hypothyroidism",
                                                                    "Hypothyroidism"],
                         "AEIRFL": ["Y", "Y", "N", "N"], "IRINVFL": ["Y", "N", "N", "Y"], "IRWINFL": "Y",
                         "AESTERFL": ["N", "Y", "N", "N"], "ARELPD1": ["Y", "Y", "Y", "N"], "AEIRTLFL": "Y",
                         "IRONSDY": [80, 120, 30, 20]})
    a = I.irae_incidence(adae, adsl, "t")
    assert stat(a, parameter="ALL", stat="N") == 2                       # received the PD-1 inhibitor
    inc = "irAE incidence"
    assert stat(a, analysis=inc, parameter="AEIRFL", stat="n") == 1
    assert stat(a, analysis=inc, parameter="AEIRFL", stat="pct") == 50.0
    assert stat(a, analysis=inc, parameter="AEIRTLFL", stat="n") == 2
    assert stat(a, parameter="AEIRTLFL", stat="n[Hypothyroidism]") == 2
    assert stat(a, analysis="irAE time to onset", stat="MEDIAN") == 80
    assert len(I.irae_incidence_table(a.frame())) == 5


@needs_r
@pytest.mark.parametrize("param", ["PFS", "OS"])
def test_irae_cox_models_agree_with_r(derived, tmp_path, param):
    """Time-dependent, naive and landmark Cox models on the derived data against R: the
    follow-up split by R's own tmerge, coxph with Efron ties."""
    adsl, adtte, adae = (derived.datasets[k] for k in ("adsl", "adtte", "adae"))
    ard, cp = I.irae_time_dependent_cox(adsl, adtte, adae, param, "t")
    ard.extend(I.irae_landmarks(adsl, adtte, adae, param, "t"))
    d = I.survival_frame(adsl, adtte, param)
    d["onset"] = d.USUBJID.map(I.first_irae_day(adae))
    src, ref = tmp_path / "in.csv", tmp_path / "out.csv"
    d.rename(columns={"USUBJID": "id", "AVAL": "time", "event": "status"}).to_csv(src, index=False)
    res = subprocess.run(["Rscript", str(R_DIR / "irae_reference.R"), str(src), str(ref)], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    r = pd.read_csv(ref).set_index("analysis")
    groups = {"time-dependent": ("irAE time-dependent Cox", "irAE (time-varying) vs none"),
              "naive": ("irAE naive Cox (immortal-time biased)", "irAE ever vs never")}
    groups.update({f"landmark {L}": (f"irAE landmark {L} days", "irAE by landmark vs none") for L in I.LANDMARK_DAYS})
    for key, (analysis, group) in groups.items():
        for mine, theirs in (("COEF", "coef"), ("SE", "se"), ("P_WALD", "p"), ("N", "n"), ("EVENTS", "events")):
            if (key, mine) == ("time-dependent", "N"):      # R counts the (start, stop] rows, the ARD patients
                assert len(cp) == r.loc[key, "n"] and stat(ard, analysis=analysis, group=group, stat="N") == len(d)
                continue
            if not stat(ard, analysis=analysis, group=group, stat="ESTIMABLE") and mine in ("COEF", "SE", "P_WALD"):
                # monotone likelihood: both fits diverge; R's coefficient runs off too
                assert abs(r.loc[key, "coef"]) > 10 or r.loc[key, "se"] > 100, key
                continue
            got = stat(ard, analysis=analysis, group=group, stat=mine)
            assert got == pytest.approx(r.loc[key, theirs], rel=1e-6), (key, mine)
    assert stat(ard, analysis="irAE time-dependent Cox", group="MODEL", stat="PATIENTS_WITH_IRAE") == \
        cp[cp.irae == 1].USUBJID.nunique() > 0
