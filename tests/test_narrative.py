"""Results text whose numbers come from the ARD: templates hold no typed number, the stored text
is exactly a fresh rendering from the ARD, a lookup that is missing or ambiguous stops with the
template named, and after a release cut to a new data cut-off the text follows the numbers."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from apec_sar.ard import load_ard
from apec_sar.narrative import TEMPLATES, ArdLookup, TextError, render_text, text_dir, typed_numbers

from .conftest import ROOT
from .test_report import embeds


def stored_text(notebook) -> dict[str, str]:
    """label -> the Markdown a text notebook's labelled cell displays."""
    nb = json.loads(notebook.read_text(encoding="utf-8"))
    out = {}
    for cell in nb["cells"]:
        src = "".join(cell["source"])
        if cell["cell_type"] == "code" and src.startswith("#| label: txt-"):
            label = src.splitlines()[0].split(":", 1)[1].strip()
            out[label] = "".join(cell["outputs"][0]["data"]["text/markdown"])
    return out


def test_templates_hold_no_typed_number():
    for name in TEMPLATES:
        text = (text_dir(ROOT) / f"{name}.md").read_text(encoding="utf-8")
        assert typed_numbers(text) == [], f"report/text/{name}.md: typed numbers {typed_numbers(text)}"


def test_typed_number_detection():
    assert typed_numbers("Median PFS was 5.3 months ({{ num('PFS', 'MEDIAN') }}).") == ["5.3"]
    assert typed_numbers("ORR {{ est('BOR', 'ORR') }} (@tbl-rspt01), RECIST 1.1, 95% CI, PD-1.") == []
    assert typed_numbers("{% if x %}42 days{% endif %}") == ["42"]


def test_every_template_is_rendered_and_embedded():
    labels = {label for _, path, label in embeds() if path.endswith("11_text.ipynb")}
    assert labels == {f"txt-{name}" for name in TEMPLATES}
    assert set(stored_text(ROOT / "notebooks" / "11_text.ipynb")) == labels


def test_stored_text_is_a_fresh_rendering_from_the_ard(built):
    ard = load_ard(built / "data" / "ard")
    stored = stored_text(ROOT / "notebooks" / "11_text.ipynb")
    for name in TEMPLATES:
        assert stored[f"txt-{name}"] == render_text(name, ard, root=built), name


def _ard(rows):
    base = dict(OUTPUT_ID="t", ANALYSIS="a", POPULATION="Analysis set", GROUP="All", METHOD="")
    return pd.DataFrame([{**base, **r} for r in rows])


def test_lookups_missing_ambiguous_and_duplicated():
    a = ArdLookup(_ard([{"PARAMETER": "PFS", "STAT": "MEDIAN", "VALUE": 5.554},
                        {"PARAMETER": "PFS", "STAT": "MEDIAN", "VALUE": 5.554, "OUTPUT_ID": "u"},
                        {"PARAMETER": "OS", "STAT": "MEDIAN", "VALUE": 12.1},
                        {"PARAMETER": "OS", "STAT": "MEDIAN", "VALUE": 9.0, "POPULATION": "Safety set"},
                        {"PARAMETER": "BOR", "STAT": "ORR", "VALUE": 31.034},
                        {"PARAMETER": "BOR", "STAT": "ORR_LCL", "VALUE": 15.28},
                        {"PARAMETER": "BOR", "STAT": "ORR_UCL", "VALUE": 50.83},
                        {"PARAMETER": "Any TEAE", "STAT": "n", "VALUE": 49.0},
                        {"PARAMETER": "Any TEAE", "STAT": "pct", "VALUE": 100.0}]), "survival")
    assert a.num("PFS", "MEDIAN", 2) == "5.55"                    # one statistic shown in two outputs
    assert a.est("BOR", "ORR", ci=("ORR_LCL", "ORR_UCL"), d=1, unit="%") == "31.0% (95% CI 15.3% to 50.8%)"
    assert a.npct("Any TEAE") == "49 (100.0%)"
    with pytest.raises(TextError, match=r"report/text/survival.md: .*'OS'.* different values; add one of: .*Safety set"):
        a.value("OS", "MEDIAN")
    assert a.value("OS", "MEDIAN", population="Safety set") == 9.0
    with pytest.raises(TextError, match=r"report/text/survival.md: ARD lookup \{'parameter': 'DOR'.*matched no row"):
        a.value("DOR", "MEDIAN")


def test_text_follows_a_new_data_cutoff(built, tmp_path):
    """A release cut to a later cut-off re-renders the text from the new ARD without edits: the
    PFS and OS event counts in the survival text are the new ARD's."""
    import shutil
    project = tmp_path / "project"
    shutil.copytree(built, project)
    env = {**os.environ, "APEC_SAR_ROOT": str(project)}
    res = subprocess.run([sys.executable, "-m", "apec_sar.release", "cut", "--version", "9.9", "--cutoff", "2023-12-31",
                          "--status", "draft", "--note", "test", "--no-render"], cwd=project, env=env,
                         capture_output=True, text=True)
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-2000:]
    new = load_ard(project / "data" / "ard")
    old = load_ard(built / "data" / "ard")
    ev = lambda a, p: int(a[(a.OUTPUT_ID == "tbl-ttet01") & (a.PARAMETER == p) & (a.STAT == "EVENTS_N")].VALUE.iloc[0])  # noqa: E731
    assert ev(new, "OS") >= ev(old, "OS")
    text = stored_text(project / "notebooks" / "11_text.ipynb")
    assert f"By the data cut-off, {ev(new, 'PFS')} of the" in " ".join(text["txt-survival"].split())
    assert f"{ev(new, 'OS')} patients had died" in " ".join(text["txt-survival"].split())
    changes = " ".join(text["txt-changes"].split())
    assert "Version 9.9 (draft, data cut-off 2023-12-31) is compared with version 2.0" in changes
    assert "The data cut-off moved from 2023-06-30 to 2023-12-31" in changes
    for name in TEMPLATES:
        assert render_text(name, new, root=project) == text[f"txt-{name}"], name
    assert not np.isnan(new.VALUE.astype(float)).all()
