"""CONSORT flow diagram (CONSORT 2010 flow: enrolment -> exclusions with reasons -> analysed),
drawn from the derivation's ``consort.csv`` (STEP, CRITERION, N).

:func:`consort_flow` turns the table into boxes, one row per printed line; :func:`consort_diagram`
lays them out top-down. Rows of the table, in order:

- a step named in ``side_steps`` (e.g. "Patients excluded") is a side box to the right of the
  flow, hanging from the arrow between the main box before it and the main box after it; its
  reasons are the rows whose STEP starts with the side step's prefix ("Excluded: ..."), listed
  under it (reasons with N = 0 are left out) and grouped by criterion kind when CRITERION is
  given ("IN2 (Registry inclusion 2)" -> "Registry inclusion criterion not met"); the reasons
  must add up to the side box's N;
- every other step is a main box, in table order: further steps appended later by the
  derivation (safety set, response-evaluable, on treatment at cut-off ...) and side boxes with
  their reasons (discontinued, with reasons) need no change here, only a ``side_steps`` entry.

Box sizes come from the measured text (wrapped to the width available), and the figure's height
from the boxes, so the diagram fits its canvas at any number of reasons.
"""

from __future__ import annotations

import re

import pandas as pd
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

from .style import (FONT, INK, OKABE_ITO, SMALL, TEXT_WIDTH_IN, line_height, new_figure, text_size, theme,
                    wrap_to_width)

SIDE_STEPS = {"Duplicate patient records removed": None, "Patients excluded": "Excluded: "}
STEP_LABELS = {
    "Records screened": "Screening-log records",
    "Duplicate patient records removed": "Duplicate records of the same patient removed",
    "Patients screened": "Patients assessed for eligibility",
    "Patients excluded": "Excluded, by the first criterion not met",
    "Patients analysed": "Analysed: analysis set and safety set",
}
PAD = 0.08          # inches between a box's frame and its text
MARGIN = 0.04       # inches around the diagram
ARROW_GAP = 0.3     # inches of arrow between stacked boxes
INDENT = 0.14       # inches per reason level
MAX_HEIGHT = 8.5    # inches: A4 text height (24.7 cm) less room for the caption
NARROW_MAIN = 1.6   # inches: the main column when the diagram would be taller than MAX_HEIGHT


def _n(k: int) -> str:
    """'(n = 5)' with no-break spaces, so a wrapped line never splits it."""
    return f"(n\u00a0=\u00a0{int(k)})"


def _criterion_group(criterion) -> tuple[str, str]:
    """'IN2 (Registry inclusion 2)' (optionally followed by ': the criterion') -> ('IN2', 'Registry
    inclusion criterion not met'); exclusion criteria read 'criterion met'."""
    if not isinstance(criterion, str) or not criterion.strip():
        return "", ""
    m = re.match(r"\s*(\S+)\s*(?:\((.*?)\s*\d*\))?\s*(?::.*)?$", criterion)
    cid, source = (m.group(1), (m.group(2) or "").strip()) if m else (criterion.strip(), "")
    if not source:
        return cid, ""
    return cid, f"{source} criterion {'met' if 'exclusion' in source.lower() else 'not met'}"


def consort_flow(consort: pd.DataFrame, side_steps: dict | None = None, labels: dict | None = None) -> pd.DataFrame:
    """The diagram's boxes, one row per printed line: BOX (0, 1, ... top-down), KIND ("main" or
    "side"), LEVEL (0 the box title with its n, 1 a criterion group, 2 a reason) and TEXT."""
    side_steps = SIDE_STEPS if side_steps is None else side_steps
    labels = STEP_LABELS if labels is None else labels
    need = {"STEP", "N"} - set(consort.columns)
    if need:
        raise ValueError(f"consort table: columns {sorted(need)} missing (have {list(consort.columns)})")
    prefixes = {p: s for s, p in side_steps.items() if p}
    reasons: dict[str, list] = {s: [] for s in side_steps}
    rows, box = [], 0
    for i, r in consort.reset_index(drop=True).iterrows():
        step = str(r.STEP)
        prefix = next((p for p in prefixes if step.startswith(p)), None)
        if prefix is not None:
            reasons[prefixes[prefix]].append((step[len(prefix):], r.get("CRITERION"), int(r.N), i))
            continue
        if ": " in step and step not in side_steps:
            raise ValueError(f"consort table, row {i + 1}, column STEP: {step!r} looks like a reason "
                             f"('<prefix>: <reason>') but no side step has the prefix {step.split(': ')[0] + ': '!r}")
        kind = "side" if step in side_steps else "main"
        if kind == "side" and not any(k == "main" for _, k, _, _ in rows):
            raise ValueError(f"consort table, row {i + 1}: side step {step!r} comes before any main step")
        rows.append((box, kind, 0, f"{labels.get(step, step)} {_n(r.N)}"))
        if kind == "side":
            listed = [x for x in reasons[step] if x[2] > 0]
            total = sum(x[2] for x in reasons[step])
            if reasons[step] and total != int(r.N):
                raise ValueError(f"consort table, row {i + 1}: {step} n = {int(r.N)} but its reasons add up to {total}")
            last_group = None
            for text, crit, n, _ in listed:
                cid, group = _criterion_group(crit)
                if group and group != last_group:
                    k = sum(x[2] for x in listed if _criterion_group(x[1])[1] == group)
                    rows.append((box, kind, 1, f"{group} {_n(k)}"))
                last_group = group
                rows.append((box, kind, 2 if group else 1, f"{cid} {text} {_n(n)}" if cid else f"{text} {_n(n)}"))
        box += 1
    orphans = [s for s, x in reasons.items() if x and s not in set(consort.STEP)]
    if orphans:
        raise ValueError(f"consort table: reasons for {orphans} but no row with that STEP (its total)")
    return pd.DataFrame(rows, columns=["BOX", "KIND", "LEVEL", "TEXT"])


def consort_diagram(consort: pd.DataFrame, side_steps: dict | None = None, labels: dict | None = None,
                    width: float = TEXT_WIDTH_IN, main_width: float = 2.3):
    """Draw :func:`consort_flow`: main boxes in a column on the left joined by arrows, side
    boxes to the right joined by an arrow from the flow; text wrapped to the box widths.

    A diagram taller than an A4 page's text area (``MAX_HEIGHT``) is laid out again with a
    narrower main column, then at 7 pt, before it is drawn taller."""
    flow = consort_flow(consort, side_steps, labels)
    with theme():
        fig = new_figure(width, 1.0)
        for main_w, size in ((main_width, FONT), (NARROW_MAIN, FONT), (NARROW_MAIN, SMALL)):
            placed, height, side_x0, side_w = _layout(fig, flow, width, main_w, size)
            if height <= MAX_HEIGHT:
                break
        fig.set_size_inches(width, height)
        lh = line_height(size)
        tr = fig.dpi_scale_trans
        main_cx = MARGIN + main_w / 2
        for kind, b, lines, top, h in placed:
            x0 = MARGIN if kind == "main" else side_x0
            w = main_w if kind == "main" else side_w
            fig.add_artist(FancyBboxPatch((x0, height - top - h), w, h, boxstyle="round,pad=0,rounding_size=0.04",
                                          transform=tr, fc="white", ec=OKABE_ITO["blue"], lw=1.0, gid=f"box{b}"))
            for k, (text, weight, off) in enumerate(lines):
                cx = x0 + w / 2 if kind == "main" else x0 + PAD + off
                fig.text(cx, height - top - PAD - k * lh, text, transform=tr, ha="center" if kind == "main" else "left",
                         va="top", fontsize=size, fontweight=weight, color=INK, gid=f"text{b}")
        arrow = dict(arrowstyle="-|>", mutation_scale=8, color=OKABE_ITO["blue"], lw=1.0, shrinkA=0, shrinkB=0)
        mains = [p for p in placed if p[0] == "main"]
        for (_, _, _, t0, h0), (_, _, _, t1, _) in zip(mains, mains[1:]):
            fig.add_artist(FancyArrowPatch((main_cx, height - t0 - h0), (main_cx, height - t1), transform=tr, **arrow))
        last_bottom = mains[-1][3] + mains[-1][4]
        for kind, b, lines, top, h in placed:
            if kind != "side":
                continue
            yc = height - top - h / 2
            if top > last_bottom:   # a trailing side box: a stub down from the last main box
                fig.add_artist(FancyArrowPatch((main_cx, height - last_bottom), (main_cx, yc), transform=tr,
                                               **{**arrow, "arrowstyle": "-"}))
            fig.add_artist(FancyArrowPatch((main_cx, yc), (side_x0, yc), transform=tr, **arrow))
    return fig


def _layout(fig, flow: pd.DataFrame, width: float, main_w: float, size: float):
    """Wrap every box's text to its width and stack the boxes (inches from the top). Returns
    the placed boxes (kind, box, [(text, weight, x offset)], top, height), the figure height,
    and the side column's left edge and width (shrunk to its longest line)."""
    lh = line_height(size)
    side_x0 = MARGIN + main_w + 0.4
    side_w = width - MARGIN - side_x0
    boxes = []
    for b, g in flow.groupby("BOX", sort=True):
        kind = g.KIND.iloc[0]
        w = (main_w if kind == "main" else side_w) - 2 * PAD
        lines = []
        for r in g.itertuples():
            off = INDENT * r.LEVEL if kind == "side" else 0.0
            weight = "bold" if r.LEVEL == 0 else "normal"
            room = w - off - (INDENT if r.LEVEL else 0)   # wrapped lines of a reason hang one indent deeper
            for j, part in enumerate(wrap_to_width(fig, r.TEXT, room, size, weight)):
                lines.append((part, weight, off + (INDENT if j and r.LEVEL else 0)))
        boxes.append((b, kind, lines, len(lines) * lh + 2 * PAD))
    natural = [off + text_size(fig, text, size, weight)[0] for _, kind, lines, _ in boxes if kind == "side"
               for text, weight, off in lines]
    side_w = min(side_w, max(natural, default=0.0) + 2 * PAD + 0.02)
    y, placed, pending_side = MARGIN, [], []
    for b, kind, lines, h in boxes:
        if kind == "side":
            pending_side.append((b, lines, h))
            continue
        if placed:
            gap = max(ARROW_GAP, sum(s[2] for s in pending_side) + 0.2 * (len(pending_side) + 1))
            y = _place_sides(placed, pending_side, y, gap)
        placed.append(("main", b, lines, y, h))
        y += h
        pending_side = []
    if pending_side:   # side boxes after the last main box hang from a short stub
        y = _place_sides(placed, pending_side, y, sum(s[2] for s in pending_side) + 0.2 * (len(pending_side) + 1))
    return placed, y + MARGIN, side_x0, side_w


def _place_sides(placed, sides, y, gap):
    """Put side boxes into the gap below y (stacked, centred in it); return the gap's end."""
    inner = y + (gap - sum(s[2] for s in sides) - 0.2 * (len(sides) - 1)) / 2
    for b, lines, h in sides:
        placed.append(("side", b, lines, inner, h))
        inner += h + 0.2
    return y + gap
