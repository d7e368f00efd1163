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


BOR_COLOURS = {"CR": "#1a7837", "PR": "#5aae61", "SD": "#4393c3", "PD": "#d6604d", "NE": "#999999",
               "MISSING": "#cccccc", "NON-CR/NON-PD": "#92c5de"}


def waterfall(best):
    """Best % change in the sum of target lesions per patient, coloured by BOR, with the
    RECIST -30 % and +20 % reference lines."""
    with plt.rc_context(STYLE):
        b = best.dropna(subset=["BEST_PCHG"]).reset_index(drop=True)
        fig, ax = plt.subplots(figsize=(6.5, 3.6))
        ax.bar(np.arange(len(b)), b.BEST_PCHG, color=[BOR_COLOURS[x] for x in b.BOR], width=0.8)
        for y, ls in ((20, "--"), (-30, "--"), (0, "-")):
            ax.axhline(y, color="grey", lw=0.7, ls=ls)
        ax.set_xticks([])
        ax.set_xlabel("Patients (ordered by best change)")
        ax.set_ylabel("Best change from baseline in\nsum of target lesions (%)")
        handles = [plt.Rectangle((0, 0), 1, 1, color=BOR_COLOURS[k]) for k in BOR_COLOURS if k in set(b.BOR)]
        ax.legend(handles, [k for k in BOR_COLOURS if k in set(b.BOR)], title="BOR", frameon=False, fontsize=8)
        fig.tight_layout()
    return fig


def swimmer(sw):
    with plt.rc_context(STYLE):
        fig, ax = plt.subplots(figsize=(6.5, 5.2))
        y = np.arange(len(sw))
        ax.barh(y, sw.FU_END, color="#dddddd", height=0.7, label="Follow-up")
        ax.barh(y, sw.TRT_END, color=[BOR_COLOURS[b] for b in sw.BOR], height=0.7, label="On treatment")
        ax.plot(sw.RESPONSE, y, "^", color="black", ms=5, label="First response")
        ax.plot(sw.PROGRESSION, y, "o", mfc="white", mec="#b2182b", ms=5, label="Progression")
        ax.plot(sw.DEATH, y, "x", color="black", ms=5, label="Death")
        ong = sw[sw.ONGOING]
        ax.plot(ong.TRT_END + 0.4, y[sw.ONGOING.to_numpy()], ">", color="black", ms=4, label="Treatment ongoing")
        ax.set_yticks(y)
        ax.set_yticklabels(sw.USUBJID, fontsize=6)
        ax.set_xlabel("Months since first dose")
        ax.legend(frameon=False, fontsize=7, loc="lower right")
        fig.tight_layout()
    return fig


def spider(sp):
    with plt.rc_context(STYLE):
        fig, ax = plt.subplots(figsize=(6.5, 3.8))
        for u, g in sp.groupby("USUBJID", sort=True):
            ax.plot(g.MONTHS, g.PCHG, "-o", ms=2.5, lw=0.9, color=BOR_COLOURS[g.BOR.iloc[0]])
        for yv in (20, -30):
            ax.axhline(yv, color="grey", lw=0.7, ls="--")
        ax.set_xlabel("Months since first dose")
        ax.set_ylabel("Change from baseline in\nsum of target lesions (%)")
        fig.tight_layout()
    return fig


GRADE_COLOURS = {"G1": "#c6dbef", "G2": "#6baed6", "G3": "#fd8d3c", "G4": "#d94801", "G5": "#000000"}


def ae_grade_chart(counts, n: int):
    """Horizontal stacked bars: % of patients by worst CTCAE grade per treatment-related AE term."""
    with plt.rc_context(STYLE):
        c = counts.iloc[::-1]
        fig, ax = plt.subplots(figsize=(6.5, 0.32 * len(c) + 1.2))
        left = np.zeros(len(c))
        for g, col in GRADE_COLOURS.items():
            if g in c:
                v = 100 * c[g].to_numpy() / n
                ax.barh(c.index, v, left=left, color=col, label=g.replace("G", "Grade "))
                left += v
        ax.set_xlabel("Patients (%)")
        ax.legend(frameon=False, fontsize=8, loc="lower right")
        fig.tight_layout()
    return fig


def consort_diagram(consort):
    """CONSORT flow from the derivation's counts: screened records -> duplicates -> patients ->
    exclusions by first failed criterion -> analysed."""
    c = dict(zip(consort.STEP, consort.N))
    excl = consort[consort.STEP.str.startswith("Excluded: ") & (consort.N > 0)]
    with plt.rc_context(STYLE):
        fig, ax = plt.subplots(figsize=(6.5, 4.2))
        ax.set_axis_off()
        box = dict(boxstyle="round,pad=0.4", fc="white", ec="#1f4e79", lw=1)

        def node(x, y, text, **kw):
            ax.text(x, y, text, ha="center", va="center", bbox=box, fontsize=8, transform=ax.transAxes, **kw)

        node(0.3, 0.92, f"Records screened\nn = {c['Records screened']}")
        node(0.3, 0.70, f"Patients screened\nn = {c['Patients screened']}")
        node(0.3, 0.12, f"Analysed (analysis and safety sets)\nn = {c['Patients analysed']}")
        node(0.78, 0.81, f"Duplicate records removed\nn = {c['Duplicate patient records removed']}")
        def why(r):
            cid = str(r.CRITERION).split(" ")[0]
            text = r.STEP[len("Excluded: "):]
            return f"{cid} {'not met' if cid.startswith(('IN', 'PUB')) else 'applies'} ({text}): {r.N}"
        lines = "\n".join(why(r) for r in excl.itertuples())
        ax.text(0.78, 0.42, f"Excluded, n = {c['Patients excluded']}\n{lines}", ha="center", va="center",
                bbox=box, fontsize=6.5, transform=ax.transAxes, wrap=True)
        arrow = dict(arrowstyle="->", color="#1f4e79", lw=1)
        ax.annotate("", xy=(0.3, 0.76), xytext=(0.3, 0.86), xycoords="axes fraction", arrowprops=arrow)
        ax.annotate("", xy=(0.3, 0.18), xytext=(0.3, 0.64), xycoords="axes fraction", arrowprops=arrow)
        ax.annotate("", xy=(0.58, 0.81), xytext=(0.3, 0.81), xycoords="axes fraction", arrowprops=arrow)
        ax.annotate("", xy=(0.50, 0.42), xytext=(0.3, 0.42), xycoords="axes fraction", arrowprops=arrow)
    return fig


def forest(rows, xlabel: str, ref: float = 1.0, log: bool = True, est: str = "hr", title: str = ""):
    """Forest plot: one row per label with estimate and CI; NE rows shown as text."""
    with plt.rc_context(STYLE):
        r = rows.reset_index(drop=True)
        fig, ax = plt.subplots(figsize=(6.5, 0.3 * len(r) + 1.1))
        y = np.arange(len(r))[::-1]
        ok = r[est].notna() & r.lower.notna() & r.upper.notna()
        ax.errorbar(r[est][ok], y[ok.to_numpy()], xerr=[r[est][ok] - r.lower[ok], r.upper[ok] - r[est][ok]],
                    fmt="s", color="#1f4e79", ms=4, capsize=2, lw=1)
        for yy, lab, good in zip(y, r.label, ok):
            if not good:
                ax.text(ref, yy, "NE", ha="center", va="center", fontsize=7, color="grey")
        ax.axvline(ref, color="grey", lw=0.8, ls="--")
        if log:
            ax.set_xscale("log")
        ax.set_yticks(y)
        ax.set_yticklabels(r.label, fontsize=7)
        ax.set_xlabel(xlabel)
        if title:
            ax.set_title(title, loc="left", fontsize=9)
        fig.tight_layout()
    return fig
