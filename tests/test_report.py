"""The Quarto SAR: every embed target exists with stored output and a label on the cell's first
lines; every cross-reference resolves; chapters hold no executable code; the version and cut-off
shown by the notebooks agree with _variables.yml; rendering is tested when Quarto is installed."""

from __future__ import annotations

import json
import re
import shutil
import subprocess

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
        cap = "".join(cell["source"])
        assert f"{kind}-cap:" in cap, f"{path}#{label} needs a {kind}-cap"


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


@pytest.mark.skipif(shutil.which("quarto") is None,
                    reason="Quarto is not installed (conda env from environment.yml, or pip quarto-cli with internet)")
def test_quarto_renders_html_and_pdf(tmp_path):
    res = subprocess.run(["quarto", "render", "--to", "html", "--output-dir", str(tmp_path / "html")], cwd=ROOT,
                         capture_output=True, text=True)
    assert res.returncode == 0, res.stderr[-3000:]
    res = subprocess.run(["quarto", "render", "--to", "typst", "--output-dir", str(tmp_path / "pdf")], cwd=ROOT,
                         capture_output=True, text=True)
    assert res.returncode == 0, res.stderr[-3000:]
