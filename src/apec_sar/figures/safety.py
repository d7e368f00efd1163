"""Adverse-event figures: patients by worst CTCAE grade per term, as stacked percentages."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.patches import Patch
from matplotlib.transforms import ScaledTranslation, blended_transform_factory

from ..stats.rounding import fmt
from .style import FONT, GRADE_COLOURS, TEXT_WIDTH_IN, new_figure, text_size, theme


def ae_grade_table(counts: pd.DataFrame, n: int) -> pd.DataFrame:
    """Per term (rows in the order given): % of the N patients at each worst grade (columns
    G1..G5 present in ``counts``), any grade as n and %, and the printed "n (%)"."""
    if n <= 0:
        raise ValueError(f"ae_grade_table: the number of patients must be positive, not {n}")
    grades = [c for c in counts.columns if c.startswith("G") and c[1:].isdigit()]
    out = pd.DataFrame({g: 100 * counts[g] / n for g in grades}, index=counts.index)
    out["n"] = counts[grades].sum(axis=1).astype(int)
    out["pct"] = 100 * out["n"] / n
    out["label"] = [f"{k} ({fmt(p, 1)})" for k, p in zip(out["n"], out["pct"])]
    return out


def axis_end(max_pct: float) -> float:
    """The x axis ends at the next multiple of 10 % above the longest bar, at most 100 %."""
    return float(min(100.0, 10 * (np.floor(max_pct / 10) + 1)))


def ae_grade_chart(counts: pd.DataFrame, n: int, *, width: float = TEXT_WIDTH_IN, bar_height: float = 0.24,
                   population: str = "Safety set"):
    """Horizontal stacked bars: % of patients by worst CTCAE grade per term (most frequent on
    top), any-grade n (%) printed right of the axis; the legend names every grade drawn."""
    t = ae_grade_table(counts, n)
    grades = [g for g in t.columns if g.startswith("G") and t[g].sum() > 0]
    c = t.iloc[::-1]
    with theme():
        fig = new_figure(width, 1.3 + bar_height * len(c), layout="constrained")
        ax = fig.add_subplot()
        left = np.zeros(len(c))
        for g in grades:
            ax.barh(c.index, c[g].to_numpy(), left=left, color=GRADE_COLOURS[int(g[1:])], height=0.7, lw=0)
            left += c[g].to_numpy()
        ax.set_xlim(0, axis_end(float(t.pct.max()) if len(t) else 0.0))
        ax.set_xticks(np.arange(0, ax.get_xlim()[1] + 0.1, 10 if ax.get_xlim()[1] <= 60 else 20))
        ax.set_ylim(-0.6, len(c) - 0.4)
        ax.tick_params(axis="y", length=0)
        ax.grid(axis="x", lw=0.4, color="#E5E5E5")
        ax.set_xlabel(f"Patients (%), {population.lower()} N = {n}")
        # any-grade n (%) as a right-aligned column beside the axis
        header = "Any grade\nn (%)"
        col_w = max([text_size(fig, s, FONT)[0] for s in c.label] + [text_size(fig, header, FONT, "bold")[0]])
        tr = (blended_transform_factory(ax.transAxes, ax.transData)
              + ScaledTranslation(0.1 + col_w, 0, fig.dpi_scale_trans))
        for y, label in enumerate(c.label):
            ax.text(1, y, label, transform=tr, ha="right", va="center", fontsize=FONT)
        ax.text(1, len(c) - 0.4, header, transform=tr, ha="right", va="bottom", fontsize=FONT, fontweight="bold",
                multialignment="right")
        fig.legend([Patch(fc=GRADE_COLOURS[int(g[1:])], lw=0) for g in grades], [f"Grade {g[1:]}" for g in grades],
                   title="Worst CTCAE v5.0 grade", loc="outside lower center", ncols=len(grades))
    return fig
