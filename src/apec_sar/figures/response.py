"""Tumour-response figures: waterfall, swimmer and spider plots (RECIST 1.1), coloured by best
overall response with the colour-blind-safe BOR palette of :mod:`.style`.

Each figure states its N: the waterfall and spider plots count the patients with a post-baseline
target-lesion measurement among all patients given (:func:`waterfall_counts`,
:func:`spider_counts`); the dashed RECIST thresholds (+20 % progression, -30 % partial
response) are labelled at the axis and explained in the legend. The data come from
:mod:`apec_sar.analysis.response` (``best_change``, ``swimmer_data``, ``spider_data``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.transforms import blended_transform_factory

from .style import (BOR_COLOURS, BOR_MARKERS, BOR_NAMES, BOR_ORDER, INK, LIGHT_GREY, OKABE_ITO, SMALL, TEXT_WIDTH_IN,
                    new_figure, theme)

THRESHOLDS = {20: "+20%", -30: "−30%"}
MIN_BAR = 1.0            # percentage points: the shortest bar drawn
THRESHOLD_LEGEND = "RECIST 1.1: −30% (PR), +20% (PD is from the nadir)"


def _bor_present(bor: pd.Series) -> list[str]:
    unknown = sorted(set(bor.dropna()) - set(BOR_ORDER))
    if unknown:
        raise ValueError(f"best overall response values {unknown} have no colour (known: {BOR_ORDER})")
    return [b for b in BOR_ORDER if (bor == b).any()]


def bor_label(bor: str, n: int) -> str:
    """Legend text of a BOR category: 'PR, partial response (n = 9)'."""
    return f"{bor}, {BOR_NAMES[bor]} (n = {n})"


def waterfall_counts(best: pd.DataFrame) -> dict:
    """N patients given, n with a post-baseline measurement (a best change), and n per BOR among
    those drawn."""
    drawn = best[best.BEST_PCHG.notna()]
    by_bor = {b: int((drawn.BOR == b).sum()) for b in _bor_present(drawn.BOR)}
    return {"N": len(best), "n": len(drawn), "by_bor": by_bor}


def _threshold_lines(ax):
    tr = blended_transform_factory(ax.transAxes, ax.transData)
    for y, text in THRESHOLDS.items():
        ax.axhline(y, color=INK, lw=0.8, ls="--", zorder=1)
        ax.text(1.01, y, text, transform=tr, ha="left", va="center", fontsize=SMALL, color=INK)
    ax.axhline(0, color=INK, lw=0.8, zorder=1)


def waterfall(best: pd.DataFrame, *, width: float = TEXT_WIDTH_IN, height: float = 3.6):
    """Best % change from baseline in the sum of target lesions, one bar per patient with a
    post-baseline measurement, in the order given (``best_change`` sorts by best change),
    coloured by BOR."""
    counts = waterfall_counts(best)
    b = best[best.BEST_PCHG.notna()].reset_index(drop=True)
    # a change smaller than MIN_BAR points is drawn at MIN_BAR (its sign kept, no change drawn up)
    # so that every patient has a visible bar
    small = b.BEST_PCHG.abs() < MIN_BAR
    shown = b.BEST_PCHG.where(~small, np.where(b.BEST_PCHG < 0, -MIN_BAR, MIN_BAR))
    b = b.assign(POS=np.arange(len(b)), DRAWN=shown)
    present = list(counts["by_bor"])
    with theme():
        fig = new_figure(width, height, layout="constrained")
        ax = fig.add_subplot()
        sns.barplot(data=b, x="POS", y="DRAWN", hue="BOR", hue_order=present, palette=BOR_COLOURS, dodge=False,
                    saturation=1, width=0.8, legend=False, ax=ax, linewidth=0)
        _threshold_lines(ax)
        top = max(100.0, float(np.ceil((b.BEST_PCHG.max() + 10) / 10) * 10)) if len(b) else 100.0
        ax.set_ylim(-100, top)
        ax.set_yticks(np.arange(-100, top + 1, 20))
        ax.set_xticks([])
        ax.spines["bottom"].set_visible(False)
        ax.set_xlabel(f"Patients, ordered by best change (n = {counts['n']} with a post-baseline measurement, "
                      f"of N = {counts['N']})" + (f"\nchanges under {MIN_BAR:g}% drawn at {MIN_BAR:g}% so that every bar shows"
                                                 if small.any() else ""))
        ax.set_ylabel("Best change from baseline in\nsum of target lesions (%)")
        handles = [Patch(fc=BOR_COLOURS[k], lw=0) for k in present] + [Line2D([], [], color=INK, lw=0.8, ls="--")]
        labels = [bor_label(k, v) for k, v in counts["by_bor"].items()] + [THRESHOLD_LEGEND]
        ax.legend(handles, labels, title="Best overall response (RECIST 1.1)", loc="lower left", ncols=2,
                  bbox_to_anchor=(0, 1.02), alignment="left", borderaxespad=0)
    return fig


def swimmer(sw: pd.DataFrame, *, width: float = TEXT_WIDTH_IN, row_height: float = 0.17,
            time_label: str = "Months since first dose"):
    """One row per patient (longest follow-up at the top): a grey bar for the follow-up (to
    death or the last date known alive), over it the time on treatment coloured by BOR, and
    markers for the first response, progression, death and treatment ongoing at the cut-off."""
    need = {"USUBJID", "TRT_END", "FU_END", "RESPONSE", "PROGRESSION", "DEATH", "ONGOING", "BOR"} - set(sw.columns)
    if need:
        raise ValueError(f"swimmer: columns {sorted(need)} missing")
    present = _bor_present(sw.BOR)
    y = np.arange(len(sw))
    markers = {
        "First response (CR or PR)": dict(marker="^", color="black", mfc="white", mew=1.0, ms=5),
        "Progression": dict(marker="o", color="black", mfc=OKABE_ITO["yellow"], mec="black", mew=0.8, ms=5),
        "Death": dict(marker="X", color="black", mfc="black", mec="white", mew=0.5, ms=6),
        "Treatment ongoing at data cut-off": dict(marker=">", color="black", mfc="black", ms=5),
        "Alive at the last contact (censored)": dict(marker="|", color=INK, mew=1.2, ms=7),
    }
    cols = {"First response (CR or PR)": "RESPONSE", "Progression": "PROGRESSION", "Death": "DEATH"}
    with theme():
        height = 1.8 + row_height * len(sw)
        fig = new_figure(width, height, layout="constrained")
        ax = fig.add_subplot()
        ax.barh(y, sw.FU_END, color=LIGHT_GREY, height=0.7, lw=0)
        ax.barh(y, sw.TRT_END, color=[BOR_COLOURS[b] for b in sw.BOR], height=0.7, lw=0)
        for name, col in cols.items():
            ok = sw[col].notna().to_numpy()
            ax.plot(sw[col].to_numpy()[ok], y[ok], ls="none", **markers[name])
        alive = sw.DEATH.isna().to_numpy()
        ax.plot(sw.FU_END.to_numpy()[alive], y[alive], ls="none", **markers["Alive at the last contact (censored)"])
        ong = sw.ONGOING.to_numpy(dtype=bool)
        ax.plot(sw.TRT_END.to_numpy()[ong] + 0.35, y[ong], ls="none", **markers["Treatment ongoing at data cut-off"])
        ax.set_yticks(y, sw.USUBJID, fontsize=SMALL)
        ax.set_ylim(-0.6, len(sw) - 0.4)
        ax.tick_params(axis="y", length=0)
        xmax = float(np.nanmax(sw[["FU_END", "TRT_END"]].to_numpy())) if len(sw) else 1.0
        step = 3 if xmax <= 30 else 6
        ax.set_xlim(0, step * np.ceil((xmax + 0.5) / step))
        ax.set_xticks(np.arange(0, ax.get_xlim()[1] + 0.1, step))
        ax.grid(axis="x", lw=0.4, color="#E5E5E5")
        ax.set_xlabel(time_label)
        ax.set_ylabel(f"Patient (N = {len(sw)})")
        handles = [Patch(fc=BOR_COLOURS[b], lw=0) for b in present] + [Patch(fc=LIGHT_GREY, lw=0)]
        labels = [f"On treatment, BOR {b} ({BOR_NAMES[b]}, n = {int((sw.BOR == b).sum())})" for b in present]
        labels.append("Follow-up after treatment (to death or last known alive)")
        handles += [Line2D([], [], ls="none", **m) for m in markers.values()]
        labels += list(markers)
        fig.legend(handles, labels, loc="outside lower center", ncols=2)
    return fig


def spider_counts(sp: pd.DataFrame) -> dict:
    """Patients drawn (baseline and at least one post-baseline measurement) in total and per BOR."""
    post = sp[sp.MONTHS > 0].drop_duplicates("USUBJID")
    return {"n": len(post), "by_bor": {b: int((post.BOR == b).sum()) for b in _bor_present(post.BOR)}}


def spider(sp: pd.DataFrame, *, width: float = TEXT_WIDTH_IN, height: float = 3.8,
           time_label: str = "Months since first dose"):
    """% change from baseline in the sum of target lesions over time, one line per patient with
    a post-baseline measurement, coloured (and marked) by BOR."""
    counts = spider_counts(sp)
    keep = sp[sp.USUBJID.isin(sp[sp.MONTHS > 0].USUBJID)]
    present = list(counts["by_bor"])
    with theme():
        fig = new_figure(width, height, layout="constrained")
        ax = fig.add_subplot()
        sns.lineplot(data=keep, x="MONTHS", y="PCHG", units="USUBJID", estimator=None, hue="BOR", style="BOR",
                     hue_order=present, style_order=present, palette=BOR_COLOURS,
                     markers={b: BOR_MARKERS[b] for b in present}, dashes=False, sort=True, lw=0.9, ms=4,
                     mew=0, legend=False, ax=ax)
        _threshold_lines(ax)
        top = max(100.0, float(np.ceil((keep.PCHG.max() + 10) / 10) * 10)) if len(keep) else 100.0
        ax.set_ylim(-100, top)
        ax.set_yticks(np.arange(-100, top + 1, 20))
        xmax = float(keep.MONTHS.max()) if len(keep) else 1.0
        step = 3 if xmax <= 30 else 6
        ax.set_xlim(0, step * np.ceil(xmax / step))
        ax.set_xticks(np.arange(0, ax.get_xlim()[1] + 0.1, step))
        ax.set_xlabel(time_label)
        ax.set_ylabel("Change from baseline in\nsum of target lesions (%)")
        handles = [Line2D([], [], color=BOR_COLOURS[b], marker=BOR_MARKERS[b], ms=4, mew=0, lw=0.9) for b in present]
        labels = [bor_label(b, v) for b, v in counts["by_bor"].items()]
        handles.append(Line2D([], [], color=INK, lw=0.8, ls="--"))
        labels.append(THRESHOLD_LEGEND)
        ax.legend(handles, labels, loc="lower left", ncols=2, bbox_to_anchor=(0, 1.02), borderaxespad=0,
                  title=f"Best overall response (n = {counts['n']} patients with a post-baseline measurement)",
                  alignment="left")
    return fig

