"""One look for every SAR figure: seaborn theme, sizes for an A4 page, colour-blind-safe
palettes, text measurement, deterministic PNG output.

Sizes: the SAR is A4 with 2.5 cm margins, a 16 cm (6.3 in) text width; every figure is drawn at
that width (or narrower) and placed at 100 %, so the font sizes below are the printed sizes
(body 8 pt, nothing under 7 pt). Colours: the Okabe-Ito palette (Okabe & Ito 2008, "Color
Universal Design"), chosen so that each pair stays distinguishable under deuteranopia and
protanopia; categories that matter most (PR / SD / PD) also differ in lightness and, where lines
cross, in marker shape.
"""

from __future__ import annotations

import io
import math
from contextlib import contextmanager

import matplotlib
import seaborn as sns
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

TEXT_WIDTH_IN = 6.3      # 16 cm: A4 (21 cm) minus 2 x 2.5 cm margins
DPI = 200                # print resolution of the PNGs
FONT = 8.0               # body text of figures, pt at final size
SMALL = 7.0              # the smallest text (patient ids, at-risk counts), pt at final size
LINE = 1.2               # line height as a multiple of the font size

OKABE_ITO = {
    "black": "#000000", "orange": "#E69F00", "sky blue": "#56B4E9", "bluish green": "#009E73",
    "yellow": "#F0E442", "blue": "#0072B2", "vermillion": "#D55E00", "reddish purple": "#CC79A7",
}
GREY = "#999999"
LIGHT_GREY = "#D4D4D4"
INK = "#262626"          # seaborn's .15 grey, used for text and frames

# groups (KM curves, forest points) in this order; line styles differ too, for grey-scale print
GROUP_COLOURS = [OKABE_ITO[c] for c in ("blue", "vermillion", "bluish green", "reddish purple",
                                         "orange", "sky blue", "black")]
GROUP_LINESTYLES = ["-", "--", "-.", ":"]

BOR_ORDER = ["CR", "PR", "NON-CR/NON-PD", "SD", "PD", "NE", "MISSING"]
# PR and SD, the two largest groups, are blue and orange, the pair of the Okabe-Ito palette most
# distinct in hue and lightness under every colour-vision deficiency; PD is reddish purple, far
# from both (vermillion would sit next to orange)
BOR_COLOURS = {"CR": OKABE_ITO["bluish green"], "PR": OKABE_ITO["blue"], "NON-CR/NON-PD": OKABE_ITO["vermillion"],
               "SD": OKABE_ITO["orange"], "PD": OKABE_ITO["reddish purple"], "NE": GREY, "MISSING": LIGHT_GREY}
BOR_MARKERS = {"CR": "D", "PR": "o", "NON-CR/NON-PD": "P", "SD": "s", "PD": "^", "NE": "X", "MISSING": "v"}
BOR_NAMES = {"CR": "complete response", "PR": "partial response", "NON-CR/NON-PD": "non-CR/non-PD",
             "SD": "stable disease", "PD": "progressive disease", "NE": "not evaluable", "MISSING": "missing"}

GRADE_COLOURS = {1: OKABE_ITO["sky blue"], 2: OKABE_ITO["blue"], 3: OKABE_ITO["orange"],
                 4: OKABE_ITO["reddish purple"], 5: OKABE_ITO["black"]}

THEME = {
    **sns.axes_style("ticks"),
    **sns.plotting_context("paper", rc={
        "font.size": FONT, "axes.labelsize": FONT, "axes.titlesize": FONT, "xtick.labelsize": FONT,
        "ytick.labelsize": FONT, "legend.fontsize": FONT, "legend.title_fontsize": FONT,
        "lines.linewidth": 1.2, "axes.linewidth": 0.8, "xtick.major.width": 0.8, "ytick.major.width": 0.8,
        "xtick.major.size": 3.5, "ytick.major.size": 3.5, "lines.markersize": 4.5}),
    "font.family": ["sans-serif"],
    "font.sans-serif": ["DejaVu Sans"],   # ships with matplotlib: the same glyphs on every machine
    "axes.spines.top": False, "axes.spines.right": False,
    "legend.frameon": False, "legend.handlelength": 1.6, "legend.borderaxespad": 0.2,
    "figure.dpi": DPI, "savefig.dpi": DPI, "figure.facecolor": "white",
    "svg.hashsalt": "apec-sar", "pdf.fonttype": 42,
}


@contextmanager
def theme():
    """The SAR figure style (seaborn "ticks" on the "paper" context, sizes above) for a block."""
    with matplotlib.rc_context(THEME):
        yield


def new_figure(width: float = TEXT_WIDTH_IN, height: float = 4.0, layout: str | None = None) -> Figure:
    """A figure outside pyplot (no global state, nothing to close), with an Agg canvas."""
    if width > TEXT_WIDTH_IN + 1e-9:
        raise ValueError(f"figure width {width} in exceeds the text width {TEXT_WIDTH_IN} in")
    fig = Figure(figsize=(width, height), dpi=DPI, layout=layout)
    FigureCanvasAgg(fig)
    return fig


def text_size(fig: Figure, text: str, size: float = FONT, weight: str = "normal") -> tuple[float, float]:
    """Width and height (inches) of a text as drawn on this figure (multi-line aware)."""
    t = fig.text(0, 0, text, fontsize=size, fontweight=weight)
    bb = t.get_window_extent(fig.canvas.get_renderer())
    t.remove()
    return bb.width / fig.dpi, bb.height / fig.dpi


def line_height(size: float = FONT) -> float:
    """Distance between text baselines in inches."""
    return LINE * size / 72


def wrap_to_width(fig: Figure, text: str, width: float, size: float = FONT, weight: str = "normal") -> list[str]:
    """Greedy word wrap at ordinary spaces (a no-break space keeps "n\u00a0=\u00a029" together)
    so that each line is at most ``width`` inches wide as drawn (a single word longer than the
    width stays on its own line)."""
    lines, cur = [], ""
    for word in (w for w in text.split(" ") if w):
        trial = f"{cur} {word}" if cur else word
        if cur and text_size(fig, trial, size, weight)[0] > width:
            lines.append(cur)
            cur = word
        else:
            cur = trial
    if cur:
        lines.append(cur)
    return lines or [""]


def png_bytes(fig: Figure) -> bytes:
    """The figure as PNG at the print resolution, without metadata that varies (no software
    version, no date): the same figure gives the same bytes."""
    buf = io.BytesIO()
    with theme():
        fig.savefig(buf, format="png", dpi=DPI, metadata={"Software": None})
    return buf.getvalue()


def save(fig: Figure, path) -> None:
    """Write the figure's PNG (see :func:`png_bytes`)."""
    with open(path, "wb") as f:
        f.write(png_bytes(fig))


NOTE_GAP = 0.08          # inches between a figure and its footnote


def with_note(fig: Figure, note: str | list[str]) -> Figure:
    """The figure with footnotes under it (population, method, source), as a new figure of the
    same width: the drawn figure is placed pixel for pixel above the notes (no resampling), each
    note wrapped to the width at the small font size, so the output stands alone like a table."""
    import numpy as np
    from matplotlib.image import imread
    from ..tables import typeset
    notes = [typeset(n) for n in ([note] if isinstance(note, str) else list(note))]
    arr = imread(io.BytesIO(png_bytes(fig)))
    w, _ = fig.get_size_inches()
    probe = new_figure(w, 1.0)
    lines = [ln for n in notes for ln in wrap_to_width(probe, n, w - 0.05, SMALL)]
    note_px = math.ceil((NOTE_GAP + len(lines) * line_height(SMALL) + 0.04) * DPI)   # whole pixels
    note_h = note_px / DPI
    h_px, w_px = arr.shape[:2]
    out = new_figure(w_px / DPI, (h_px + note_px) / DPI)
    out.figimage(np.asarray(arr), xo=0, yo=note_px, origin="upper")
    with theme():
        for i, ln in enumerate(lines):
            y = note_h - NOTE_GAP - (i + 0.8) * line_height(SMALL)
            out.text(0.02 / out.get_size_inches()[0], y / out.get_size_inches()[1], ln, fontsize=SMALL, color=INK,
                     ha="left", va="baseline")
    return out


def show(fig: Figure, note: str | list[str] | None = None) -> None:
    """Display a figure once, as its PNG, sized to its inches in CSS pixels (96 per inch; Quarto
    turns them back into inches for Typst), rounded down so a text-width figure stays inside the
    text width: fonts print at the sizes set here. ``note``: footnotes printed under the figure
    (:func:`with_note`)."""
    from IPython.display import Image, display
    if note:
        fig = with_note(fig, note)
    w, h = fig.get_size_inches()
    display(Image(data=png_bytes(fig), format="png", width=math.floor(w * 96), height=math.floor(h * 96)))
