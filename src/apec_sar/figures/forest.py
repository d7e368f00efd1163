"""Forest plots, tern style (``extract_survival_subgroups`` -> ``tabulate_survival_subgroups`` ->
``g_forest``): :func:`forest_table` formats the rows once (label, counts, "estimate (lower,
upper)"), :func:`draw_forest` draws exactly that table -- text columns left, the forest in the
middle, the estimate with its CI right -- on shared rows.

Rules drawn here: a CI running past the axis limits ends in an arrowhead at the limit; a row
without an estimate says why in its text column ("NE" not estimable, or the minimum-n rule:
estimates of subgroups with fewer than ``min_n`` patients are not shown); the reference line
(HR 1, or the overall rate) is explained in the legend. No interaction tests are computed or
implied.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.lines import Line2D
from matplotlib.patches import Rectangle
from matplotlib.ticker import FixedLocator, FuncFormatter, NullLocator
from matplotlib.transforms import blended_transform_factory

from ..stats.rounding import fmt
from .style import FONT, GREY, INK, OKABE_ITO, TEXT_WIDTH_IN, line_height, new_figure, text_size, theme

LOG_TICKS = (0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 20)
HIDDEN = ("_est", "_lower", "_upper", "_n", "_kind", "_indent")
GAP = 0.15          # inches between text columns
MIN_FOREST = 1.5    # inches: narrower than this the forest is unreadable


def pretty(label: str) -> str:
    """Typeset comparison signs: '>=65' -> '≥65', '<=' -> '≤'."""
    return str(label).replace(">=", "≥").replace("<=", "≤")


def forest_table(rows: pd.DataFrame, est: str = "hr", columns: dict | None = None, *, label: str = "label",
                 lower: str = "lower", upper: str = "upper", label_header: str = "", est_header: str = "HR (95% CI)",
                 digits: int = 2, n: str = "n", min_n: int | None = None, nest: bool = False,
                 sep: str = ": ") -> pd.DataFrame:
    """The forest's rows as printed.

    ``columns`` maps a printed header to a source column (integers printed as integers) or to a
    function of the row returning the text (e.g. ``lambda r: f"{r.responders}/{r.n}"``). The
    estimate column reads "est (lower, upper)" with ``digits`` decimals, "NE" where not
    estimable, and "n < {min_n}: not shown" where the row has fewer than ``min_n`` patients (the
    point and CI are then not drawn). ``nest`` splits labels "Factor: level" into a header row
    "Factor" followed by indented level rows. Hidden columns (``_est``, ``_lower``, ``_upper``,
    ``_n``, ``_kind`` = "estimate", "not estimable", "too few" or "header", ``_indent``) carry what
    :func:`draw_forest` draws.
    """
    columns = columns or {}
    missing = [c for c in [label, est, lower, upper] + [v for v in columns.values() if isinstance(v, str)]
               if c not in rows.columns]
    if missing:
        raise ValueError(f"forest_table: columns {missing} not in the rows ({list(rows.columns)})")
    out, last_factor = [], None
    for r in rows.itertuples(index=False):
        rec = r._asdict()
        text = pretty(rec[label])
        factor, level = text.split(sep, 1) if nest and sep in text else (None, text)
        if nest and factor is not None and factor != last_factor:
            out.append({label_header: factor, **{h: "" for h in columns}, est_header: "",
                        "_est": np.nan, "_lower": np.nan, "_upper": np.nan, "_n": np.nan, "_kind": "header",
                        "_indent": 0})
        last_factor = factor
        cells = {h: (src(r) if callable(src) else _cell(rec[src])) for h, src in columns.items()}
        size = rec.get(n, np.nan)
        small = min_n is not None and not pd.isna(size) and size < min_n
        e, lo, hi = (float(rec[c]) if not pd.isna(rec[c]) else np.nan for c in (est, lower, upper))
        if small:
            kind, txt, e, lo, hi = "too few", f"n < {min_n}: not shown", np.nan, np.nan, np.nan
        elif np.isnan(e):
            kind, txt = "not estimable", "NE"
        else:
            kind, txt = "estimate", f"{fmt(e, digits)} ({fmt(lo, digits)}, {fmt(hi, digits)})"
        out.append({label_header: level, **cells, est_header: txt, "_est": e, "_lower": lo, "_upper": hi,
                    "_n": float(size) if not pd.isna(size) else np.nan, "_kind": kind,
                    "_indent": 1 if factor is not None else 0})
    return pd.DataFrame(out, columns=[label_header, *columns, est_header, *HIDDEN])


def _cell(v) -> str:
    if isinstance(v, (int, np.integer)) or (isinstance(v, float) and float(v).is_integer()):
        return str(int(v))
    return "" if pd.isna(v) else str(v)


def draw_forest(table: pd.DataFrame, *, left: list[str] | None = None, right: list[str] | None = None,
                xlabel: str = "", ref: float = 1.0, ref_label: str = "Reference", xlim: tuple = (0.1, 10.0),
                log: bool = True, ticks=None, header: tuple[str, str] | None = None, size_by_n: bool = False,
                colour: str = OKABE_ITO["blue"], width: float = TEXT_WIDTH_IN, row_height: float = 0.2,
                estimate_label: str = "Estimate (95% CI)", zebra: bool = True):
    """Draw a :func:`forest_table`: ``left`` text columns (default: all but the last), the forest,
    ``right`` columns (default: the last, the estimate with its CI).

    ``ref``: the vertical reference line (1 for a hazard ratio, the overall rate for a response
    rate), named ``ref_label`` in the legend. ``xlim`` / ``log`` / ``ticks``: the axis (log
    ticks print as plain numbers 0.1, 0.2, 0.5, 1, 2, 5, 10). ``header``: texts printed left and
    right of the reference line above the forest (e.g. ("Lower hazard", "Higher hazard")).
    ``size_by_n``: marker area proportional to the row's n.
    """
    text_cols = [c for c in table.columns if c not in HIDDEN]
    left = text_cols[:-1] if left is None else list(left)
    right = text_cols[-1:] if right is None else list(right)
    ticks = [t for t in LOG_TICKS if xlim[0] <= t <= xlim[1]] if (ticks is None and log) else ticks
    n_rows = len(table)
    with theme():
        fig = new_figure(width, 1.0)
        lh = line_height(FONT)
        indent = text_size(fig, "MM", FONT)[0]

        def col_width(c):
            cells = [text_size(fig, c, FONT, "bold")[0]]
            for v, k, ind in zip(table[c], table["_kind"], table["_indent"]):
                w = text_size(fig, str(v), FONT, "bold" if (k == "header" and c == text_cols[0]) else "normal")[0]
                cells.append(w + (indent * ind if c == text_cols[0] else 0))
            return max(cells)

        widths = {c: col_width(c) for c in left + right}
        margin = 0.06
        forest_w = width - 2 * margin - sum(widths.values()) - GAP * (len(left) + len(right))
        if forest_w < MIN_FOREST:
            raise ValueError(f"draw_forest: the text columns leave {forest_w:.2f} in for the forest "
                             f"(at least {MIN_FOREST} in needed): shorten the labels or drop a column")
        x, pos = margin, {}
        for c in left:
            pos[c] = (x, x + widths[c])
            x += widths[c] + GAP
        forest_x0 = x
        x += forest_w + GAP
        for c in right:
            pos[c] = (x, x + widths[c])
            x += widths[c] + GAP
        header_lines = max(str(c).count("\n") + 1 for c in left + right)
        head_h = header_lines * lh + 0.06 + (lh if header else 0)
        rows_h = n_rows * row_height
        legend_h = lh + 0.1
        axis_h = 0.06 + text_size(fig, "0", FONT)[1] + 0.08 + (lh if xlabel else 0) + 0.08
        height = 0.08 + head_h + rows_h + axis_h + legend_h + 0.06
        fig.set_size_inches(width, height)
        top_rows = 0.08 + head_h
        ax = fig.add_axes((forest_x0 / width, 1 - (top_rows + rows_h) / height, forest_w / width, rows_h / height))
        ax.set_ylim(n_rows - 0.5, -0.5)
        ax.set_facecolor("none")   # the row shading shows through
        ax.set_yticks([])
        ax.spines["left"].set_visible(False)
        if log:
            ax.set_xscale("log")
            ax.xaxis.set_minor_locator(NullLocator())
        ax.set_xlim(*xlim)
        if ticks is not None:
            ax.xaxis.set_major_locator(FixedLocator(list(ticks)))
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        if xlabel:
            ax.set_xlabel(xlabel)
        tr = blended_transform_factory(fig.dpi_scale_trans, ax.transData)
        y_head = 1 - 0.08 / height   # figure fraction of the header row's top
        for c in left + right:
            x0, x1 = pos[c]
            first = c == text_cols[0]
            fig.text((x0 if first else x1) / width, y_head, c, ha="left" if first else "right", va="top",
                     fontsize=FONT, fontweight="bold")
        rule_y = 1 - (top_rows - 0.03) / height
        fig.add_artist(Line2D([margin / width, 1 - margin / width], [rule_y, rule_y], color=INK, lw=0.6))
        if header:
            hy = 1 - (0.08 + header_lines * lh) / height
            xr = ax.transData.transform((ref, 0))[0] / fig.dpi / width
            fig.text(xr - 0.04 / width, hy, f"← {header[0]}", ha="right", va="top", fontsize=FONT)
            fig.text(xr + 0.04 / width, hy, f"{header[1]} →", ha="left", va="top", fontsize=FONT)
        for i, row in enumerate(table.itertuples(index=False)):
            rec = dict(zip(table.columns, row))
            if zebra and i % 2 == 0:
                fig.add_artist(Rectangle((margin, i - 0.5), width - 2 * margin, 1, transform=tr, color="#F2F2F2",
                                         lw=0, zorder=-10))
            for c in left + right:
                x0, x1 = pos[c]
                first = c == text_cols[0]
                bold = rec["_kind"] == "header" and first
                ax.text((x0 + indent * rec["_indent"]) if first else x1, i, str(rec[c]), transform=tr,
                        ha="left" if first else "right", va="center", fontsize=FONT,
                        fontweight="bold" if bold else "normal")
            _draw_row(ax, i, rec, xlim, colour, size_by_n, table["_n"].max())
        ax.axvline(ref, color=GREY, ls="--", lw=0.9, zorder=1)
        handles = [Line2D([], [], color=colour, marker="s", ms=5, lw=1.2), Line2D([], [], color=GREY, ls="--", lw=0.9)]
        labels = [estimate_label + (", marker area ∝ n" if size_by_n else ""), ref_label]
        clipped = ((table["_lower"] < xlim[0]) | (table["_upper"] > xlim[1])).any()
        if clipped:
            handles.append(Line2D([], [], color=colour, marker=">", ls="none", ms=5))
            labels.append("CI beyond the axis")
        fig.legend(handles, labels, loc="lower left", bbox_to_anchor=(margin / width, 0.06 / height), ncols=len(labels),
                   borderaxespad=0, borderpad=0, columnspacing=1.5)
    return fig


def _draw_row(ax, y, rec, xlim, colour, size_by_n, n_max):
    """One row of the forest: the CI (arrowheads where it runs past xlim), the point; a row
    without an estimate says "not estimable" in the forest (too-few rows say why in the text)."""
    if rec["_kind"] == "not estimable":
        mid = np.sqrt(xlim[0] * xlim[1]) if ax.get_xscale() == "log" else (xlim[0] + xlim[1]) / 2
        ax.text(mid, y, "not estimable", ha="center", va="center", fontsize=FONT - 1, color=GREY)
    if rec["_kind"] != "estimate":
        return
    e, lo, hi = rec["_est"], rec["_lower"], rec["_upper"]
    lo, hi = (e if np.isnan(lo) else lo), (e if np.isnan(hi) else hi)
    ax.plot([max(lo, xlim[0]), min(hi, xlim[1])], [y, y], color=colour, lw=1.2, solid_capstyle="butt", zorder=3)
    if lo < xlim[0]:
        ax.plot([xlim[0]], [y], marker="<", color=colour, ms=5, clip_on=False, zorder=3)
    if hi > xlim[1]:
        ax.plot([xlim[1]], [y], marker=">", color=colour, ms=5, clip_on=False, zorder=3)
    if xlim[0] <= e <= xlim[1]:
        ms = 3 + 5 * np.sqrt(rec["_n"] / n_max) if size_by_n else 5
        ax.plot([e], [y], marker="s", color=colour, ms=ms, zorder=4)
