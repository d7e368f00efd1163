"""Tables formatted from the ARD (great_tables, with fixed ids so outputs are stable)."""

from __future__ import annotations

import pandas as pd
from great_tables import GT

from .stats.rounding import fmt


def show(gt: GT):
    """Display a GT as plain HTML (no environment-dependent styling; nbval-stable)."""
    from IPython.display import HTML
    return HTML(gt.as_raw_html(make_page=False, all_important=False))


def _v(ard: pd.DataFrame, param: str, stat: str, group: str = "All") -> float:
    r = ard[(ard.PARAMETER == param) & (ard.STAT == stat) & (ard.GROUP == group)]
    return float(r.VALUE.iloc[0]) if len(r) else float("nan")


def ci(est: float, lo: float, hi: float, d: int = 2) -> str:
    return f"{fmt(est, d)} ({fmt(lo, d)}, {fmt(hi, d)})"


def ttet01(ard: pd.DataFrame, params: list[str], labels: dict[str, str]) -> pd.DataFrame:
    """TTET01 rows: events, censored, median/quartiles (95% CI), 6/12-month rates."""
    rows = []

    def add(label, key=None, vals=None):
        rows.append({"Statistic": label, **(vals or {})})

    n = {p: int(_v(ard, p, "N")) for p in params}
    add("Patients, N", vals={labels[p]: str(n[p]) for p in params})
    add("Events, n (%)", vals={labels[p]: f"{int(_v(ard, p, 'EVENTS_N'))} ({fmt(_v(ard, p, 'EVENTS_PCT'), 1)})"
                                for p in params})
    sel = ard[ard.PARAMETER.isin(params)]
    kinds = sorted({s[len("EVENTS_N["):-1] for s in sel.STAT if s.startswith("EVENTS_N[")})
    for k in kinds:
        add(f"  {k}", vals={labels[p]: str(int(v)) if v == v else "0"
                            for p in params for v in [_v(ard, p, f'EVENTS_N[{k}]')]})
    add("Censored, n", vals={labels[p]: str(int(_v(ard, p, "CENSORED_N"))) for p in params})
    kinds = sorted({s[len("CENSORED_N["):-1] for s in sel.STAT if s.startswith("CENSORED_N[")})
    for k in kinds:
        add(f"  {k}", vals={labels[p]: str(int(v)) if v == v else "0"
                            for p in params for v in [_v(ard, p, f'CENSORED_N[{k}]')]})
    for name, lab in (("MEDIAN", "Median, months (95% CI)"), ("Q1", "25th percentile (95% CI)"),
                      ("Q3", "75th percentile (95% CI)")):
        add(lab, vals={labels[p]: ci(_v(ard, p, name), _v(ard, p, f"{name}_LCL"), _v(ard, p, f"{name}_UCL"))
                       for p in params})
    for m in (6, 12):
        add(f"{m}-month rate, % (95% CI)", vals={labels[p]: ci(_v(ard, p, f"RATE_{m}M"), _v(ard, p, f"RATE_{m}M_LCL"),
                                                                _v(ard, p, f"RATE_{m}M_UCL"), 1) for p in params})
        add(f"  at risk at {m} months", vals={labels[p]: str(int(_v(ard, p, f"AT_RISK_{m}M"))) for p in params})
    add("Median follow-up, months (95% CI)", vals={labels[p]: ci(_v(ard, p, "FOLLOWUP_MEDIAN"), _v(ard, p, "FOLLOWUP_LCL"),
                                                                 _v(ard, p, "FOLLOWUP_UCL")) for p in params})
    return pd.DataFrame(rows)


def gt_table(df: pd.DataFrame, table_id: str, title: str, subtitle: str, notes: list[str]) -> GT:
    g = GT(df, id=table_id).tab_header(title=title, subtitle=subtitle)
    for n in notes:
        g = g.tab_source_note(n)
    return g


def rspt01(ard: pd.DataFrame, params: list[str], labels: dict[str, str]) -> pd.DataFrame:
    """RSPT01 rows: BOR categories n (%), ORR and DCR with exact 95% CIs."""
    from .analysis.response import CATEGORIES
    rows = [{"Statistic": "Patients, N", **{labels[p]: str(int(_v(ard, p, "N"))) for p in params}}]
    for c in CATEGORIES:
        if c in ("NON-CR/NON-PD",) and all(_v(ard, p, f"n[{c}]") == 0 for p in params):
            continue
        rows.append({"Statistic": f"{c}, n (%)", **{labels[p]: f"{int(_v(ard, p, f'n[{c}]'))} ({fmt(_v(ard, p, f'pct[{c}]'), 1)})"
                                                     for p in params}})
    for name, lab in (("ORR", "Objective response rate (CR + PR)"), ("DCR", "Disease control rate (CR + PR + SD)")):
        rows.append({"Statistic": f"{lab}, n (%)", **{labels[p]: f"{int(_v(ard, p, f'{name}_N'))} ({fmt(_v(ard, p, name), 1)})"
                                                       for p in params}})
        rows.append({"Statistic": "  95% CI (Clopper-Pearson)", **{labels[p]: f"{fmt(_v(ard, p, f'{name}_LCL'), 1)}, {fmt(_v(ard, p, f'{name}_UCL'), 1)}"
                                                                   for p in params}})
    return pd.DataFrame(rows)


def describe_table(ard: pd.DataFrame, column_label: str = "Value") -> pd.DataFrame:
    """DMT01-style rows from :func:`apec_sar.analysis.summary.describe` ARD rows."""
    rows = []
    n = int(ard[ard.STAT == "N"].VALUE.iloc[0])
    for (param, label), g in ard[ard.PARAMETER != "ALL"].groupby(["PARAMETER", "GROUP"], sort=False):
        st = dict(zip(g.STAT, g.VALUE))
        if "MEDIAN" in st:
            rows.append({"Characteristic": label, column_label: ""})
            rows.append({"Characteristic": "  Median (Q1, Q3)", column_label: f"{fmt(st['MEDIAN'], 1)} ({fmt(st['Q1'], 1)}, {fmt(st['Q3'], 1)})"})
            rows.append({"Characteristic": "  Range", column_label: f"{fmt(st['MIN'], 1)} - {fmt(st['MAX'], 1)}"})
            rows.append({"Characteristic": "  Mean (SD)", column_label: f"{fmt(st['MEAN'], 1)} ({fmt(st['SD'], 1)})"})
        else:
            rows.append({"Characteristic": label + ", n (%)", column_label: ""})
            for s in g.STAT:
                if s.startswith("n["):
                    lev = s[2:-1]
                    rows.append({"Characteristic": f"  {lev}",
                                 column_label: f"{int(st[s])} ({fmt(st['pct[' + lev + ']'], 1)})"})
    return pd.DataFrame(rows).rename(columns={column_label: f"{column_label} (N = {n})"})
