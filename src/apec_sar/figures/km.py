"""Kaplan-Meier figures, tern style (``h_data_plot`` / ``h_tbl_median_surv`` / ``h_xticks`` ->
``g_km``): prepare the frames first, then draw exactly what they hold.

- :func:`km_ticks` fixes the time ticks once; the x axis and the at-risk counts both use them, so
  the number-at-risk table is aligned with the curves by construction.
- :func:`km_frame`: the plotted steps, with a time-0 row per group.
- :func:`km_median_table`: N, events, median (95% CI) per group, as annotated on the figure.
- :func:`risk_table`: patients at risk at each tick, one row per group.
- :func:`km_plot` draws them: curves (with a CI band for a single group), censor marks, legend
  (groups, "+ Censored", the CI band), the median table above the plot, an optional caller-supplied
  annotation (e.g. a log-rank p-value: no test is computed here) and the at-risk rows, named by
  group, under the plot.

The curves come from :func:`apec_sar.stats.km.kaplan_meier` (one per group; :func:`km_curves`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.transforms import blended_transform_factory

from ..stats import km as K
from ..stats.rounding import fmt
from .style import FONT, GROUP_COLOURS, GROUP_LINESTYLES, INK, TEXT_WIDTH_IN, line_height, new_figure, text_size, theme

ENDPOINT_YLABEL = {
    "PFS": "Progression-free survival probability",
    "PFSNACT": "Progression-free survival probability",
    "PFSMISS": "Progression-free survival probability",
    "OS": "Overall survival probability",
    "DOR": "Probability of remaining in response",
}
ENDPOINT_XLABEL = {"DOR": "Months since first response"}
DEFAULT_XLABEL = "Months since first dose"
TICK_STEPS = (1, 2, 3, 6, 12, 24)
MAX_INTERVALS = 10
MAX_RISK_LABEL = 1.4   # inches: longer group names go above their at-risk row, not beside it


def km_curves(df: pd.DataFrame, by: str | None = None, time: str = "time", event: str = "status",
              levels: list | None = None, labels: dict | None = None,
              conf_type: str = "log-log") -> dict[str, K.KaplanMeier]:
    """One Kaplan-Meier curve per level of ``by`` (or one for all rows, named "All patients"),
    in the order of ``levels``; ``labels`` renames levels for the legend and at-risk rows. A
    level with no patients is an error (an empty curve cannot be drawn)."""
    if by is None:
        return {"All patients": K.kaplan_meier(df[time].to_numpy(), df[event].to_numpy(), conf_type)}
    levels = list(levels) if levels is not None else sorted(df[by].dropna().unique())
    out = {}
    for lev in levels:
        g = df[df[by] == lev]
        if g.empty:
            raise ValueError(f"km_curves: no patients with {by} == {lev!r}")
        out[str((labels or {}).get(lev, lev))] = K.kaplan_meier(g[time].to_numpy(), g[event].to_numpy(), conf_type)
    return out


def km_ticks(curves: dict[str, K.KaplanMeier], step: float | None = None, xmax: float | None = None) -> np.ndarray:
    """Time ticks 0, step, 2 step, ... up to xmax. xmax defaults to the longest follow-up rounded
    up to a whole step; step defaults to the smallest of 1, 2, 3, 6, 12, 24 (months) giving at
    most 10 intervals."""
    longest = max(float(k.time.max()) for k in curves.values())
    span = xmax if xmax is not None else longest
    if step is None:
        step = next((s for s in TICK_STEPS if span / s <= MAX_INTERVALS), TICK_STEPS[-1])
    if xmax is None:
        xmax = step * np.ceil(longest / step)
    return np.arange(0, xmax + step / 1000, step, dtype=float)


def km_frame(curves: dict[str, K.KaplanMeier]) -> pd.DataFrame:
    """The plotted steps of every curve: group, time, n_risk, n_event, n_censor, estimate,
    conf_low, conf_high, starting with a time-0 row (all at risk, estimate 1)."""
    parts = []
    for label, km in curves.items():
        parts.append(pd.DataFrame({
            "group": label,
            "time": np.concatenate([[0.0], km.time]),
            "n_risk": np.concatenate([[km.n], km.n_risk]).astype(int),
            "n_event": np.concatenate([[0], km.n_event]).astype(int),
            "n_censor": np.concatenate([[0], km.n_censor]).astype(int),
            "estimate": np.concatenate([[1.0], km.surv]),
            "conf_low": np.concatenate([[1.0], km.lower]),
            "conf_high": np.concatenate([[1.0], km.upper]),
        }))
    return pd.concat(parts, ignore_index=True)


def km_median_table(curves: dict[str, K.KaplanMeier], digits: int = 2) -> pd.DataFrame:
    """Per group: N, events, median with its Brookmeyer-Crowley 95% CI (numbers and the printed
    text "median (lower, upper)"; NE where not reached)."""
    rows = []
    for label, km in curves.items():
        med, lo, hi = K.quantile(km, 0.5)
        rows.append({"group": label, "n": km.n, "events": km.events, "median": med, "lower": lo, "upper": hi,
                     "median_ci": f"{fmt(med, digits)} ({fmt(lo, digits)}, {fmt(hi, digits)})"})
    return pd.DataFrame(rows)


def risk_table(curves: dict[str, K.KaplanMeier], ticks=None, *, step: float | None = None,
               xmax: float | None = None) -> pd.DataFrame:
    """Patients at risk (time >= t) at each tick: one row per group, one column per tick."""
    ticks = km_ticks(curves, step, xmax) if ticks is None else np.asarray(ticks, dtype=float)
    return pd.DataFrame([K.number_at_risk(km, ticks) for km in curves.values()],
                        index=pd.Index(list(curves), name="group"),
                        columns=pd.Index([f"{t:g}" for t in ticks], name="Months"))


def _endpoint_of(curves, endpoint):
    """The endpoint named, else the key of a single curve named like one ({"PFS": km}: the
    stored notebooks' call)."""
    if endpoint is None and len(curves) == 1 and next(iter(curves)) in ENDPOINT_YLABEL:
        return next(iter(curves))
    return endpoint


def km_plot(curves: dict[str, K.KaplanMeier], title: str = "", *, endpoint: str | None = None,
            ylabel: str | None = None, xlabel: str | None = None, ticks=None, step: float | None = None,
            xmax: float | None = None, show_ci: bool | None = None, colours=GROUP_COLOURS,
            linestyles=GROUP_LINESTYLES, annotation: str | None = None, median_table: bool = True,
            plot_height: float = 2.6, width: float = TEXT_WIDTH_IN, digits: int = 2):
    """KM curves with censor marks, a legend, the median table above and the number at risk
    below, all sharing the ticks of :func:`km_ticks`.

    ``endpoint`` (PFS, OS, DOR, ...) names the y axis ("Progression-free survival probability")
    and, for DOR, the x axis; ``ylabel`` / ``xlabel`` override. The CI band is drawn for a
    single group (``show_ci``); ``annotation`` is printed as given under the median table.
    """
    endpoint = _endpoint_of(curves, endpoint)
    ylabel = ylabel or ENDPOINT_YLABEL.get(endpoint, "Survival probability")
    xlabel = xlabel or ENDPOINT_XLABEL.get(endpoint, DEFAULT_XLABEL)
    ticks = km_ticks(curves, step, xmax) if ticks is None else np.asarray(ticks, dtype=float)
    show_ci = len(curves) == 1 if show_ci is None else show_ci
    if len(curves) > len(colours):
        raise ValueError(f"km_plot: {len(curves)} groups but only {len(colours)} colours")
    frame = km_frame(curves)
    at_risk = risk_table(curves, ticks)
    medians = km_median_table(curves, digits)
    groups = list(curves)
    style = {g: (colours[i], linestyles[i % len(linestyles)]) for i, g in enumerate(groups)}
    with theme():
        fig = new_figure(width, 1.0)
        lh = line_height(FONT)
        # horizontal layout (inches): labels left of the axes, half a tick label right of it
        label_w = max(text_size(fig, g, FONT)[0] for g in groups)
        count_w = text_size(fig, str(max(k.n for k in curves.values())), FONT)[0]
        labels_above = label_w > MAX_RISK_LABEL
        ytick_w = text_size(fig, "0.00", FONT)[0]
        left = 0.08 + max(lh + 0.08 + ytick_w + 0.08, 0 if labels_above else label_w + count_w / 2 + 0.1)
        right = 0.08 + text_size(fig, f"{ticks[-1]:g}", FONT)[0] / 2 + 0.04
        axes_w = width - left - right
        # the strip above the plot: legend (left) and median table (right)
        handles = [Line2D([], [], color=style[g][0], ls=style[g][1], lw=1.4) for g in groups]
        labels = list(groups)
        handles.append(Line2D([], [], ls="none", marker="+", color=INK, ms=6, mew=1.1))
        labels.append("Censored")
        if show_ci:
            handles.append(Patch(fc=style[groups[0]][0], alpha=0.15, lw=0))
            conf = next(iter(curves.values()))
            labels.append(f"{100 * conf.conf_level:g}% CI ({conf.conf_type})")
        legend_h = len(labels) * lh + 0.05
        table = _median_cells(medians) if median_table else []
        col_w = [max(text_size(fig, row[j], FONT, "bold" if i == 0 else "normal")[0] for i, row in enumerate(table))
                 for j in range(len(table[0]))] if table else []
        table_w = sum(col_w) + 0.15 * max(len(col_w) - 1, 0)
        legend_w = 0.45 + max(text_size(fig, s, FONT)[0] for s in labels)
        side_by_side = legend_w + 0.3 + table_w <= axes_w
        table_h = len(table) * lh
        note_h = lh * (annotation.count("\n") + 1) if annotation else 0.0
        title_h = text_size(fig, title, FONT + 1, "bold")[1] + 0.08 if title else 0.0
        strip_h = (max(legend_h, table_h + note_h) if side_by_side else legend_h + table_h + note_h + 0.05)
        below_plot = 0.08 + text_size(fig, "0", FONT)[1] + 0.08 + lh + 0.1
        risk_h = lh + len(groups) * lh * (2 if labels_above else 1) + 0.1
        height = 0.08 + title_h + strip_h + 0.12 + plot_height + below_plot + risk_h
        fig.set_size_inches(width, height)

        def fy(top):   # inches from the top -> figure fraction from the bottom
            return 1 - top / height

        top_plot = 0.08 + title_h + strip_h + 0.12
        ax = fig.add_axes((left / width, fy(top_plot + plot_height), axes_w / width, plot_height / height))
        risk_top = top_plot + plot_height + below_plot
        ax_r = fig.add_axes((left / width, fy(risk_top + risk_h - 0.1), axes_w / width,
                             (risk_h - 0.1 - lh) / height), sharex=ax)
        for g in groups:
            d = frame[frame.group == g]
            col, ls = style[g]
            ax.step(d.time, d.estimate, where="post", color=col, ls=ls, lw=1.4)
            if show_ci:
                ax.fill_between(d.time, d.conf_low, d.conf_high, step="post", color=col, alpha=0.15, lw=0)
            cens = d[d.n_censor > 0]
            ax.plot(cens.time, cens.estimate, ls="none", marker="+", color=col, ms=6, mew=1.1)
        ax.set_xlim(0, ticks[-1])
        ax.set_ylim(0, 1.02)
        ax.set_xticks(ticks, [f"{t:g}" for t in ticks])
        ax.set_yticks(np.linspace(0, 1, 6), [f"{v:.1f}" for v in np.linspace(0, 1, 6)])
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        ax.grid(axis="y", lw=0.4, color="#E5E5E5")
        if title:
            fig.text(0.08 / width, fy(0.08), title, fontsize=FONT + 1, fontweight="bold", va="top")
        # legend: top left of the strip, aligned with the axes' left edge
        ax.legend(handles, labels, loc="upper left", bbox_to_anchor=(left / width, fy(0.08 + title_h)),
                  bbox_transform=fig.transFigure, borderaxespad=0, borderpad=0, labelspacing=0.2)
        # median table: right-aligned to the axes' right edge (or under the legend)
        table_top = 0.08 + title_h + (0 if side_by_side else legend_h + 0.05)
        x_right = left + axes_w
        x_edges, x = [], x_right
        for w in reversed(col_w):
            x_edges.insert(0, (x - w, x))
            x -= w + 0.15
        for i, row in enumerate(table):
            for j, cell in enumerate(row):
                x0, x1 = x_edges[j]
                fig.text((x0 if j == 0 else x1) / width, fy(table_top + i * lh), cell, ha="left" if j == 0 else "right",
                         va="top", fontsize=FONT, fontweight="bold" if i == 0 else "normal")
        if annotation:
            fig.text(x_right / width, fy(table_top + table_h), annotation, ha="right", va="top", fontsize=FONT)
        # at-risk rows: counts at the ticks, named by group (left of the row, or above it if long)
        per = 2 if labels_above else 1
        for i, g in enumerate(groups):
            for t, v in zip(ticks, at_risk.loc[g]):
                ax_r.text(t, per * i + per - 1, str(int(v)), ha="center", va="center", fontsize=FONT, color=style[g][0])
            if labels_above:
                ax_r.text(0.08, per * i, g, transform=blended_transform_factory(fig.dpi_scale_trans, ax_r.transData),
                          ha="left", va="center", fontsize=FONT, color=style[g][0])
        ax_r.set_ylim(per * len(groups) - 0.5, -0.5)
        ax_r.set_yticks([] if labels_above else range(len(groups)), [] if labels_above else groups, fontsize=FONT)
        for lab, g in zip(ax_r.get_yticklabels(), groups):
            lab.set_color(style[g][0])
        ax_r.tick_params(axis="y", length=0, pad=72 * (count_w / 2 + 0.1))
        ax_r.tick_params(axis="x", bottom=False, labelbottom=False)
        for s in ax_r.spines.values():
            s.set_visible(False)
        fig.text(0.08 / width, fy(risk_top), "Number at risk", fontsize=FONT, fontweight="bold", va="top")
    return fig


def _median_cells(medians: pd.DataFrame) -> list[list[str]]:
    rows = [["", "N", "Events", "Median (95% CI), months"]]
    for r in medians.itertuples():
        rows.append([r.group, str(r.n), str(r.events), r.median_ci])
    return rows
