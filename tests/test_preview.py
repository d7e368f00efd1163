"""Without Quarto, the report step writes an HTML preview of the executed notebooks; it is
opened in headless Chromium (Debian package) and checked for headings and images."""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile

import pytest

from apec_sar.preview import build_preview

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def dump_dom(url: str) -> str:
    with tempfile.TemporaryDirectory() as profile:
        res = subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                              "--no-first-run", "--disable-background-networking", "--disable-component-update",
                              "--disable-sync", f"--user-data-dir={profile}", "--dump-dom", url],
                             capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr[-2000:]
    return res.stdout


@pytest.fixture(scope="module")
def preview(tmp_path_factory):
    return build_preview(tmp_path_factory.mktemp("preview"))


def test_preview_index_lists_every_notebook(preview):
    text = preview.read_text(encoding="utf-8")
    assert "Synthetic data" in text and "needs Quarto" in text
    from .conftest import ROOT
    n = len(list((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")))
    assert n >= 10 and len(re.findall(r'<li><a href="\d\d_\w+\.html">', text)) == n


@pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (apt-get install chromium)")
def test_preview_pages_in_headless_chromium(preview):
    index = dump_dom(preview.as_uri())
    assert "<h1>APEC SAR" in index
    expected = {"05_survival.html": ("Progression-free survival", 3), "04_response.html": ("Tumour response", 3),
                "07_safety.html": ("Safety", 1), "03_baseline.html": ("Disposition", 1)}
    for page, (heading, images) in expected.items():
        dom = dump_dom((preview.parent / page).as_uri())
        h1 = re.findall(r"<h1[^>]*>(.*?)</h1>", dom, flags=re.S)
        assert any(heading in h for h in h1), (page, h1[:3])
        assert len(re.findall(r"<img[^>]+src=\"data:image/png;base64,", dom)) >= images, page
        assert "Traceback" not in dom
