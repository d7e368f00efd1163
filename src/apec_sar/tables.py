"""Tables formatted from the ARD (great_tables, with fixed ids so outputs are stable).

Presentation rules shared by every table of the SAR (CRO conventions):
- the output's number and title are its Quarto caption (``#| tbl-cap:``), never repeated inside
  the table; the table's own header line names the population and its N;
- no pandas index, no raw variable names in headers (``frame_table`` requires labels), counts
  as integers, one decimal rule per statistic (callers format with ``stats.rounding.fmt``);
- indented sub-rows keep their indentation (leading spaces become non-breaking spaces);
- great_tables' default font stack (it ends in ``sans-serif``, unknown to Typst) and its 16 px
  table font are removed, so HTML and PDF both use the document's font and size.
"""

from __future__ import annotations

import math
import re

import numpy as np
import pandas as pd
from great_tables import GT, loc, style

from .stats.rounding import fmt

NBSP = "\u00a0"


def _clean_html(html: str) -> str:
    html = re.sub(r"font-family:[^;{}]*;", "", html)
    return html.replace("font-size: 16px;", "")


class SarTable:
    """A SAR table in two renderings of the same cells: great_tables HTML (for the HTML SAR and
    the notebook) and the equivalent Typst table (for the PDF). Displayed, it offers both MIME
    types; Quarto takes the HTML for HTML output and the Markdown (a raw Typst block) for Typst.

    Why a Typst rendering of our own: Quarto converts every raw HTML table of a Typst document by
    first inlining its CSS with a separate process (``quarto run juice.ts``, half a second per
    table, most of the PDF's render time), and the converted table only approximates the HTML
    layout; a Typst table written from the same cells is exact and costs nothing to convert."""

    def __init__(self, gt: GT, typst: str, table_id: str = "", shape: tuple[int, int] = (0, 0)):
        self.gt, self.typst, self.table_id, self.shape = gt, typst, table_id, shape

    def as_raw_html(self, **kw) -> str:
        return self.gt.as_raw_html(**kw)

    def __repr__(self) -> str:          # a stable text/plain (no memory address in stored outputs)
        return f"SAR table {self.table_id}: {self.shape[0]} rows x {self.shape[1]} columns"

    def _repr_mimebundle_(self, include=None, exclude=None):
        return {"text/html": _clean_html(self.gt.as_raw_html(make_page=False, all_important=False)),
                "text/markdown": "```{=typst}\n" + self.typst + "\n```\n", "text/plain": repr(self)}


def show(table):
    """Display a SAR table (HTML and its Typst twin) or a bare GT (HTML only), with no
    environment-dependent styling (nbval-stable)."""
    if isinstance(table, SarTable):
        return table
    from IPython.display import HTML
    return HTML(_clean_html(table.as_raw_html(make_page=False, all_important=False)))


def _typst_str(text) -> str:
    """A Typst string literal (the cell's text, exactly)."""
    t = "" if text is None else str(text)
    return '"' + t.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ") + '"'


# the PDF's table geometry (the Typst template: A4, 2.2 cm side margins, tables at 8.5 pt) in
# characters: a conservative average glyph width, so that an estimate never exceeds the page
TEXT_WIDTH_PT, GLYPH_PT, INSET_PT, LONG_TEXT = 470.0, 4.3, 6.0, 400
# a line breaks at a space, after a slash, or after a hyphen followed by a letter
# ("Brookmeyer-|Crowley", not "APEC-|0003"); never at a no-break space
_BREAKS = re.compile(r"[ \t\n]+|(?<=/)|(?<=-)(?=[^\W\d_])")


def column_weights(texts: list[list[str]], headers: list[str]) -> list[float]:
    """Column widths (relative, in characters) of a table set at the page's width, by the rule of
    HTML's automatic table layout: each column's natural width is its longest text (up to
    ``LONG_TEXT`` characters), its minimum its longest unbreakable word (bold headers
    count 10% wider). If the natural widths fit, the columns get them (the slack shared in their
    proportion); else every column gets its minimum and the rest is shared in proportion to what
    its texts need beyond it, on average over its rows and header; only when even the minimums
    do not fit are they scaled."""
    def word(t):
        return max((len(w) for w in _BREAKS.split(t)), default=0)
    natural, minimum, lack = [], [], []
    for col, h in zip(texts, headers):
        lengths = [min(len(t), LONG_TEXT) for t in col]
        natural.append(max(lengths + [1.1 * min(len(h), LONG_TEXT), 1]))
        minimum.append(max([word(t) for t in col] + [1.1 * word(h), 1]))
        # what the column's texts need beyond the minimum, on average over its rows (the row
        # heights follow every row's texts, not the one longest)
        lack.append(sum(max(0.0, n - minimum[-1]) for n in lengths + [1.1 * min(len(h), LONG_TEXT)])
                    / (len(lengths) + 1))
    natural = [max(n, m) for n, m in zip(natural, minimum)]
    width = (TEXT_WIDTH_PT - INSET_PT * len(headers)) / GLYPH_PT
    if sum(natural) <= width or sum(lack) == 0:
        return natural
    if sum(minimum) >= width:
        return minimum
    share = (width - sum(minimum)) / sum(lack)
    return [m + share * l for m, l in zip(minimum, lack)]


def typst_table(d: pd.DataFrame, header: str, notes, shown: list[str], aligns: dict[str, str],
                group: str | None = None) -> str:
    """The Typst code of a SAR table: the header line (population, N), a booktabs table (a rule
    above and below the column labels, which repeat on every page, and one at the end), row groups
    spanning the width, then the footnotes, kept on the page of the table's last row. Column
    widths are those of :func:`column_weights` (a table's HTML percentages are not used: the
    automatic rule knows the PDF's page); the table spans the text width. The header line
    stays with the table."""
    widths = column_weights([[str(v) for v in d[c]] for c in shown], [str(c) for c in shown])
    cols = ", ".join(f"{w:.2f}fr" for w in widths)
    align = ", ".join({"left": "left", "center": "center", "right": "right"}[aligns[c]] for c in shown)
    n = len(shown)
    cells = []
    head = ", ".join(f"text(weight: \"bold\", {_typst_str(c)})" for c in shown)
    current = object()
    rows = list(d.iterrows())
    for i, (_, row) in enumerate(rows):
        if group is not None and row[group] != current:
            current = row[group]
            cells.append(f"table.cell(colspan: {n}, align: left, emph({_typst_str(current)}))")
        if i < len(rows) - 1:
            cells.append(", ".join(_typst_str(row[c]) for c in shown))
    body = ",\n  ".join(cells)
    # the last row, the closing rule and the footnotes make the table's footer, printed once at
    # its end: a page never breaks between them (no footnote page without its table). The note
    # cells keep the table's inset (Typst 0.15 sizes a spanning cell with another inset wrongly)
    last = ""
    if rows:
        notes_code = "".join(f", table.cell(colspan: {n}, align: left, text(size: 0.9em, {_typst_str(note)}))"
                             for note in notes)
        last = (f"  table.footer(repeat: false, {', '.join(_typst_str(rows[-1][1][c]) for c in shown)}, "
                f"table.hline(stroke: 0.8pt){notes_code}),\n")
    lines = []
    if header:
        lines.append(f"#align(left, block(below: 0.4em, sticky: true, text(size: 0.95em, fill: luma(90), "
                     f"{_typst_str(header)})))")
    lines.append(f"#table(columns: ({cols},), align: ({align},), stroke: none, inset: (x: 3pt, y: 2.5pt),\n"
                 f"  table.header(table.hline(stroke: 0.8pt), {head}, table.hline(stroke: 0.5pt)),\n"
                 f"  {body}{',' if body else ''}\n{last})")
    if not rows:                        # an empty table: its closing rule and notes follow it
        lines[-1] = lines[-1][:-1] + "  table.hline(stroke: 0.8pt))"
        lines += [f"#align(left, block(above: 0.3em, below: 0em, text(size: 0.9em, {_typst_str(note)})))"
                  for note in notes]
    return "\n".join(lines)


TYPESET = [(re.compile(r">="), "≥"), (re.compile(r"<="), "≤"), (re.compile(r"\+/-"), "±"),
           (re.compile(r"\s->\s"), " → "), (re.compile(r"\bkg/m2\b"), "kg/m²"),
           # a range between numbers (or NE): an en dash, no spaces
           (re.compile(r"(?<=[\d%E]) - (?=[−\-]?\d|NE\b)"), "–"),
           # a minus sign before a number at the start of a value or after a space, ( or ,
           (re.compile(r"(?:(?<=^)|(?<=[\s(,\[]))-(?=\d)"), "−"),
           # a minus between words of a formula ("date - first dose + 1")
           (re.compile(r"(?<=\w) - (?=\w)"), " − "),
           # "p = 0.003" never breaks at the equals sign
           (re.compile(r"(?<=\w) = (?=\S)"), "\u00a0=\u00a0")]


def typeset(text):
    """Print conventions of the SAR's tables: ≥ ≤ ± → and m² for their ASCII spellings, an en dash
    for a range of numbers ("1.45–2.96"), a minus sign for a negative number and between the words
    of a formula, no line break at the equals sign of "p = 0.003". Data and the ARD keep the ASCII;
    only what is printed changes."""
    if not isinstance(text, str):
        return text
    for pattern, repl in TYPESET:
        text = pattern.sub(repl, text)
    return text


def _indent(value):
    if isinstance(value, str) and value.startswith(" "):
        stripped = value.lstrip(" ")
        return NBSP * 2 * (len(value) - len(stripped)) + stripped
    return value


def gt_table(df: pd.DataFrame, table_id: str, header: str, notes=(), *, align_first: str = "left",
             group: str | None = None, widths: list[float] | None = None) -> SarTable:
    """A SAR table: ``header`` (population and N, e.g. "Analysis set, N = 29") above the column
    labels, ``notes`` (footnotes: definitions, methods, source, "Synthetic data.") below. The
    number and title are the notebook cell's ``tbl-cap``. The first column is left-aligned, the
    others centred; leading spaces indent a row label. ``group``: a column whose values head
    blocks of rows, each printed once across the full width (a row group). ``widths``: the share
    of the text width of each shown column, in per cent (HTML and Typst both honour them); by
    default the columns share it by their content."""
    d = df.reset_index(drop=True).copy()
    for c in d.columns:
        if d[c].dtype == object:
            d[c] = d[c].map(lambda v: _indent(typeset(v)))
    d.columns = [typeset(str(c)) for c in d.columns]
    group = typeset(group) if group else None
    g = GT(d, id=table_id, groupname_col=group)
    if header:
        g = g.tab_header(title=typeset(header))
    g = g.tab_options(heading_title_font_size="100%", heading_align="left", column_labels_font_weight="bold",
                      data_row_padding="2px", source_notes_font_size="90%", table_width="100%")
    shown = [c for c in d.columns if c != group]
    first = [shown[0]]
    rest = shown[1:]
    g = g.cols_align(align=align_first, columns=first)
    numeric = [c for c in rest if _numeric_column(d[c])]
    text = [c for c in rest if c not in numeric]
    if numeric:
        g = g.cols_align(align="center", columns=numeric)
    if text:
        g = g.cols_align(align="left", columns=text)
    if widths is not None:
        if len(widths) != len(shown):
            raise ValueError(f"table {table_id}: {len(widths)} widths for {len(shown)} columns")
        g = g.cols_width({c: f"{w:g}%" for c, w in zip(shown, widths)})
    notes = [typeset(n) for n in notes]
    for n in notes:
        g = g.tab_source_note(n)
    aligns = {c: "center" if c in numeric else "left" for c in rest} | {shown[0]: align_first}
    return SarTable(g, typst_table(d, typeset(header) if header else "", notes, shown, aligns, group),
                    table_id, (len(d), len(shown)))


# numbers, signs and the few words a statistic's cell may hold instead ("NE", "n too small")
STATISTIC = re.compile(r"^(?:NE|NA|n too small|not estimable|[\s\u00a0\d.,:;()%<>=+\-–−≥≤±/])*$")


def _numeric_column(values: pd.Series) -> bool:
    """Counts, percentages, estimates with CIs ("5.59 (4.17, 7.39)", "<0.001", "NE"): centred."""
    shown = [str(v) for v in values if v is not None and str(v).strip()]
    return bool(shown) and all(STATISTIC.match(v) for v in shown)


RAW_NAME = re.compile(r"^[A-Z][A-Z0-9_]*[A-Z0-9]$")


def format_value(v, decimals: int | None = None) -> str:
    """One cell: integers without decimals, floats with ``decimals`` (half away from zero),
    missing as an empty cell, dates as ISO dates."""
    if v is None or (isinstance(v, float) and math.isnan(v)) or v is pd.NaT:
        return ""
    if isinstance(v, (pd.Timestamp, np.datetime64)):
        return pd.Timestamp(v).date().isoformat()
    if isinstance(v, (bool, np.bool_)):
        return "yes" if v else "no"
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    if isinstance(v, (float, np.floating)):
        if decimals is None:
            return str(int(v)) if float(v).is_integer() else fmt(float(v), 2)
        return fmt(float(v), decimals)
    return str(v)


def frame_table(df: pd.DataFrame, table_id: str, labels: dict[str, str], header: str = "", notes=(),
                decimals: dict[str, int] | None = None, widths: list[float] | None = None) -> SarTable:
    """Present a data frame (a listing, a log, a flow) as a SAR table: only the columns named in
    ``labels`` (in that order, under those headers), every cell formatted by
    :func:`format_value` (``decimals`` per column). Raw variable names are refused as headers."""
    raw = [lab for lab in labels.values() if RAW_NAME.match(lab) and lab not in ("N", "ID", "CTCAE", "SOC")]
    if raw:
        raise ValueError(f"table {table_id}: raw variable names as column labels: {raw}")
    decimals = decimals or {}
    out = pd.DataFrame({lab: [format_value(v, decimals.get(col)) for v in df[col]] for col, lab in labels.items()})
    return gt_table(out, table_id, header, notes, widths=widths)


def _v(ard: pd.DataFrame, param: str, stat: str, group: str = "All") -> float:
    r = ard[(ard.PARAMETER == param) & (ard.STAT == stat) & (ard.GROUP == group)]
    return float(r.VALUE.iloc[0]) if len(r) else float("nan")


def ci(est: float, lo: float, hi: float, d: int = 2) -> str:
    return f"{fmt(est, d)} ({fmt(lo, d)}, {fmt(hi, d)})"


def ttet01(ard: pd.DataFrame, params: list[str], labels: dict[str, str]) -> pd.DataFrame:
    """TTET01 rows: events, censored, median/quartiles (95% CI), 6/12-month rates (follow-up is
    reported once, by :func:`apec_sar.analysis.survival.followup_table`)."""
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
    return pd.DataFrame(rows)


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


LEVEL_LABELS = {"Y": "Yes", "N": "No", "M": "Male", "F": "Female"}   # codes printed as words


def _level_order(levels: list[str]) -> list[str]:
    """The levels of a categorical row block, as the populations list them; numeric levels in
    numeric order even when one population has a level the other lacks (0 lines before 1)."""
    def number(v):
        try:
            return float(v)
        except ValueError:
            return None
    shown = [v for v in levels if v != "Missing"]
    if shown and all(number(v) is not None for v in shown):
        return sorted(shown, key=number) + [v for v in levels if v == "Missing"]
    return levels


def describe_table(ard: pd.DataFrame, columns: str | dict[str, str] = "Value",
                   decimals: dict[str, int] | None = None, blocks: dict[str, str] | None = None) -> pd.DataFrame:
    """DMT01-style rows from :func:`apec_sar.analysis.summary.describe` ARD rows.

    ``columns``: one column label (a single population), or {POPULATION: label} for one column
    per population (each headed "label (N = n)"). Continuous variables: n, mean (SD), median
    (Q1, Q3), min, max with ``decimals[PARAMETER]`` decimals (default 1); categorical: n (%)
    per level, percentages with one decimal. ``blocks``: {ANALYSIS: heading} puts a heading row
    before each analysis block (e.g. one block per drug)."""
    decimals = decimals or {}
    pops = {ard.POPULATION.iloc[0]: columns} if isinstance(columns, str) else dict(columns)
    labels = {}
    for pop, lab in pops.items():
        a = ard[ard.POPULATION == pop]
        n = a[(a.PARAMETER == "ALL") & (a.STAT == "N")].VALUE
        # the population's N is its first block's (later blocks may count a subset: those whose
        # treatment ended, those who received a drug)
        labels[pop] = f"{lab} (N = {int(n.iloc[0])})" if len(n) else lab
    body = ard[(ard.PARAMETER != "ALL") & ard.POPULATION.isin(list(pops))]
    rows = []

    def cell(st, pop, kind, d):
        if st is None:
            return ""
        if kind == "n":
            return str(int(st["n"]))
        if int(st.get("n", 0)) == 0:
            return "-"
        if kind == "mean":
            return f"{fmt(st['MEAN'], d + 1)} ({fmt(st['SD'], d + 1)})"
        if kind == "median":
            return f"{fmt(st['MEDIAN'], d + 1)} ({fmt(st['Q1'], d + 1)}, {fmt(st['Q3'], d + 1)})"
        return f"{fmt(st['MIN'], d)}, {fmt(st['MAX'], d)}"

    for analysis, a in body.groupby("ANALYSIS", sort=False):
        if blocks and analysis in blocks:
            rows.append({"Characteristic": blocks[analysis], **{labels[p]: "" for p in pops}})
        for (param, label), g in a.groupby(["PARAMETER", "GROUP"], sort=False):
            st = {p: dict(zip(g[g.POPULATION == p].STAT, g[g.POPULATION == p].VALUE)) for p in pops}
            if any("MEDIAN" in v for v in st.values()):
                d = decimals.get(param, 1)
                rows.append({"Characteristic": label, **{labels[p]: "" for p in pops}})
                for name, kind in (("n", "n"), ("Mean (SD)", "mean"), ("Median (Q1, Q3)", "median"), ("Min, max", "range")):
                    rows.append({"Characteristic": f"  {name}",
                                 **{labels[p]: cell(st[p] or None, p, kind, d) for p in pops}})
            else:
                rows.append({"Characteristic": label + ", n (%)", **{labels[p]: "" for p in pops}})
                levels = _level_order(list(dict.fromkeys(s[2:-1] for s in g.STAT if s.startswith("n["))))
                for lev in levels:
                    rows.append({"Characteristic": f"  {LEVEL_LABELS.get(lev, lev)}", **{
                        labels[p]: (f"{int(st[p][f'n[{lev}]'])} ({fmt(st[p][f'pct[{lev}]'], 1)})"
                                    if f"n[{lev}]" in st[p] else "0 (0.0)") for p in pops}})
    return pd.DataFrame(rows, columns=["Characteristic", *labels.values()])
