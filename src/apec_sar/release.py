"""Cutting and reproducing SAR versions.

``python -m apec_sar.release cut --version 2.0 --cutoff 2023-06-30 --status final --note "..."``
sets the version, status and data cut-off in ``_variables.yml`` (the one source of truth),
re-executes every notebook, records the release in ``releases/history.yml`` (version, status,
cut-off, date, the commit it was built from, the data-lock hash, the note) with a snapshot of its
ARD in ``releases/v<version>/ard.csv`` and the changes since the previous version in
``releases/v<version>/changes.csv``, then renders the SAR when Quarto is installed.

``python -m apec_sar.release rebuild 1.0`` reproduces a recorded version from its record: it
extracts the tree of the commit the version was built from (``git archive``) into a scratch
folder, checks that its raw data carry the recorded data-lock hash, runs that tree's own
pipeline with the current environment (``PYTHONPATH`` and ``APEC_SAR_ROOT`` point at the scratch
tree, so its own ``apec_sar`` is imported, in the notebooks' kernels too) at the version's
settings, and compares the ARD with the recorded snapshot. Today's code and data play no part,
so later changes to either never break the reproduction of an earlier release.
"""

from __future__ import annotations

import argparse
import datetime as dt
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from .ard import load_ard
from .datalock import check
from .paths import project_root
from .provenance import git_state

KEY = ["OUTPUT_ID", "ANALYSIS", "POPULATION", "PARAMETER", "GROUP", "STAT"]


def releases_dir(root: Path | None = None) -> Path:
    return (root or project_root()) / "releases"


def history(root: Path | None = None) -> list[dict]:
    p = releases_dir(root) / "history.yml"
    if not p.is_file():
        return []
    return yaml.safe_load(p.read_text(encoding="utf-8")) or []


def set_variables(root: Path, version: str, status: str, cutoff: str) -> None:
    """Set ``sar.version``, ``sar.status`` and ``sar.data-cutoff`` in _variables.yml (only in the
    ``sar:`` block; comments and the other blocks are kept as written) and the book's output file
    name in _quarto.yml."""
    p = root / "_variables.yml"
    text = p.read_text(encoding="utf-8")
    lines, block = [], None
    for line in text.splitlines():
        s = line.strip()
        if line and not line[0].isspace() and not s.startswith("#"):
            block = s.split(":")[0]
        if block != "sar":
            lines.append(line)
            continue
        if s.startswith("version:"):
            line = line[: line.index("version:")] + f'version: "{version}"'
        elif s.startswith("status:"):
            line = line[: line.index("status:")] + f'status: "{status}"'
        elif s.startswith("data-cutoff:"):
            line = line[: line.index("data-cutoff:")] + f'data-cutoff: "{cutoff}"'
        lines.append(line)
    p.write_text("\n".join(lines) + "\n", encoding="utf-8")
    q = root / "_quarto.yml"       # output files carry the version: APEC-SAR-v2.0.html / .pdf
    text = q.read_text(encoding="utf-8")
    q.write_text("\n".join(f'  output-file: "APEC-SAR-v{version}"' if line.strip().startswith("output-file:") else line
                           for line in text.splitlines()) + "\n", encoding="utf-8")


MATCH = ["ANALYSIS", "POPULATION", "PARAMETER", "GROUP", "STAT"]


def changes(previous: pd.DataFrame, current: pd.DataFrame, tol: float = 1e-9) -> pd.DataFrame:
    """Numbers that moved, and statistics added or removed, between two ARD snapshots.

    A statistic is identified by what it is (ANALYSIS, POPULATION, PARAMETER, GROUP, STAT), not
    by the output that shows it, so renumbered or relabelled outputs do not turn every number
    into "removed" and "added"; a statistic shown in several outputs is compared once. OUTPUT_ID
    is the current version's output (the previous one's for a removed statistic)."""
    def index(d):
        d = d.drop_duplicates(MATCH, keep="first").set_index(MATCH)
        return d.VALUE.astype(float), d.OUTPUT_ID.astype(str)
    a, a_out = index(previous)
    b, b_out = index(current)
    both = a.index.intersection(b.index)
    moved = both[~np.isclose(a[both].to_numpy(), b[both].to_numpy(), atol=tol, rtol=0, equal_nan=True)]
    added = b.index.difference(a.index)
    removed = a.index.difference(b.index)
    rows = [pd.DataFrame({"OUTPUT_ID": b_out[moved].to_numpy(), "CHANGE": "moved", "PREVIOUS": a[moved].to_numpy(),
                          "CURRENT": b[moved].to_numpy()}, index=moved),
            pd.DataFrame({"OUTPUT_ID": b_out[added].to_numpy(), "CHANGE": "added", "PREVIOUS": np.nan,
                          "CURRENT": b[added].to_numpy()}, index=added),
            pd.DataFrame({"OUTPUT_ID": a_out[removed].to_numpy(), "CHANGE": "removed", "PREVIOUS": a[removed].to_numpy(),
                          "CURRENT": np.nan}, index=removed)]
    out = pd.concat(rows).reset_index()[KEY + ["CHANGE", "PREVIOUS", "CURRENT"]]
    return out.sort_values(["CHANGE", "OUTPUT_ID", "PARAMETER", "GROUP", "STAT"], kind="stable").reset_index(drop=True)


KEY_RESULTS = [
    # label, analysis, population, parameter, group, stat, decimals
    ("Analysis set, N", "best overall response", "Analysis set", "BOR", "All", "N", 0),
    ("Objective response rate, %", "best overall response", "Analysis set", "BOR", "All", "ORR", 1),
    ("Disease control rate, %", "best overall response", "Analysis set", "BOR", "All", "DCR", 1),
    ("PFS events, n", "time to event", "Analysis set", "PFS", "All", "EVENTS_N", 0),
    ("Median PFS, months", "time to event", "Analysis set", "PFS", "All", "MEDIAN", 2),
    ("  95% CI lower limit", "time to event", "Analysis set", "PFS", "All", "MEDIAN_LCL", 2),
    ("  95% CI upper limit", "time to event", "Analysis set", "PFS", "All", "MEDIAN_UCL", 2),
    ("OS events (deaths), n", "time to event", "Analysis set", "OS", "All", "EVENTS_N", 0),
    ("Median OS, months", "time to event", "Analysis set", "OS", "All", "MEDIAN", 2),
    ("  95% CI lower limit", "time to event", "Analysis set", "OS", "All", "MEDIAN_LCL", 2),
    ("  95% CI upper limit", "time to event", "Analysis set", "OS", "All", "MEDIAN_UCL", 2),
    ("Safety set, N", "AE overview", "Safety set", "ALL", "All", "N", 0),
    ("Treatment-related AE, n", "AE overview", "Safety set", "Treatment-related AE", "All", "n", 0),
    ("Grade 3-4 treatment-related AE, n", "AE overview", "Safety set", "Grade 3-4 treatment-related AE", "All", "n", 0),
]


def key_results(previous: pd.DataFrame | None, current: pd.DataFrame) -> pd.DataFrame:
    """The key results of two ARD snapshots side by side (matched by what the statistic is, as
    :func:`changes`); a statistic one of them lacks is missing there."""
    def get(ard, key):
        if ard is None:
            return np.nan
        hit = ard[(ard.ANALYSIS == key[0]) & (ard.POPULATION == key[1]) & (ard.PARAMETER == key[2])
                  & (ard.GROUP == key[3]) & (ard.STAT == key[4])].VALUE.astype(float)
        return float(hit.iloc[0]) if len(hit) else np.nan
    rows = []
    for label, *key, d in KEY_RESULTS:
        a, b = get(previous, key), get(current, key)
        rows.append({"RESULT": label, "PREVIOUS": a, "CURRENT": b, "CHANGE": b - a, "DECIMALS": d})
    return pd.DataFrame(rows)


def changes_by_output(ch: pd.DataFrame, previous_version: str) -> pd.DataFrame:
    """Counts of :func:`changes` per output, the output named by its current number ("Table
    14.2.7"); an OUTPUT_ID that is no output of this version (the previous version's numbering)
    is named as such."""
    from .outputs import load_outputs
    names = {o.label: f"{o.kind} {o.number}" for o in load_outputs()}
    order = {o.label: i for i, o in enumerate(load_outputs())}
    c = ch.groupby(["OUTPUT_ID", "CHANGE"]).size().unstack(fill_value=0)
    for k in ("moved", "added", "removed"):
        if k not in c:
            c[k] = 0
    c = c[["moved", "added", "removed"]].reset_index()
    c["OUTPUT"] = [names.get(o, f"version {previous_version} output {o}") for o in c.OUTPUT_ID]
    c["_order"] = [order.get(o, len(order)) for o in c.OUTPUT_ID]
    return c.sort_values(["_order", "OUTPUT_ID"], kind="stable").drop(columns="_order").reset_index(drop=True)


def _run_pipeline(root: Path, render: bool = True, everything: bool = True) -> None:
    cmd = [sys.executable, "-m", "apec_sar.pipeline"] + (["--all"] if everything else []) + ([] if render else ["--no-render"])
    subprocess.run(cmd, cwd=root, check=True, env={**__import__("os").environ, "APEC_SAR_ROOT": str(root)})


def cut(version: str, cutoff: str, status: str, note: str, render: bool = True) -> dict:
    """Set the version, re-run every notebook, record the release (history, ARD snapshot,
    changes, the changes of method listed under ``sar.changes``), re-run the notebooks that show
    the record (history, results text), then render."""
    root = project_root()
    dt.date.fromisoformat(cutoff)
    hist = history(root)
    if any(str(h["version"]) == version for h in hist):
        raise SystemExit(f"release {version} is already recorded in releases/history.yml")
    sha, dirty = git_state()
    set_variables(root, version, status, cutoff)
    _run_pipeline(root, render=False)
    ard = load_ard()
    folder = releases_dir(root) / f"v{version}"
    folder.mkdir(parents=True, exist_ok=True)
    ard.to_csv(folder / "ard.csv", index=False, float_format="%.17g", lineterminator="\n")
    prev = hist[-1] if hist else None
    if prev:
        ch = changes(pd.read_csv(releases_dir(root) / f"v{prev['version']}" / "ard.csv"), ard)
        ch.to_csv(folder / "changes.csv", index=False, float_format="%.17g", lineterminator="\n")
    variables = yaml.safe_load((root / "_variables.yml").read_text(encoding="utf-8")) or {}
    entry = {"version": version, "status": status, "data_cutoff": cutoff, "date": dt.date.today().isoformat(),
             "built_from_commit": sha + (" (uncommitted changes)" if dirty else ""), "datalock": check(),
             "previous": prev["version"] if prev else None, "note": note,
             "changes": list((variables.get("sar") or {}).get("changes") or [])}
    hist.append(entry)
    (releases_dir(root) / "history.yml").write_text(yaml.safe_dump(hist, sort_keys=False, allow_unicode=True),
                                                    encoding="utf-8")
    # the notebooks that show the record just written (history, results text: their stamps
    # include releases/), then the SAR
    _run_pipeline(root, render=render, everything=False)
    return entry


def recorded_commit(rec: dict) -> str:
    """The commit id of a history record (a trailing note such as '(uncommitted changes)' is
    dropped)."""
    return str(rec["built_from_commit"]).split()[0]


def extract_commit(commit: str, dst: Path, root: Path | None = None) -> Path:
    """Write the tree of ``commit`` (every tracked file as committed) to ``dst``; stop with a
    clear message if the commit is not in the repository."""
    import io
    import tarfile

    root = root or project_root()
    ok = subprocess.run(["git", "-C", str(root), "cat-file", "-e", f"{commit}^{{commit}}"], capture_output=True)
    if ok.returncode != 0:
        raise SystemExit(f"commit {commit} is not in the repository at {root}: cannot rebuild from it "
                         "(fetch the history that contains it, or restore the repository it was built in)")
    tar = subprocess.run(["git", "-C", str(root), "archive", "--format=tar", commit], capture_output=True, check=True)
    dst.mkdir(parents=True, exist_ok=True)
    with tarfile.open(fileobj=io.BytesIO(tar.stdout)) as tf:
        tf.extractall(dst, filter="data")
    return dst


def _run_tree(tree: Path, render: bool) -> None:
    """Run the pipeline of the project tree ``tree`` with its own package (not the installed one)."""
    import os
    env = {**os.environ, "APEC_SAR_ROOT": str(tree),
           "PYTHONPATH": os.pathsep.join([str(tree / "src")] + [p for p in [os.environ.get("PYTHONPATH")] if p])}
    cmd = [sys.executable, "-m", "apec_sar.pipeline"] + ([] if render else ["--no-render"])
    res = subprocess.run(cmd, cwd=tree, env=env, capture_output=True, text=True)
    if res.returncode != 0:
        raise SystemExit(f"the pipeline of the recorded commit failed in {tree}:\n{res.stdout[-3000:]}\n{res.stderr[-3000:]}")


def _lock_hash(tree: Path) -> str:
    import os
    env = {**os.environ, "APEC_SAR_ROOT": str(tree), "PYTHONPATH": str(tree / "src")}
    res = subprocess.run([sys.executable, "-c", "from apec_sar.datalock import check; print(check())"], cwd=tree,
                         env=env, capture_output=True, text=True)
    if res.returncode != 0:
        raise SystemExit(f"the data lock of the recorded commit does not verify: {res.stderr.strip()[-1000:]}")
    return res.stdout.strip()


def rebuild(version: str, render: bool = False, keep: Path | None = None) -> pd.DataFrame:
    """Reproduce a recorded version from its record (module docstring) and return the
    differences between its ARD and the recorded snapshot (empty = reproduced). ``keep``: build
    in this folder (kept) instead of a temporary one."""
    root = project_root()
    rec = next((h for h in history(root) if str(h["version"]) == version), None)
    if rec is None:
        raise SystemExit(f"no release {version} in releases/history.yml")
    commit = recorded_commit(rec)
    with tempfile.TemporaryDirectory(prefix=f"apec-sar-v{version}-") as tmp:
        tree = extract_commit(commit, Path(keep or Path(tmp) / "project"), root)
        lock = _lock_hash(tree)
        if lock != rec["datalock"]:
            raise SystemExit(f"release {version}: the raw data of commit {commit} have data-lock hash {lock}, "
                             f"not the recorded {rec['datalock']}")
        set_variables(tree, version, rec["status"], rec["data_cutoff"])
        _run_tree(tree, render)
        ard = load_ard(tree / "data" / "ard")
        out = root / "_output" / f"sar-v{version}"
        if render and (tree / "_output").exists():
            shutil.rmtree(out, ignore_errors=True)
            shutil.copytree(tree / "_output", out)
    snap = pd.read_csv(releases_dir(root) / f"v{version}" / "ard.csv")
    return changes(snap, ard)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m apec_sar.release", description="Cut or rebuild SAR versions.")
    sub = ap.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("cut", help="cut a new version")
    c.add_argument("--version", required=True)
    c.add_argument("--cutoff", required=True, help="data cut-off (YYYY-MM-DD)")
    c.add_argument("--status", choices=("draft", "final"), default="final")
    c.add_argument("--note", default="")
    c.add_argument("--no-render", action="store_true")
    r = sub.add_parser("rebuild", help="reproduce a recorded version from its commit and compare its ARD")
    r.add_argument("version")
    r.add_argument("--render", action="store_true", help="also render the SAR (needs Quarto)")
    r.add_argument("--keep", type=Path, default=None, help="build in this folder and keep it")
    sub.add_parser("list", help="list recorded versions")
    args = ap.parse_args(argv)
    if args.cmd == "cut":
        e = cut(args.version, args.cutoff, args.status, args.note, render=not args.no_render)
        print(f"released SAR {e['version']} ({e['status']}), cut-off {e['data_cutoff']}; record in releases/")
    elif args.cmd == "rebuild":
        d = rebuild(args.version, render=args.render, keep=args.keep)
        print(f"SAR {args.version} rebuilt: {len(d)} ARD differences from the recorded snapshot")
        return 0 if d.empty else 1
    else:
        for h in history():
            print(f"{h['version']:>6}  {h['status']:<6} cut-off {h['data_cutoff']}  {h['date']}  {h['built_from_commit']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
