"""``make report``: run the SAR pipeline step by step, one progress line per step.

Steps: verify the data lock; execute the numbered notebooks in order (each in a fresh kernel,
cwd = notebooks/); render the SAR with Quarto when it is installed, else say so plainly.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from . import datalock
from .paths import project_root

QUARTO_HELP = (
    "Quarto is not installed, so the SAR (HTML + PDF) was not rendered. Install it with\n"
    "  conda env create -f environment.yml   (conda-forge quarto), or\n"
    "  .venv/bin/pip install -r requirements-quarto.txt   (needs internet: it downloads the binary)\n"
    "then run `make report` again."
)


def _step(name: str, fn) -> object:
    t0 = time.perf_counter()
    print(f"[report] {name} ...", flush=True)
    out = fn()
    print(f"[report] {name}: done in {time.perf_counter() - t0:.1f} s", flush=True)
    return out


def notebooks(root: Path) -> list[Path]:
    return sorted((root / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def execute_notebook(path: Path, cwd: Path | None = None) -> None:
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    NotebookClient(nb, kernel_name="python3", timeout=600, record_timing=False,
                   resources={"metadata": {"path": str(cwd or path.parent)}}).execute()
    nbformat.write(nb, path)


def main(argv: list[str] | None = None) -> int:
    import argparse
    ap = argparse.ArgumentParser(prog="python -m apec_sar.pipeline")
    ap.add_argument("--no-render", action="store_true", help="run the notebooks only")
    args = ap.parse_args(argv)
    root = project_root()
    try:
        lock = _step("data lock check", datalock.check)
    except datalock.DataLockError as exc:
        print(f"[report] data lock FAILED: {exc}", file=sys.stderr)
        return 1
    print(f"[report] data-lock hash {lock}")
    nbs = notebooks(root)
    if not nbs:
        print("[report] no analysis notebooks yet (notebooks/NN_*.ipynb)")
    for nb in nbs:
        _step(f"execute {nb.relative_to(root)}", lambda nb=nb: execute_notebook(nb))
    if args.no_render:
        return 0
    quarto = shutil.which("quarto")
    if quarto is None:
        from .preview import build_preview
        index = _step("HTML preview of the notebooks (no Quarto)", build_preview)
        print(f"[report] preview: {index.relative_to(root)}")
        print("[report] " + QUARTO_HELP.replace("\n", "\n[report] "))
        return 0
    from .provenance import build_stamp
    env = {**os.environ, **build_stamp()}
    _step("quarto render (HTML + PDF)", lambda: subprocess.run([quarto, "render"], cwd=root, check=True, env=env))
    return 0


if __name__ == "__main__":
    sys.exit(main())
