"""The SAR's figures: prepare the numbers (a DataFrame the notebook can print), then draw exactly
those (tern's ``h_*`` -> ``g_*`` split). One style for all (:mod:`.style`: seaborn theme, A4 text
width, Okabe-Ito colours, fonts >= 7 pt at print size), deterministic PNGs (:func:`png_bytes`).

==================  ====================================  ===========================================
figure              prepare                               draw
==================  ====================================  ===========================================
CONSORT flow        :func:`consort_flow`                  :func:`consort_diagram`
Kaplan-Meier        :func:`km_curves`, :func:`km_ticks`,  :func:`km_plot`
                    :func:`km_frame`,
                    :func:`km_median_table`,
                    :func:`risk_table`
forest (HR, ORR)    :func:`forest_table`                  :func:`draw_forest`
waterfall           :func:`waterfall_counts`              :func:`waterfall`
swimmer             (``analysis.response.swimmer_data``)  :func:`swimmer`
spider              :func:`spider_counts`                 :func:`spider`
AE grades           :func:`ae_grade_table`                :func:`ae_grade_chart`
==================  ====================================  ===========================================
"""

from __future__ import annotations

from .consort import consort_diagram, consort_flow
from .forest import draw_forest, forest_table
from .km import km_curves, km_frame, km_median_table, km_plot, km_ticks, risk_table
from .response import spider, spider_counts, swimmer, waterfall, waterfall_counts
from .safety import ae_grade_chart, ae_grade_table
from ..stats.rounding import fmt
from .style import BOR_COLOURS, GRADE_COLOURS, png_bytes, save, show, theme, with_note

__all__ = [
    "consort_diagram", "consort_flow", "draw_forest", "forest_table", "km_curves", "km_frame", "km_median_table",
    "km_plot", "km_ticks", "risk_table", "spider", "spider_counts", "swimmer", "waterfall", "waterfall_counts",
    "ae_grade_chart", "ae_grade_table", "BOR_COLOURS", "GRADE_COLOURS", "png_bytes", "save", "show", "theme",
    "with_note",
    "forest",
]


def forest(rows, xlabel: str, ref: float = 1.0, log: bool = True, est: str = "hr"):
    """The previous one-call forest, kept so the stored notebooks run until they call
    :func:`forest_table` / :func:`draw_forest` directly: Cox rows (with ``events``) print n,
    events and "HR (95% CI)"; response rows (with ``responders``) print responders/n and
    "ORR, % (95% CI)" on a 0-100 axis."""
    if "responders" in rows.columns:
        table = forest_table(rows, est, {"Responders/n": lambda r: f"{r.responders}/{r.n}"}, label_header="Subgroup",
                             est_header="ORR, % (95% CI)", digits=1, min_n=5, nest=True)
        return draw_forest(table, xlabel=xlabel, ref=ref, ref_label=f"All patients, {fmt(ref, 1)}%", xlim=(0, 100),
                           log=False, ticks=range(0, 101, 20), size_by_n=True)
    table = forest_table(rows, est, {"n": "n", "Events": "events"}, label_header="Factor (comparison vs reference)",
                         est_header="HR (95% CI)")
    return draw_forest(table, xlabel=xlabel, ref=ref, ref_label="HR = 1", log=log)
