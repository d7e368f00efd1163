"""The Quarto SAR: every embed target exists with stored output and a label on the cell's first
lines; every numbered output is registered once in report/outputs.yml and captioned with its
number; every cross-reference resolves; chapters hold no executable code; the version and
cut-off shown by the notebooks agree with _variables.yml. With Quarto installed (CI installs it)
the SAR is rendered once and read back: the render prints no warning, the PDF's text holds every
caption and the release stamp and no unresolved reference, and the HTML is opened in headless
Chromium (every chapter heading, every image loaded, no console error, no network request)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys

import pytest
import yaml

from apec_sar.config import load_config

from .conftest import ROOT

EMBED = re.compile(r"\{\{<\s*embed\s+(\S+?)#([\w-]+)\s*>\}\}")
XREF = re.compile(r"(?<![\w/])@((?:fig|tbl|sec)-[\w-]+)")


def chapters() -> list[str]:
    book = yaml.safe_load((ROOT / "_quarto.yml").read_text(encoding="utf-8"))["book"]
    return book["chapters"] + book.get("appendices", [])


def cell_labels(nb_path):
    nb = json.loads(nb_path.read_text(encoding="utf-8"))
    out = {}
    for cell in nb["cells"]:
        if cell["cell_type"] != "code":
            continue
        src = "".join(cell["source"]).splitlines()
        for line in src:
            m = re.match(r"^#\s*\|\s*label:\s*(\S+)", line)
            if m:
                out[m.group(1)] = cell
                continue
            if not re.match(r"^#\s*\|", line):
                break          # Quarto stops reading options at the first other line
    return out


def embeds():
    for ch in chapters():
        text = (ROOT / ch).read_text(encoding="utf-8")
        for path, label in EMBED.findall(text):
            yield ch, path, label


def test_chapters_exist_and_run_no_code():
    assert chapters()[0] == "index.qmd"           # a book's home page must be index.* at the root
    for ch in chapters():
        text = (ROOT / ch).read_text(encoding="utf-8")
        assert not re.search(r"```\s*\{(python|r|julia)", text), f"{ch} has an executable cell"


def test_every_embed_target_exists_with_output():
    seen = set()
    found = list(embeds())
    assert len(found) >= 25
    for ch, path, label in found:
        nb = ROOT / path.lstrip("/") if path.startswith("/") else (ROOT / ch).parent / path
        assert nb.is_file(), f"{ch}: {path} missing"
        labels = cell_labels(nb)
        assert label in labels, f"{ch}: {path}#{label}: no cell with that label on its first lines"
        cell = labels[label]
        assert cell["outputs"] and cell["execution_count"], f"{path}#{label} has no stored output"
        assert label not in seen, f"{label} embedded twice (labels must be unique in a book)"
        seen.add(label)
        kind = label.split("-")[0]
        if kind in ("tbl", "fig"):
            assert f"{kind}-cap:" in "".join(cell["source"]), f"{path}#{label} needs a {kind}-cap"


def test_every_numbered_output_is_registered_and_captioned_with_its_number():
    from apec_sar.outputs import load_outputs
    outputs = {o.label: o for o in load_outputs()}
    floats = {(path, label) for _, path, label in embeds() if label.split("-")[0] in ("tbl", "fig")}
    assert {label for _, label in floats} == set(outputs), "report/outputs.yml and the chapters' embeds differ"
    for path, label in floats:
        o = outputs[label]
        assert path == f"/notebooks/{o.notebook}.ipynb", (label, path)
        src = "".join(cell_labels(ROOT / path.lstrip("/"))[label]["source"])
        m = re.search(r'^#\|\s*(?:tbl|fig)-cap:\s*"(.*)"\s*$', src, re.M)
        assert m and m.group(1) == o.caption, f"{label}: caption differs from the registry: run python -m apec_sar.outputs sync"
        if label.startswith("fig-"):       # a text alternative for the image in the HTML
            alt = re.search(r'^#\|\s*fig-alt:\s*"(.*)"\s*$', src, re.M)
            assert alt and alt.group(1) == o.title, f"{label}: fig-alt missing: run python -m apec_sar.outputs sync"
    numbers = [(o.kind, o.number) for o in outputs.values()]
    assert len(numbers) == len(set(numbers))
    assert not any(re.search(r"[a-z]$|\.0$|\.0\.", n) for _, n in numbers), "ICH numbers only (no 14.1.0, no 14.2.9b)"


def test_every_cross_reference_resolves():
    targets = {label for _, _, label in embeds()}
    for ch in chapters():
        text = (ROOT / ch).read_text(encoding="utf-8")
        targets |= set(re.findall(r"\{#((?:sec)-[\w-]+)\}", text))
    for ch in chapters():
        for ref in XREF.findall((ROOT / ch).read_text(encoding="utf-8")):
            assert ref in targets, f"{ch}: @{ref} does not resolve"


def test_notebooks_show_the_configured_version_and_cutoff():
    cfg = load_config()
    for nb in sorted((ROOT / "notebooks").glob("0*.ipynb")):
        text = nb.read_text(encoding="utf-8")
        for m in re.finditer(r"SAR (\S+) \((draft|final)\), data cut-off (\d{4}-\d{2}-\d{2})", text):
            assert (m.group(1), m.group(2), m.group(3)) == (cfg.version, cfg.status, cfg.data_cutoff.isoformat()), nb.name
        for m in re.finditer(r"data cut-off:? (\d{4}-\d{2}-\d{2})", text):
            assert m.group(1) == cfg.data_cutoff.isoformat(), nb.name


QUARTO = shutil.which("quarto")
needs_quarto = pytest.mark.skipif(QUARTO is None, reason="Quarto is not installed (CI installs it: ../shared/tools/quarto)")


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    """The whole SAR rendered once (HTML + PDF) in a scratch copy of the project (the user's
    _output/ and .quarto/ stay untouched), the way `make report` renders it (both formats at the
    same time, apec_sar.pipeline.render_sar)."""
    if QUARTO is None:
        pytest.skip("Quarto is not installed")
    from apec_sar.paths import scratch_copy
    project = scratch_copy(tmp_path_factory.mktemp("render") / "project", ROOT)
    env = {**os.environ, "QUARTO_PYTHON": sys.executable, "APEC_SAR_ROOT": str(project)}
    res = subprocess.run([sys.executable, "-c", "import os, sys; from pathlib import Path; "
                          "from apec_sar.pipeline import render_sar; "
                          "sys.stdout.write(render_sar(Path(os.environ['APEC_SAR_ROOT']), sys.argv[1], dict(os.environ)))",
                          QUARTO], cwd=project, capture_output=True, text=True, env=env)
    return res, project / "_output" / "sar"


@needs_quarto
def test_render_exits_0_with_no_warning(rendered):
    res, out = rendered
    assert res.returncode == 0, res.stderr[-3000:]
    lines = (res.stdout + res.stderr).splitlines()
    warnings = [line for line in lines if re.search(r"\bwarn(ing)?\b", line, re.I)]
    assert not warnings, warnings[:10]
    assert (out / f"APEC-SAR-v{load_config().version}.pdf").is_file()
    assert (out / "index.html").is_file()


def _pdf_text(pdf, *pages):
    args = ["pdftotext", "-layout"] + (["-f", str(pages[0]), "-l", str(pages[-1])] if pages else []) + [str(pdf), "-"]
    return subprocess.run(args, capture_output=True, text=True, check=True).stdout


@needs_quarto
@pytest.mark.skipif(shutil.which("pdftotext") is None, reason="poppler-utils is not installed")
def test_pdf_text_has_every_caption_the_stamp_and_no_unresolved_reference(rendered):
    from apec_sar.outputs import load_outputs
    _, out = rendered
    pdf = out / f"APEC-SAR-v{load_config().version}.pdf"
    text = " ".join(_pdf_text(pdf).replace("\u2019", "'").split())   # typographic apostrophes
    for o in load_outputs():
        assert text.count(o.caption) >= 2, f"{o.caption!r}: expected in the list of outputs and above the output"
    for bad in ("??", "@tbl-", "@fig-", "@sec-", "&lt;", "&gt;", "&amp;", "&nbsp;"):
        assert bad not in text, bad
    cover = " ".join(_pdf_text(pdf, 1).split())
    cfg = load_config()
    assert f"SAR version {cfg.version}" in cover and cfg.data_cutoff.isoformat() in cover
    assert ("SYNTHETIC DATA" in cover) == cfg.synthetic_data
    lock = json.loads((ROOT / "data" / "datalock.json").read_text(encoding="utf-8"))
    assert "Source commit" in cover and lock["lock_hash"] in cover     # printed whole, on one line


@needs_quarto
@pytest.mark.skipif(shutil.which("pdftotext") is None, reason="poppler-utils is not installed")
def test_pdf_nothing_runs_past_the_margins_or_overprints(rendered):
    """Every word of every page lies inside the page with at least 1 cm to spare on each side
    (the text area has 2.2 cm margins), and no two words are printed over each other: no clipped
    table column, hash or caption, no overlapping headers."""
    _, out = rendered
    pdf = out / f"APEC-SAR-v{load_config().version}.pdf"
    xml = subprocess.run(["pdftotext", "-bbox", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    cm = 72 / 2.54
    outside, overlapping = [], []
    word = re.compile(r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">(.*?)</word>')
    for n, page in enumerate(re.findall(r"<page (.*?)</page>", xml, re.S), start=1):
        width = float(re.search(r'width="([\d.]+)"', page).group(1))
        words = [(float(a), float(b), float(c), float(d), w) for a, b, c, d, w in word.findall(page)]
        outside += [(n, w) for x0, _, x1, _, w in words if x0 < cm or x1 > width - cm]
        # two words printed over each other (e.g. column headers too wide for their column)
        words.sort(key=lambda t: t[1])
        for i, (x0, y0, x1, y1, w) in enumerate(words):
            for u0, v0, u1, v1, u in words[i + 1:]:
                if v0 >= y1:
                    break
                ox = min(x1, u1) - max(x0, u0)
                oy = min(y1, v1) - max(y0, v0)
                if ox > 1.0 and oy > 0.5 * min(y1 - y0, v1 - v0):
                    overlapping.append((n, w, u))
    assert outside == [], outside[:10]
    assert overlapping == [], overlapping[:10]


@needs_quarto
@pytest.mark.skipif(not __import__("tests.browser", fromlist=["CHROMIUM"]).CHROMIUM,
                    reason="Chromium is not installed (apt-get install chromium)")
def test_html_in_headless_chromium(rendered):
    import functools
    import http.server
    import threading

    from .browser import browser
    _, out = rendered

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(out)))
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{srv.server_address[1]}"
    try:
        with browser() as open_page:
            for ch in chapters():
                first = next(line for line in (ROOT / ch).read_text(encoding="utf-8").splitlines() if line.startswith("# "))
                title = re.sub(r"\s*\{.*\}\s*$", "", first[2:]).strip()
                page = open_page(f"{base}/{ch.replace('.qmd', '.html')}")
                h1 = page.eval("Array.from(document.querySelectorAll('h1')).map(h => h.textContent).join(' | ')")
                assert title in h1.replace("\u2019", "'"), (ch, h1)      # Quarto prints typographic apostrophes
                broken = page.eval("Array.from(document.images).filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.src)")
                assert broken == [], (ch, broken)
                no_alt = page.eval("Array.from(document.querySelectorAll('figure img, .cell-output-display img'))"
                                   ".filter(i => !(i.alt || '').trim()).map(i => i.src)")
                assert no_alt == [], (ch, no_alt)
                errors = [e for e in page.errors if "favicon.ico" not in e]
                assert errors == [], (ch, errors)
                external = page.eval("performance.getEntriesByType('resource').map(r => r.name).filter(n => !n.startsWith(location.origin))")
                assert external == [], (ch, external)
    finally:
        srv.shutdown()


@needs_quarto
def test_html_zip_opens_offline(rendered):
    import zipfile
    _, out = rendered
    name = f"APEC-SAR-v{load_config().version}"
    with zipfile.ZipFile(out / f"{name}-html.zip") as z:
        names = set(z.namelist())
    assert f"{name}/index.html" in names
    for ch in chapters():
        assert f"{name}/{ch.replace('.qmd', '.html')}" in names
    assert sum(n.endswith(".png") for n in names) >= 10
