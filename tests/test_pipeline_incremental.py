"""`make report` re-runs what changed, and only that: a notebook re-runs when its code, the
package, the configuration, the data or what its upstream notebooks wrote has changed (an upstream
re-run that wrote the same bytes does not propagate); each format of the SAR is re-rendered only
when something it reads has changed. Both are caches: deleting an output always rebuilds it."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest

from apec_sar import pipeline

WRITES = {"01": ["data/ard/01_a.csv", "data/derived/clean/x.parquet"],
          "02": ["data/ard/02_b.csv", "data/derived/adsl.parquet", "data/derived/datasets.md",
                 "data/derived/consort.csv", "data/derived/harmonisation.csv", "data/derived/query_log.csv",
                 "data/derived/reconciliation.csv"],
          "03": ["data/ard/03_c.csv"]}


@pytest.fixture
def project(tmp_path, monkeypatch):
    (tmp_path / "notebooks").mkdir()
    for stem in ("01_a", "02_b", "03_c"):
        nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1")]),
                       tmp_path / "notebooks" / f"{stem}.ipynb")
    content = {"01": "one", "02": "two", "03": "three"}
    ran: list[str] = []

    def fake_execute(path, cwd=None):
        num = path.name[:2]
        ran.append(num)
        for rel in WRITES[num]:
            p = tmp_path / rel
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_text(f"{rel}: {content[num]}")
    monkeypatch.setattr(pipeline, "project_root", lambda: tmp_path)
    monkeypatch.setattr(pipeline.datalock, "check", lambda: "0" * 64)
    monkeypatch.setattr(pipeline, "_base_hash", lambda root: "base")
    monkeypatch.setattr(pipeline, "execute_notebook", fake_execute)

    def run() -> list[str]:
        ran.clear()
        assert pipeline.main(["--no-render"]) == 0
        return sorted(ran)

    def edit(stem: str) -> None:          # a comment added to the code: same results
        path = tmp_path / "notebooks" / f"{stem}.ipynb"
        nb = nbformat.read(path, as_version=4)
        nb.cells[0].source = "# edited\n" + nb.cells[0].source
        nbformat.write(nb, path)
    return tmp_path, content, run, edit


def test_only_what_changed_re_runs(project, capsys):
    root, content, run, edit = project
    assert run() == ["01", "02", "03"]                 # first run: everything
    assert run() == []                                 # nothing changed: nothing runs
    assert "notebooks/03_c.ipynb: unchanged, not re-run" in capsys.readouterr().out
    edit("01_a")
    assert run() == ["01"]                             # same results: 02 and 03 need not re-run
    content["01"] = "ONE"
    edit("01_a")
    assert run() == ["01", "02"]                       # 02 reads what 01 wrote; 02 wrote the same bytes
    content["02"] = "TWO"                              # (and 02 now writes other bytes)
    (root / "data" / "derived" / "adsl.parquet").write_text("changed by hand")
    assert run() == ["02", "03"]                       # a result altered on disk is rebuilt
    (root / "data" / "ard" / "03_c.csv").unlink()
    assert run() == ["03"]                             # a missing result is rebuilt
    nb = nbformat.read(root / "notebooks" / "02_b.ipynb", as_version=4)
    nb.cells[0].outputs = [nbformat.v4.new_output("stream", name="stdout", text="put back by hand\n")]
    nbformat.write(nb, root / "notebooks" / "02_b.ipynb")
    assert run() == ["02"]                             # stored outputs not those it left: re-run
    (root / "data" / "derived" / ".notebook_stamps.json").write_text('{"01": {"inpu')
    assert run() == ["01", "02", "03"]                 # a stamps file cut short: everything re-runs
    ran = []
    pipeline.execute_notebook, old = (lambda path, cwd=None: ran.append(path.name[:2])), pipeline.execute_notebook
    try:
        assert pipeline.main(["--no-render", "--all"]) == 0
    finally:
        pipeline.execute_notebook = old
    assert sorted(ran) == ["01", "02", "03"]            # --all: everything, changed or not


def test_a_notebook_not_in_depends_reads_every_notebook_before_it():
    assert pipeline.upstream("13", {"01", "02", "13", "14"}) == ["01", "02"]
    assert pipeline.upstream("05", {"01", "02", "05"}) == ["02"]


def assert_every_written_file_is_declared(root: Path) -> None:
    """After a full run of a project, every file under data/ard and data/derived belongs to
    exactly one notebook's products (so no notebook reads an undeclared result of another).
    Called by tests/test_release.py on the scratch project it runs."""
    owners: dict[Path, list[str]] = {}
    for nb in pipeline.notebooks(root):
        for p in pipeline.products(root, nb):
            owners.setdefault(p, []).append(nb.name)
    files = [p for d in (root / "data" / "ard", root / "data" / "derived") for p in d.rglob("*")
             if p.is_file() and not p.name.startswith(".")]
    assert files
    assert {p: owners.get(p) for p in files if len(owners.get(p, [])) != 1} == {}


# --- the render cache ----------------------------------------------------------------------------

FAKE_QUARTO = """#!/bin/sh
# a stand-in for quarto: records each call, writes the output a render would
echo "$PWD $*" >> "{log}"
case "$*" in
  *--version*) echo 1.10.18 ;;
  *sar-typst*) mkdir -p _output/sar && [ -f "{log}.nopdf" ] || echo pdf > "_output/sar/{pdf}" ;;
  *html*) mkdir -p _output/sar/report && echo "<html>$(cat notebooks/*.ipynb | wc -c)</html>" > _output/sar/index.html \\
          && echo page > _output/sar/report/a.html ;;
esac
"""


@pytest.fixture
def render_project(tmp_path, monkeypatch):
    root = tmp_path / "project"
    for name in ("report", "notebooks", "_extensions", "scripts"):
        (root / name).mkdir(parents=True)
    (root / "_quarto.yml").write_text("book:\n  output-file: SAR\n")
    (root / "_variables.yml").write_text("sar: {version: '1.0'}\n")
    (root / "index.qmd").write_text("# SAR\n")
    (root / "report" / "a.qmd").write_text("{{< embed /notebooks/01_a.ipynb#tbl-a >}}\n")
    cell = nbformat.v4.new_code_cell("#| label: tbl-a\nx = 1", outputs=[
        nbformat.v4.new_output("execute_result", {"text/plain": "1"}, execution_count=1)])
    nbformat.write(nbformat.v4.new_notebook(cells=[cell]), root / "notebooks" / "01_a.ipynb")
    log = tmp_path / "calls.log"
    quarto = tmp_path / "quarto"
    quarto.write_text(FAKE_QUARTO.format(log=log, pdf="SAR.pdf"))
    quarto.chmod(0o755)
    stamp = {"commit": "abc"}
    monkeypatch.setattr("apec_sar.provenance.write_stamp",
                        lambda: (root / "_stamp.yml").write_text(f"sar-build: {{commit: {stamp['commit']}}}\n"))

    def render() -> list[str]:
        log.write_text("")
        pipeline.render_sar(root, str(quarto), {"PATH": "/usr/bin:/bin"})
        return sorted("PDF" if "sar-typst" in line else "HTML" for line in log.read_text().splitlines())

    def set_output(text: str, source_comment: str = "") -> None:
        path = root / "notebooks" / "01_a.ipynb"
        nb = nbformat.read(path, as_version=4)
        nb.cells[0].outputs[0]["data"]["text/plain"] = text
        nb.cells[0].source = "#| label: tbl-a\n" + source_comment + "x = 1"
        nbformat.write(nb, path)
    return root, render, set_output, stamp


def test_each_format_re_renders_only_when_what_it_reads_changed(render_project):
    root, render, set_output, stamp = render_project
    out = root / "_output" / "sar"
    assert render() == ["HTML", "PDF"]
    assert (out / "SAR.pdf").is_file() and (out / "index.html").is_file() and (out / "report" / "a.html").is_file()
    assert render() == []                               # nothing changed
    set_output("1", source_comment="# a comment\n")
    assert render() == []                               # the code changed, not what the SAR shows
    set_output("2")
    assert render() == ["HTML", "PDF"]                  # an embedded output changed
    (root / "report" / "a.qmd").write_text("Text.\n{{< embed /notebooks/01_a.ipynb#tbl-a >}}\n")
    assert render() == ["HTML", "PDF"]                  # a chapter changed
    (out / "SAR.pdf").unlink()
    assert render() == ["PDF"]                          # a deleted output is rebuilt
    assert (out / "index.html").is_file() and (out / "report" / "a.html").is_file()
    (out / "index.html").write_text("<html>from a quarto preview in the project</html>")
    assert render() == ["HTML"]                         # an output not as its render left it
    (out / "APEC-SAR-v0.9.pdf").write_text("a previous version's PDF")
    (root / "report" / "a.qmd").write_text("{{< embed /notebooks/01_a.ipynb#tbl-a >}}\n")
    assert render() == ["HTML", "PDF"]
    assert sorted(p.name for p in out.glob("*.pdf")) == ["SAR.pdf"]   # one PDF: the book's
    (root / "report" / "a.qmd").write_text("Again.\n{{< embed /notebooks/01_a.ipynb#tbl-a >}}\n")
    nopdf = root.parent / "calls.log.nopdf"
    nopdf.write_text("")
    with pytest.raises(pipeline.RenderError, match="wrote no _output/sar/SAR.pdf"):
        render()
    assert "PDF" not in json.loads((root / "_output" / ".render-inputs.json").read_text())
    nopdf.unlink()
    assert render() == ["PDF"]                          # the HTML of that run was fine and recorded
    stamp["commit"] = "def"
    assert render() == ["HTML", "PDF"]                  # a new commit: the cover and document control change
    assert render() == []
    assert json.loads((root / "_output" / ".render-inputs.json").read_text()).keys() == {"HTML", "PDF"}
