"""Figures: the prepare functions on small hand-built inputs (expected values typed in; KM
medians from R ``survival``), and the drawn figures: no warnings, same PNG bytes twice, the A4
text width, fonts >= 7 pt, legends naming every colour and marker, CONSORT boxes inside the
canvas with no arrow through a text."""

from __future__ import annotations

import io
import warnings

import numpy as np
import pandas as pd
import pytest
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch
from matplotlib.text import Text

from apec_sar import figures as F
from apec_sar.figures.response import THRESHOLD_LEGEND
from apec_sar.figures.safety import axis_end
from apec_sar.stats.km import kaplan_meier

NAN = float("nan")


def draw(make, *args, **kwargs):
    """Build a figure with every warning turned into an error."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fig = make(*args, **kwargs)
        fig.canvas.draw()
    return fig


def legend_texts(fig):
    legends = [ax.get_legend() for ax in fig.axes if ax.get_legend()] + list(fig.legends)
    return [t.get_text() for lg in legends for t in lg.get_texts()]


def texts(fig):
    return [t for t in fig.findobj(Text) if t.get_visible() and t.get_text().strip()]


def check_print_rules(fig):
    w, _ = fig.get_size_inches()
    assert w <= 6.3 + 1e-9
    small = [(t.get_text(), t.get_fontsize()) for t in texts(fig) if t.get_fontsize() < 7]
    assert small == []
    fig_box = fig.bbox
    r = fig.canvas.get_renderer()
    outside = [t.get_text() for t in texts(fig)
               if not fig_box.contains(*t.get_window_extent(r).p0) or not fig_box.contains(*t.get_window_extent(r).p1)]
    assert outside == []


def check_deterministic(make, *args, **kwargs):
    a = F.png_bytes(draw(make, *args, **kwargs))
    b = F.png_bytes(draw(make, *args, **kwargs))
    assert a == b
    assert a[:8] == b"\x89PNG\r\n\x1a\n"
    assert b"Software" not in a and b"Matplotlib" not in a


# ---- Kaplan-Meier ------------------------------------------------------------------------

@pytest.fixture
def two_groups():
    return {"A": kaplan_meier([1, 2, 3, 4], [1, 1, 1, 1]), "B": kaplan_meier([2, 2, 5, 6], [1, 1, 0, 1])}


def test_km_ticks_choose_the_smallest_step_with_at_most_ten_intervals():
    assert F.km_ticks({"x": kaplan_meier([1, 8], [1, 1])}).tolist() == [0, 1, 2, 3, 4, 5, 6, 7, 8]
    assert F.km_ticks({"x": kaplan_meier([1, 23.1], [1, 0])}).tolist() == [0, 3, 6, 9, 12, 15, 18, 21, 24]
    assert F.km_ticks({"x": kaplan_meier([1, 23.1], [1, 0])}, xmax=18).tolist() == [0, 2, 4, 6, 8, 10, 12, 14, 16, 18]
    assert F.km_ticks({"x": kaplan_meier([1, 5], [1, 0])}, step=3, xmax=24).tolist() == [0, 3, 6, 9, 12, 15, 18, 21, 24]


def test_risk_table_counts_patients_still_at_risk_at_each_tick_per_group(two_groups):
    t = F.risk_table(two_groups, [0, 2, 4, 6])
    assert t.index.tolist() == ["A", "B"]
    assert t.columns.tolist() == ["0", "2", "4", "6"]
    assert t.loc["A"].tolist() == [4, 3, 1, 0]
    assert t.loc["B"].tolist() == [4, 4, 2, 1]


def test_km_frame_has_a_time_zero_row_and_the_steps():
    f = F.km_frame({"All": kaplan_meier([1, 2, 2, 3], [1, 0, 1, 1])})
    assert f.time.tolist() == [0.0, 1.0, 2.0, 3.0]
    assert f.n_risk.tolist() == [4, 4, 3, 1]
    assert f.n_event.tolist() == [0, 1, 1, 1]
    assert f.n_censor.tolist() == [0, 0, 1, 0]
    assert f.estimate.tolist() == pytest.approx([1.0, 0.75, 0.5, 0.0])
    assert f.conf_low.iloc[0] == 1.0 and f.conf_high.iloc[0] == 1.0


def test_km_median_table_matches_r_survival():
    # R: quantile(survfit(Surv(c(1,2,2,3), c(1,0,1,1)) ~ 1, conf.type = "log-log"), 0.5): 2.5 (1, NA)
    #    quantile(survfit(Surv(1:6, c(1,1,0,1,1,0)) ~ 1, conf.type = "log-log"), 0.5): 4 (1, NA)
    m = F.km_median_table({"a": kaplan_meier([1, 2, 2, 3], [1, 0, 1, 1]),
                           "b": kaplan_meier([1, 2, 3, 4, 5, 6], [1, 1, 0, 1, 1, 0])})
    assert m.group.tolist() == ["a", "b"]
    assert m.n.tolist() == [4, 6]
    assert m.events.tolist() == [3, 4]
    assert m.median_ci.tolist() == ["2.50 (1.00, NE)", "4.00 (1.00, NE)"]


def test_km_curves_one_per_group_in_the_given_order():
    d = pd.DataFrame({"time": [1, 2, 3, 4, 5], "status": [1, 0, 1, 1, 1], "g": ["y", "x", "y", "x", "x"]})
    c = F.km_curves(d, "g", levels=["y", "x"], labels={"y": "Group Y"})
    assert list(c) == ["Group Y", "x"]
    assert [k.n for k in c.values()] == [2, 3]
    with pytest.raises(ValueError, match="no patients with g == 'z'"):
        F.km_curves(d, "g", levels=["z"])


def test_km_plot_names_the_axis_after_the_endpoint_and_explains_the_marks(two_groups):
    one = {"PFS": kaplan_meier([1, 2, 3, 4], [1, 0, 1, 1])}
    fig = draw(F.km_plot, one, "Progression-free survival")      # the stored notebooks' call
    assert fig.axes[0].get_ylabel() == "Progression-free survival probability"
    assert legend_texts(fig) == ["PFS", "Censored", "95% CI (log-log)"]
    fig = draw(F.km_plot, {"Responders": one["PFS"]}, endpoint="DOR")
    assert fig.axes[0].get_ylabel() == "Probability of remaining in response"
    assert fig.axes[0].get_xlabel() == "Months since first response"
    fig = draw(F.km_plot, two_groups, endpoint="OS", ticks=[0, 2, 4, 6], annotation="Log-rank p = 0.5")
    assert fig.axes[0].get_ylabel() == "Overall survival probability"
    assert legend_texts(fig) == ["A", "B", "Censored"]
    shown = [t.get_text() for t in texts(fig)]
    assert "Log-rank p = 0.5" in shown and "Number at risk" in shown and "Median (95% CI), months" in shown
    check_print_rules(fig)


def test_km_at_risk_rows_sit_on_the_plot_ticks(two_groups):
    fig = draw(F.km_plot, two_groups, ticks=[0, 2, 4, 6])
    ax, ax_r = fig.axes
    assert ax.get_xticks().tolist() == [0, 2, 4, 6]
    assert ax_r.get_xlim() == ax.get_xlim()
    assert ax_r.get_position().x0 == ax.get_position().x0 and ax_r.get_position().x1 == ax.get_position().x1
    cells = sorted((t.get_position()[1], t.get_position()[0], t.get_text()) for t in ax_r.texts)
    assert [(y, x, s) for y, x, s in cells] == [(0, 0, "4"), (0, 2, "3"), (0, 4, "1"), (0, 6, "0"),
                                                (1, 0, "4"), (1, 2, "4"), (1, 4, "2"), (1, 6, "1")]
    assert [t.get_text() for t in ax_r.get_yticklabels()] == ["A", "B"]


def test_km_plot_long_group_names_go_above_their_rows(two_groups):
    long = {"a group with a very long descriptive name": two_groups["A"], "B": two_groups["B"]}
    fig = draw(F.km_plot, long)
    assert [t.get_text() for t in fig.axes[1].get_yticklabels()] == []
    assert "a group with a very long descriptive name" in [t.get_text() for t in fig.axes[1].texts]
    check_print_rules(fig)


def test_km_plot_is_deterministic(two_groups):
    check_deterministic(F.km_plot, two_groups, endpoint="PFS")


# ---- forest ------------------------------------------------------------------------------

@pytest.fixture
def cox_rows():
    return pd.DataFrame({"label": ["Age: >=65 vs <65", "Sex: F vs M", "Liver metastases: Y vs N"],
                         "hr": [0.625, 12.0, NAN], "lower": [0.28, 3.1, NAN], "upper": [1.374, 46.0, NAN],
                         "n": [29, 29, 29], "events": [24, 24, 24]})


@pytest.fixture
def orr_rows():
    return pd.DataFrame({"label": ["All patients", "Age: <65", "Age: >=65", "Liver metastases: Y"],
                         "n": [29, 19, 10, 4], "responders": [9, 7, 2, 1],
                         "orr": [31.03448, 36.84211, 20.0, 25.0], "lower": [15.28459, 16.28859, 2.52107, 0.63095],
                         "upper": [50.83234, 61.64221, 55.60955, 80.58796]})


def test_forest_table_prints_counts_and_the_estimate_with_its_ci(cox_rows):
    t = F.forest_table(cox_rows, "hr", {"n": "n", "Events": "events"}, label_header="Factor")
    assert t[["Factor", "n", "Events", "HR (95% CI)"]].values.tolist() == [
        ["Age: ≥65 vs <65", "29", "24", "0.63 (0.28, 1.37)"],
        ["Sex: F vs M", "29", "24", "12.00 (3.10, 46.00)"],
        ["Liver metastases: Y vs N", "29", "24", "NE"]]
    assert t._kind.tolist() == ["estimate", "estimate", "not estimable"]


def test_forest_table_nests_subgroups_and_applies_the_minimum_n(orr_rows):
    t = F.forest_table(orr_rows, "orr", {"Responders/n": lambda r: f"{r.responders}/{r.n}"}, label_header="Subgroup",
                       est_header="ORR, % (95% CI)", digits=1, min_n=5, nest=True)
    assert t[["Subgroup", "Responders/n", "ORR, % (95% CI)"]].values.tolist() == [
        ["All patients", "9/29", "31.0 (15.3, 50.8)"],
        ["Age", "", ""],
        ["<65", "7/19", "36.8 (16.3, 61.6)"],
        ["≥65", "2/10", "20.0 (2.5, 55.6)"],
        ["Liver metastases", "", ""],
        ["Y", "1/4", "n < 5: not shown"]]
    assert t._kind.tolist() == ["estimate", "header", "estimate", "estimate", "header", "too few"]
    assert t._indent.tolist() == [0, 0, 1, 1, 0, 1]
    assert np.isnan(t._est.iloc[5])


def test_forest_table_names_a_missing_column(cox_rows):
    with pytest.raises(ValueError, match=r"columns \['p'\] not in the rows"):
        F.forest_table(cox_rows, "hr", {"p": "p"})


def test_draw_forest_log_axis_plain_ticks_reference_and_arrows(cox_rows):
    t = F.forest_table(cox_rows, "hr", {"n": "n", "Events": "events"}, label_header="Factor")
    fig = draw(F.draw_forest, t, xlabel="Hazard ratio (log scale)", ref_label="HR = 1",
               header=("Lower hazard", "Higher hazard"))
    ax = fig.axes[0]
    assert [lab.get_text() for lab in ax.get_xticklabels()] == ["0.1", "0.2", "0.5", "1", "2", "5", "10"]
    assert ax.get_xticks(minor=True).tolist() == []
    assert legend_texts(fig) == ["Estimate (95% CI)", "HR = 1", "CI beyond the axis"]
    shown = [x.get_text() for x in texts(fig)]
    assert "0.63 (0.28, 1.37)" in shown and "NE" in shown and "not estimable" in shown
    assert [line.get_marker() for line in ax.lines if line.get_marker() in ("<", ">")] == [">"]
    check_print_rules(fig)


def test_draw_forest_linear_axis_for_response_rates(orr_rows):
    t = F.forest_table(orr_rows, "orr", {"Responders/n": lambda r: f"{r.responders}/{r.n}"}, label_header="Subgroup",
                       est_header="ORR, % (95% CI)", digits=1, min_n=5, nest=True)
    fig = draw(F.draw_forest, t, xlabel="Objective response rate (%)", ref=31.03448, ref_label="All patients, 31.0%",
               xlim=(0, 100), log=False, ticks=range(0, 101, 20), size_by_n=True)
    assert [lab.get_text() for lab in fig.axes[0].get_xticklabels()] == ["0", "20", "40", "60", "80", "100"]
    assert legend_texts(fig) == ["Estimate (95% CI), marker area ∝ n", "All patients, 31.0%"]
    check_print_rules(fig)
    check_deterministic(F.draw_forest, t, xlim=(0, 100), log=False, ref=31.0)


def test_draw_forest_refuses_labels_that_leave_no_room(cox_rows):
    rows = cox_rows.assign(label="a label far too long for any forest plot to print beside its estimate " * 2)
    with pytest.raises(ValueError, match="shorten the labels"):
        F.draw_forest(F.forest_table(rows, "hr"))


def test_previous_forest_call_still_draws(cox_rows, orr_rows):
    assert legend_texts(draw(F.forest, cox_rows, "HR"))[:2] == ["Estimate (95% CI)", "HR = 1"]
    assert legend_texts(draw(F.forest, orr_rows.rename(columns={"orr": "hr"}), "ORR", ref=31.0, log=False))[1] == \
        "All patients, 31.0%"


# ---- CONSORT -----------------------------------------------------------------------------

def consort_table(reasons):
    rows = [("Records screened", None, 50), ("Duplicate patient records removed", None, 1),
            ("Patients screened", None, 49)]
    rows += [(f"Excluded: {text}", crit, n) for text, crit, n in reasons]
    excluded = sum(r[2] for r in reasons)
    rows += [("Patients excluded", None, excluded), ("Patients analysed", None, 49 - excluded)]
    return pd.DataFrame(rows, columns=["STEP", "CRITERION", "N"])


def test_consort_flow_rows():
    c = consort_table([("Aged 18 years or older", "IN1 (Registry inclusion 1)", 0),
                       ("ECOG performance status 0-2", "IN2 (Registry inclusion 2)", 2),
                       ("Prior anlotinib", "EX1 (Registry exclusion 1)", 1)])
    f = F.consort_flow(c)
    nb = "\u00a0"
    assert f.values.tolist() == [
        [0, "main", 0, f"Screening-log records (n{nb}={nb}50)"],
        [1, "side", 0, f"Duplicate records of the same patient removed (n{nb}={nb}1)"],
        [2, "main", 0, f"Patients assessed for eligibility (n{nb}={nb}49)"],
        [3, "side", 0, f"Excluded, by the first criterion not met (n{nb}={nb}3)"],
        [3, "side", 1, f"Registry inclusion criterion not met (n{nb}={nb}2)"],
        [3, "side", 2, f"IN2 ECOG performance status 0-2 (n{nb}={nb}2)"],
        [3, "side", 1, f"Registry exclusion criterion met (n{nb}={nb}1)"],
        [3, "side", 2, f"EX1 Prior anlotinib (n{nb}={nb}1)"],
        [4, "main", 0, f"Analysed: analysis set and safety set (n{nb}={nb}46)"]]


def test_consort_flow_accepts_extra_steps_and_side_boxes():
    c = pd.concat([consort_table([("Prior anlotinib", "EX1 (Registry exclusion 1)", 1)]),
                   pd.DataFrame([("Discontinued: Progressive disease", None, 30), ("Discontinued: Toxicity", None, 3),
                                 ("Discontinued treatment", None, 33), ("On treatment at data cut-off", None, 15)],
                                columns=["STEP", "CRITERION", "N"])], ignore_index=True)
    f = F.consort_flow(c, side_steps={**F.consort.SIDE_STEPS, "Discontinued treatment": "Discontinued: "})
    tail = f[f.BOX >= 5].values.tolist()
    nb = "\u00a0"
    assert tail == [[5, "side", 0, f"Discontinued treatment (n{nb}={nb}33)"],
                    [5, "side", 1, f"Progressive disease (n{nb}={nb}30)"],
                    [5, "side", 1, f"Toxicity (n{nb}={nb}3)"],
                    [6, "main", 0, f"On treatment at data cut-off (n{nb}={nb}15)"]]
    with pytest.raises(ValueError, match="no side step has the prefix 'Discontinued: '"):
        F.consort_flow(c)


def test_consort_flow_reasons_must_add_up():
    c = consort_table([("Prior anlotinib", "EX1 (Registry exclusion 1)", 2)])
    c.loc[c.STEP == "Patients excluded", "N"] = 3
    with pytest.raises(ValueError, match="row 5: Patients excluded n = 3 but its reasons add up to 2"):
        F.consort_flow(c)


@pytest.mark.parametrize("n_reasons", [1, 15])
def test_consort_boxes_fit_the_canvas_and_arrows_miss_the_text(n_reasons):
    long = "with a deliberately long description that has to wrap over several lines of its box"
    c = consort_table([(f"Criterion {i} {long * (1 + i % 2)}", f"IN{i} (Registry inclusion {i})", 1)
                       for i in range(n_reasons)])
    fig = draw(F.consort_diagram, c)
    check_print_rules(fig)
    assert fig.get_size_inches()[1] <= F.consort.MAX_HEIGHT   # fits an A4 page (narrower main column, 7 pt)
    r = fig.canvas.get_renderer()
    boxes = {a.get_gid(): a.get_window_extent(r) for a in fig.findobj(FancyBboxPatch) if a.get_gid()}
    labels = [t for t in texts(fig) if (t.get_gid() or "").startswith("text")]
    assert len(boxes) == 5 and len(labels) >= 5 + 2 * n_reasons
    for t in labels:
        tb, bb = t.get_window_extent(r), boxes["box" + t.get_gid()[4:]]
        assert bb.x0 <= tb.x0 and tb.x1 <= bb.x1 and bb.y0 <= tb.y0 and tb.y1 <= bb.y1, t.get_text()
        assert fig.bbox.contains(bb.x0, bb.y0) and fig.bbox.contains(bb.x1, bb.y1)
    for arrow in fig.findobj(FancyArrowPatch):
        ab = arrow.get_window_extent(r)
        assert not any(ab.overlaps(t.get_window_extent(r)) for t in labels)
    check_deterministic(F.consort_diagram, c)


# ---- waterfall, swimmer, spider ----------------------------------------------------------

@pytest.fixture
def best():
    return pd.DataFrame({"USUBJID": ["P4", "P1", "P2", "P3"], "BOR": ["NE", "PD", "SD", "PR"],
                         "BEST_PCHG": [NAN, 35.0, -10.0, -45.0]})


def test_waterfall_counts(best):
    assert F.waterfall_counts(best) == {"N": 4, "n": 3, "by_bor": {"PR": 1, "SD": 1, "PD": 1}}


def test_waterfall_legend_and_n(best):
    fig = draw(F.waterfall, best)
    assert legend_texts(fig) == ["PR, partial response (n = 1)", "SD, stable disease (n = 1)",
                                 "PD, progressive disease (n = 1)", THRESHOLD_LEGEND]
    assert "n = 3 with a post-baseline measurement, of N = 4" in fig.axes[0].get_xlabel()
    assert {"+20%", "−30%"} <= {t.get_text() for t in fig.axes[0].texts}
    check_print_rules(fig)
    check_deterministic(F.waterfall, best)


def test_waterfall_rejects_an_unknown_response(best):
    with pytest.raises(ValueError, match=r"values \['VGPR'\] have no colour"):
        F.waterfall(best.assign(BOR=["NE", "PD", "SD", "VGPR"]))


@pytest.fixture
def swim():
    return pd.DataFrame({"USUBJID": ["P1", "P2", "P3"], "TRT_END": [1.8, 6.0, 9.0], "FU_END": [4.0, 10.0, 12.0],
                         "RESPONSE": [NAN, NAN, 1.4], "PROGRESSION": [1.5, 5.5, NAN], "DEATH": [4.0, 10.0, NAN],
                         "ONGOING": [False, False, True], "BOR": ["PD", "SD", "PR"]})


def test_swimmer_legend_explains_bars_and_markers(swim):
    fig = draw(F.swimmer, swim)
    assert legend_texts(fig) == [
        "On treatment, BOR PR (partial response, n = 1)", "On treatment, BOR SD (stable disease, n = 1)",
        "On treatment, BOR PD (progressive disease, n = 1)", "Follow-up after treatment (to death or last known alive)",
        "First response (CR or PR)", "Progression", "Death", "Treatment ongoing at data cut-off",
        "Alive at the last contact (censored)"]
    assert fig.axes[0].get_ylabel() == "Patient (N = 3)"
    assert [t.get_text() for t in fig.axes[0].get_yticklabels()] == ["P1", "P2", "P3"]
    check_print_rules(fig)
    check_deterministic(F.swimmer, swim)


@pytest.fixture
def spider_rows():
    return pd.DataFrame({"USUBJID": ["P1", "P1", "P2", "P2", "P2", "P3"], "MONTHS": [0, 1.4, 0, 1.5, 2.9, 0],
                         "PCHG": [0, 30.0, 0, -35.0, -50.0, 0], "BOR": ["PD", "PD", "PR", "PR", "PR", "NE"]})


def test_spider_counts_patients_with_a_post_baseline_measurement(spider_rows):
    assert F.spider_counts(spider_rows) == {"n": 2, "by_bor": {"PR": 1, "PD": 1}}


def test_spider_legend_and_reference_lines(spider_rows):
    fig = draw(F.spider, spider_rows)
    assert legend_texts(fig) == ["PR, partial response (n = 1)", "PD, progressive disease (n = 1)", THRESHOLD_LEGEND]
    assert fig.axes[0].get_legend().get_title().get_text() == \
        "Best overall response (n = 2 patients with a post-baseline measurement)"
    assert {"+20%", "−30%"} <= {t.get_text() for t in fig.axes[0].texts}
    check_print_rules(fig)
    check_deterministic(F.spider, spider_rows)


# ---- AE grades ---------------------------------------------------------------------------

@pytest.fixture
def grade_counts():
    return pd.DataFrame({"G1": [3, 2], "G2": [1, 0], "G3": [0, 1], "ANY": [4, 3]},
                        index=pd.Index(["Anaemia", "Fatigue"], name="AEDECOD"))


def test_ae_grade_table(grade_counts):
    t = F.ae_grade_table(grade_counts, 10)
    assert t.G1.tolist() == [30.0, 20.0] and t.G2.tolist() == [10.0, 0.0] and t.G3.tolist() == [0.0, 10.0]
    assert t.n.tolist() == [4, 3]
    assert t.label.tolist() == ["4 (40.0)", "3 (30.0)"]
    with pytest.raises(ValueError, match="must be positive"):
        F.ae_grade_table(grade_counts, 0)


def test_ae_axis_ends_beyond_the_longest_bar():
    assert [axis_end(x) for x in (0.0, 58.6, 60.0, 95.0, 100.0)] == [10.0, 60.0, 70.0, 100.0, 100.0]


def test_ae_grade_chart_legend_and_counts(grade_counts):
    fig = draw(F.ae_grade_chart, grade_counts, 10)
    ax = fig.axes[0]
    assert legend_texts(fig) == ["Grade 1", "Grade 2", "Grade 3"]
    assert ax.get_xlim() == (0.0, 50.0)
    assert [t.get_text() for t in ax.texts] == ["3 (30.0)", "4 (40.0)", "Any grade\nn (%)"]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["Fatigue", "Anaemia"]
    check_print_rules(fig)
    check_deterministic(F.ae_grade_chart, grade_counts, 10)


def test_show_displays_the_png_at_its_size_in_inches(best, monkeypatch):
    import IPython.display
    shown = []
    monkeypatch.setattr(IPython.display, "display", shown.append)
    fig = draw(F.waterfall, best)
    F.show(fig)
    (img,) = shown
    assert (img.width, img.height) == (604, 345)   # 6.3 x 3.6 in at 96 px per inch, rounded down
    assert img.data == F.png_bytes(fig)


def test_figure_note_is_printed_under_the_figure_pixel_for_pixel(best):
    from matplotlib.image import imread
    fig = F.waterfall(best)
    F.png_bytes(fig)                # the first draw settles the constrained layout
    plain = imread(io.BytesIO(F.png_bytes(fig)))
    noted = F.with_note(fig, ["Source: ADTR.", "Synthetic data."])
    arr = imread(io.BytesIO(F.png_bytes(noted)))
    assert arr.shape[1] == plain.shape[1] and arr.shape[0] > plain.shape[0]
    assert np.array_equal(arr[:plain.shape[0]], plain)        # the figure itself is not resampled (no shift, no blur)
    assert [t.get_text() for t in noted.texts] == ["Source: ADTR.", "Synthetic data."]


def test_waterfall_draws_a_tiny_change_visibly(best):
    b = best.copy()
    b.loc[b.BEST_PCHG.notna().idxmax(), "BEST_PCHG"] = 0.0
    fig = F.waterfall(b)
    heights = sorted(abs(p.get_height()) for p in fig.axes[0].patches)
    assert heights[0] >= 1.0 and "drawn at 1%" in fig.axes[0].get_xlabel()
