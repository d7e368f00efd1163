"""The SAR's numbered outputs (``report/outputs.yml``): ICH E3 numbers assigned in one place.

Within a section ("14.1", "14.2", "14.3", "14.4", or an appendix letter) outputs are numbered
1, 2, 3 ... in the file's order -- one sequence for tables and figures together, so a number
names exactly one output; listings carry their fixed ICH E3 appendix-16.2 numbers. The kind
comes from the label (``tbl-`` Table, ``fig-`` Figure) unless ``kind`` says otherwise (Listing).

``python -m apec_sar.outputs sync`` writes each output's caption ("Table 14.2.5 Progression-free
and overall survival (analysis set)") into the ``#| tbl-cap:`` / ``#| fig-cap:`` line of its
notebook cell (and a figure's title into ``#| fig-alt:``, its text alternative in the HTML); Quarto prints it, and the Typst format and the HTML post-render step take the
number from the caption.
"""

from __future__ import annotations

import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import yaml

from .paths import project_root

KINDS = {"tbl": "Table", "fig": "Figure"}


@dataclass(frozen=True)
class Output:
    label: str
    kind: str          # Table, Figure or Listing
    number: str        # e.g. 14.2.5, B.1, 16.2.6
    title: str
    notebook: str      # notebook stem without .ipynb, e.g. 05_survival
    sap: str = ""      # the SAP section that plans it (its anchor, e.g. sec-sap-methods), or "post hoc"
    ard: tuple[str, ...] = ()                  # ARD OUTPUT_IDs of the statistics it shows
    data: tuple[tuple[str, tuple[str, ...]], ...] = ()   # (dataset, variables) it is built from
    shell: str = ""    # the rows and columns the SAP plans
    source: str = ""   # where an output with no analysis dataset comes from (query log, releases, ...)

    @property
    def post_hoc(self) -> bool:
        return self.sap == "post hoc"

    @property
    def caption(self) -> str:
        return f"{self.kind} {self.number} {self.title}" + (" [post hoc]" if self.post_hoc else "")


def registry_file(root: Path | None = None) -> Path:
    return (root or project_root()) / "report" / "outputs.yml"


def load_outputs(root: Path | None = None) -> list[Output]:
    """Every numbered output with its number, in file order; errors name the entry."""
    path = registry_file(root)
    entries = yaml.safe_load(path.read_text(encoding="utf-8")) or []
    seq: dict[str, int] = {}
    out, seen = [], set()
    for i, e in enumerate(entries, start=1):
        label = e.get("label")
        if not label or label in seen:
            raise ValueError(f"{path}: entry {i}: label missing or repeated ({label!r})")
        seen.add(label)
        kind = e.get("kind") or KINDS.get(label.split("-")[0])
        if kind is None:
            raise ValueError(f"{path}: {label}: no kind (label must start with tbl- or fig-, or set kind)")
        if "number" in e:
            number = str(e["number"])
        elif "section" in e:
            sec = str(e["section"])
            seq[sec] = seq.get(sec, 0) + 1
            number = f"{sec}.{seq[sec]}"
        else:
            raise ValueError(f"{path}: {label}: give a section or a number")
        data = tuple((str(ds), tuple(str(v) for v in vs)) for ds, vs in (e.get("data") or {}).items())
        ard = tuple(e["ard"]) if "ard" in e else ((label,) if kind != "Listing" else ())
        out.append(Output(label, kind, number, str(e["title"]), str(e["notebook"]), str(e.get("sap", "")), ard, data,
                          str(e.get("shell", "")), str(e.get("source", ""))))
    numbers = [(o.kind == "Listing", o.number) for o in out]
    if len(set(numbers)) != len(numbers):
        raise ValueError(f"{path}: two outputs share a number")
    return out


CAPTION_LINE = re.compile(r'^(#\|\s*(?:tbl|fig)-cap:\s*).*$')
LABEL_LINE = re.compile(r"^#\|\s*label:\s*(\S+)\s*$")
ALT_LINE = re.compile(r"^#\|\s*fig-alt:")


def _cell_label(lines: list[str]) -> str | None:
    for line in lines:
        m = LABEL_LINE.match(line)
        if m:
            return m.group(1)
        if not line.startswith("#|"):
            return None
    return None


def sync(root: Path | None = None) -> list[str]:
    """Write every registered output's caption into its notebook cell; return the changed
    notebooks. Only the caption line changes (stored outputs are untouched)."""
    import nbformat
    root = root or project_root()
    by_nb: dict[str, dict[str, Output]] = {}
    for o in load_outputs(root):
        by_nb.setdefault(o.notebook, {})[o.label] = o
    changed = []
    for stem, outputs in by_nb.items():
        path = root / "notebooks" / f"{stem}.ipynb"
        nb = nbformat.read(path, as_version=4)
        found, dirty = set(), False
        for cell in nb.cells:
            if cell.cell_type != "code":
                continue
            label = _cell_label(cell.source.splitlines())
            if label not in outputs:
                continue
            found.add(label)
            cap = json.dumps(outputs[label].caption, ensure_ascii=False)
            lines = cell.source.splitlines()
            new = [CAPTION_LINE.sub(lambda m: m.group(1) + cap, line) for line in lines]
            if not any(CAPTION_LINE.match(line) for line in lines):
                new.insert(1, f"#| {label.split('-')[0]}-cap: {cap}")
            if label.startswith("fig-"):      # the image's text alternative in the HTML
                alt = f"#| fig-alt: {json.dumps(outputs[label].title, ensure_ascii=False)}"
                new = [line for line in new if not ALT_LINE.match(line)]
                new.insert(2, alt)
            if new != lines:
                cell.source = "\n".join(new)
                dirty = True
        missing = set(outputs) - found
        if missing:
            raise ValueError(f"{path.name}: no cell labelled {sorted(missing)}")
        if dirty:
            nbformat.write(nb, path)
            changed.append(path.name)
    return changed


def main(argv: list[str] | None = None) -> int:
    import argparse
    ap = argparse.ArgumentParser(prog="python -m apec_sar.outputs", description=__doc__.splitlines()[0])
    ap.add_argument("command", choices=["sync", "list"])
    args = ap.parse_args(argv)
    if args.command == "list":
        for o in load_outputs():
            print(f"{o.label:<26} {o.caption}")
        return 0
    changed = sync()
    print("captions written: " + (", ".join(changed) if changed else "none changed"))
    return 0


if __name__ == "__main__":
    sys.exit(main())


SAP_FILE = Path("report") / "a0-sap.qmd"
SAP_HEADING = re.compile(r"^#{1,3}\s+(.+?)\s*\{#(sec-sap[\w-]*)\}\s*$", re.M)


def sap_sections(root: Path | None = None) -> dict[str, str]:
    """The SAP's sections: anchor (``sec-sap-methods``) -> heading text."""
    text = ((root or project_root()) / SAP_FILE).read_text(encoding="utf-8")
    return {anchor: title for title, anchor in SAP_HEADING.findall(text)}


def traceability(ard, root: Path | None = None):
    """The reviewer's-guide map, one row per numbered output: SAP section -> output number and
    title -> notebook cell (notebook#label) -> ARD rows (OUTPUT_IDs and how many rows each has in
    ``ard``) -> analysis datasets and variables. Errors name an output whose SAP section is not in
    the SAP."""
    import pandas as pd
    sections = sap_sections(root)
    rows = []
    for o in load_outputs(root):
        if not o.post_hoc and o.sap not in sections:
            raise ValueError(f"report/outputs.yml: {o.label}: sap {o.sap!r} is not a section of {SAP_FILE}")
        counts = {a: int((ard.OUTPUT_ID.astype(str) == a).sum()) for a in o.ard}
        rows.append({"number": f"{o.kind}\u00a0{o.number}", "label": o.label, "title": o.title,
                     "sap_section": "post hoc" if o.post_hoc else sections[o.sap], "sap_anchor": o.sap,
                     "cell": f"{o.notebook}#{o.label}",
                     "ard": "; ".join(f"{a} ({n} rows)" for a, n in counts.items()) or ("none (patient-level)" if o.data else "none"),
                     "ard_rows": sum(counts.values()),
                     "datasets": "; ".join(f"{ds}: {', '.join(vs)}" for ds, vs in o.data) or o.source or "-",
                     "shell": o.shell})
    return pd.DataFrame(rows)
