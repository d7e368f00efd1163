"""HTML preview of the executed notebooks, for machines without Quarto.

Writes ``_output/preview/index.html`` (links, in report order) and one HTML page per notebook
(nbconvert, stored outputs only, input cells hidden). Not the SAR: the SAR needs Quarto.
"""

from __future__ import annotations

import html
from pathlib import Path

from .config import load_config
from .paths import project_root


def build_preview(out: Path | None = None) -> Path:
    import nbformat
    from nbconvert import HTMLExporter

    root = project_root()
    out = Path(out or root / "_output" / "preview")
    out.mkdir(parents=True, exist_ok=True)
    cfg = load_config()
    exporter = HTMLExporter(template_name="lab")
    exporter.exclude_input = True
    exporter.exclude_input_prompt = True
    exporter.exclude_output_prompt = True
    items = []
    for nb_path in sorted((root / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        nb = nbformat.read(nb_path, as_version=4)
        body, _ = exporter.from_notebook_node(nb)
        target = out / f"{nb_path.stem}.html"
        target.write_text(body, encoding="utf-8")
        title = next((c.source.splitlines()[0].lstrip("# ").strip() for c in nb.cells
                      if c.cell_type == "markdown" and c.source.startswith("#")), nb_path.stem)
        items.append((target.name, title))
    links = "\n".join(f'<li><a href="{html.escape(f)}">{html.escape(t)}</a></li>' for f, t in items)
    index = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>APEC SAR {html.escape(cfg.version)} - notebook preview</title></head>
<body>
<h1>APEC SAR {html.escape(cfg.version)} ({html.escape(cfg.status)}): notebook preview</h1>
<p><strong>Synthetic data.</strong> Data cut-off {cfg.data_cutoff.isoformat()}. This is a preview of the
executed analysis notebooks, not the SAR: rendering the SAR (HTML and PDF) needs Quarto.</p>
<ol>
{links}
</ol>
</body></html>
"""
    (out / "index.html").write_text(index, encoding="utf-8")
    return out / "index.html"
