"""Static, publication-quality figures (matplotlib), deterministic output."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from .stats import km as K
from .stats.rounding import fmt

STYLE = {"figure.dpi": 110, "savefig.dpi": 110, "font.size": 9, "axes.spines.top": False,
         "axes.spines.right": False, "svg.hashsalt": "apec-sar"}


def show(fig) -> None:
    """Display a figure once (as PNG) and close it, so the cell has exactly one image."""
    from IPython.display import display
    display(fig)
    plt.close(fig)


def km_plot(curves: dict[str, K.KaplanMeier], title: str, xlabel: str = "Months since first dose",
            ylabel: str = "Survival probability", step: float = 3.0, xmax: float | None = None,
            show_ci: bool = True):
    """KM curves with censor marks, median reference, and a number-at-risk table below."""
    with plt.rc_context(STYLE):
        fig, (ax, ax_t) = plt.subplots(2, 1, figsize=(6.5, 4.6), gridspec_kw={"height_ratios": [4, 1]},
                                       sharex=True)
        xmax = xmax or max(k.time.max() for k in curves.values())
        ticks = np.arange(0, xmax + step, step)
        colours = ["#1f4e79", "#c55a11", "#548235", "#7030a0"]
        for (label, km), col in zip(curves.items(), colours):
            x = np.concatenate([[0], km.time])
            y = np.concatenate([[1], km.surv])
            ax.step(x, y, where="post", color=col, lw=1.4, label=label)
            if show_ci:
                lo = np.concatenate([[1], np.nan_to_num(km.lower, nan=np.nan)])
                hi = np.concatenate([[1], np.nan_to_num(km.upper, nan=np.nan)])
                ax.fill_between(x, lo, hi, step="post", color=col, alpha=0.12, lw=0)
            cens = km.n_censor > 0
            ax.plot(km.time[cens], km.surv[cens], "+", color=col, ms=6, mew=1.1)
            med, lo_m, hi_m = K.quantile(km, 0.5)
            if med == med:
                ax.plot([0, med, med], [0.5, 0.5, 0], ls=":", color="grey", lw=0.8)
            label_med = f"{label}: median {fmt(med, 2)} ({fmt(lo_m, 2)}, {fmt(hi_m, 2)}) months"
            ax.plot([], [], color=col, label=None)
            ax.text(0.98, 0.95 - 0.07 * list(curves).index(label), label_med, transform=ax.transAxes,
                    ha="right", va="top", color=col)
        ax.set_ylim(0, 1.02)
        ax.set_xlim(0, xmax)
        ax.set_ylabel(ylabel)
        ax.set_title(title, loc="left", fontsize=10)
        ax.grid(axis="y", lw=0.3, alpha=0.5)
        ax_t.set_axis_off()
        ax_t.text(-0.01, 1.0, "At risk", transform=ax_t.transAxes, ha="right", va="top", fontsize=8)
        for i, (label, km) in enumerate(curves.items()):
            nr = K.number_at_risk(km, ticks)
            for t, v in zip(ticks, nr):
                ax_t.text(t, 0.7 - 0.35 * i, str(v), ha="center", va="center", fontsize=8,
                          color=colours[i], transform=ax_t.get_xaxis_transform())
        ax_t.set_xticks(ticks)
        ax.set_xticks(ticks)
        ax.tick_params(labelbottom=True)
        ax.set_xlabel(xlabel)
        fig.tight_layout()
    return fig


def risk_table(curves: dict[str, K.KaplanMeier], step: float = 3.0, xmax: float | None = None):
    """The numbers behind a KM figure's at-risk table (printed in a compared notebook cell)."""
    import pandas as pd
    xmax = xmax or max(k.time.max() for k in curves.values())
    ticks = np.arange(0, xmax + step, step)
    return pd.DataFrame({label: K.number_at_risk(km, ticks) for label, km in curves.items()},
                        index=pd.Index([f"{t:g}" for t in ticks], name="Months"))
