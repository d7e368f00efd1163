"""``make report``: run the SAR pipeline step by step, one progress line per step.

Steps: verify the data lock; execute the numbered notebooks in order (each in a fresh kernel,
cwd = notebooks/), skipping a notebook whose code, upstream notebooks, package source,
configuration and data are unchanged since its last run (stamps in data/derived/); render the SAR
with Quarto when it is installed, else write an HTML preview and say plainly that the SAR needs
Quarto.

A problem in the raw data (a :class:`~apec_sar.clean.errors.DataError`, raised in this process
or inside a notebook's kernel) stops the run with one clean message: file, row, column, rule,
value and what to do, no traceback (``--debug`` re-raises it for developers).
"""

from __future__ import annotations

import os
import re
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


_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def data_error_message(exc: BaseException) -> str | None:
    """The message of the DataError behind ``exc``: a DataError itself, or a notebook cell that
    raised one (nbclient's CellExecutionError carries ``ename``/``evalue``; failing that, the last
    ``DataError: ...`` line of its traceback text). None for any other exception."""
    from .clean.errors import DataError
    if isinstance(exc, DataError):
        return str(exc)
    if isinstance(exc, DataStop):
        return exc.message
    if str(getattr(exc, "ename", "")).split(".")[-1] == "DataError" and getattr(exc, "evalue", ""):
        return str(exc.evalue)
    found = re.findall(r"^\s*(?:[\w.]+\.)?DataError: (.+)$", _ANSI.sub("", str(exc)), flags=re.M)
    return found[-1].strip() if found else None


class DataStop(Exception):
    """A notebook stopped on a DataError (``where``: the notebook)."""

    def __init__(self, message: str, where: str):
        super().__init__(f"DataError: {message}")
        self.message, self.where = message, where


def _print_data_error(message: str, where: str, tag: str = "report", prog: str = "apec_sar.pipeline") -> None:
    problem, _, todo = message.partition(" What to do: ")
    lines = [f"[{tag}] STOPPED by a problem in the raw data ({where}):", f"  {problem}"]
    if todo:
        lines.append(f"  What to do: {todo}")
    lines.append(f"  (python -m {prog} --debug shows the traceback)")
    print("\n".join(lines), file=sys.stderr, flush=True)


def notebooks(root: Path) -> list[Path]:
    return sorted((root / "notebooks").glob("[0-9][0-9]_*.ipynb"))


# what each notebook reads from the others (by number); everything also depends on src/,
# _variables.yml and the locked raw data
ANALYSES = ["01", "02", "03", "04", "05", "06", "07", "08"]   # the notebooks that write ARD rows
DEPENDS = {"01": [], "02": ["01"], "03": ["02"], "04": ["02"], "05": ["02"], "06": ["02"], "07": ["02"],
           "08": ["01"], "09": [], "10": ANALYSES, "11": ANALYSES + ["10"], "12": ANALYSES}
# files other than src/, the configuration and the raw data that a notebook reads
EXTRA_INPUTS = {"10": ["releases/history.yml", "releases/*/ard.csv"],
                "11": ["report/text/*.md", "releases/history.yml", "releases/*/ard.csv"],
                "12": ["report/outputs.yml", "report/*.qmd"]}


def _hash_files(paths) -> str:
    import hashlib
    h = hashlib.sha256()
    for p in sorted(paths):
        h.update(str(p).encode())
        h.update(Path(p).read_bytes())
    return h.hexdigest()


def _code_hash(nb_path: Path) -> str:
    import hashlib
    import json
    nb = json.loads(nb_path.read_text(encoding="utf-8"))
    src = [("".join(c["source"])) for c in nb["cells"] if c["cell_type"] == "code"]
    return hashlib.sha256(json.dumps(src).encode()).hexdigest()


def stamps(root: Path, lock: str) -> dict[str, str]:
    """A stamp per notebook: its code, its upstream notebooks' stamps, the package source, the
    configuration, the data lock (and the release history for the history notebook)."""
    import hashlib
    base = _hash_files([p for p in (root / "src").rglob("*.py")] + [root / "_variables.yml"]
                       + [root / "data" / "data_dictionary.yml", root / "data" / "reference" / "publication.csv"]
                       + list((root / "data" / "mappings").glob("*.csv")))
    out: dict[str, str] = {}
    for nb in notebooks(root):
        num = nb.name[:2]
        parts = [base, lock, _code_hash(nb)] + [out.get(d, "") for d in DEPENDS.get(num, [])]
        extra = [p for pattern in EXTRA_INPUTS.get(num, []) for p in sorted(root.glob(pattern))]
        if extra:
            parts.append(_hash_files(extra))
        out[num] = hashlib.sha256("|".join(parts).encode()).hexdigest()
    return out


def run_notebooks(todo: list[Path], root: Path, workers: int, on_done, debug: bool = False) -> None:
    """Execute ``todo`` with up to ``workers`` kernels at a time, each notebook once all the
    notebooks it depends on (DEPENDS) have finished; ``on_done(path)`` after each. The first
    failure stops the scheduling of new notebooks and is raised once the running ones end."""
    from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
    pending = {nb.name[:2]: nb for nb in todo}
    running: dict = {}
    failure: BaseException | None = None

    def ready(num: str) -> bool:
        busy = {n for n, _ in running.values()}
        return all(d not in pending and d not in busy for d in DEPENDS.get(num, []))

    def start(num: str):
        nb = pending.pop(num)
        print(f"[report] execute {nb.relative_to(root)} ...", flush=True)
        t0 = time.perf_counter()

        def job():
            execute_notebook(nb)
            return nb, time.perf_counter() - t0
        return pool.submit(job)

    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        while pending or running:
            if failure is None:
                for num in sorted(pending):
                    if len(running) < workers and ready(num):
                        nb = pending[num]
                        running[start(num)] = (num, nb)
            if not running:
                break
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for fut in done:
                num, nb = running.pop(fut)
                try:
                    _, secs = fut.result()
                except Exception as exc:  # a failed notebook: let the running ones end, start no more
                    failure = failure or (exc if debug else _located(exc, nb.relative_to(root)))
                    pending.clear()
                    continue
                print(f"[report] execute {nb.relative_to(root)}: done in {secs:.1f} s", flush=True)
                on_done(nb)
    if failure is not None:
        raise failure


def _located(exc: BaseException, where: Path) -> BaseException:
    message = data_error_message(exc)
    if message is None:
        return exc
    stop = DataStop(message, str(where))
    stop.__cause__ = exc          # --debug shows the notebook's own traceback
    return stop


def execute_notebook(path: Path, cwd: Path | None = None) -> None:
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    # the kernel talks to us over local TCP; its log line about unencrypted TCP says nothing a
    # user can act on, so the kernel logs errors only
    NotebookClient(nb, kernel_name="python3", timeout=600, record_timing=False,
                   extra_arguments=["--IPKernelApp.log_level=ERROR"],
                   resources={"metadata": {"path": str(cwd or path.parent)}}).execute()
    nbformat.write(nb, path)


def main(argv: list[str] | None = None) -> int:
    import argparse
    ap = argparse.ArgumentParser(prog="python -m apec_sar.pipeline")
    ap.add_argument("--no-render", action="store_true", help="run the notebooks only")
    ap.add_argument("--all", action="store_true", help="re-run every notebook, changed or not")
    ap.add_argument("--debug", action="store_true", help="show the full traceback of a raw-data error")
    ap.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1),
                    help="notebooks executed at the same time (default: 2, or 1 on a one-core machine)")
    args = ap.parse_args(argv)
    try:
        return _run(args)
    except Exception as exc:
        message = data_error_message(exc)
        if message is None or args.debug:
            raise
        _print_data_error(message, getattr(exc, "where", "pipeline"))
        return 2


def _run(args) -> int:
    root = project_root()
    try:
        lock = _step("data lock check", datalock.check)
    except datalock.DataLockError as exc:
        print(f"[report] data lock FAILED: {exc}", file=sys.stderr)
        return 1
    print(f"[report] data-lock hash {lock}")
    import json
    nbs = notebooks(root)
    stamp_file = root / "data" / "derived" / ".notebook_stamps.json"
    outputs = [root / "data" / "derived" / "clean", root / "data" / "derived" / "adsl.parquet", root / "data" / "ard"]
    fresh = args.all or not stamp_file.is_file() or not all(p.exists() for p in outputs)
    old = {} if fresh else json.loads(stamp_file.read_text())
    new = stamps(root, lock)
    todo = []
    for nb in nbs:
        num = nb.name[:2]
        if old.get(num) == new[num]:
            print(f"[report] {nb.relative_to(root)}: unchanged, not re-run", flush=True)
        else:
            todo.append(nb)

    def done(nb: Path) -> None:
        old[nb.name[:2]] = new[nb.name[:2]]
        stamp_file.parent.mkdir(parents=True, exist_ok=True)
        stamp_file.write_text(json.dumps(old, indent=1, sort_keys=True))
    t0 = time.perf_counter()
    run_notebooks(todo, root, args.jobs, done, args.debug)
    if todo:
        print(f"[report] notebooks: {len(todo)} executed in {time.perf_counter() - t0:.1f} s "
              f"({args.jobs} at a time)", flush=True)
    if args.no_render:
        return 0
    quarto = shutil.which("quarto")
    if quarto is None:
        from .preview import build_preview
        index = _step("HTML preview of the notebooks (no Quarto)", build_preview)
        print(f"[report] preview: {index.relative_to(root)}")
        print("[report] " + QUARTO_HELP.replace("\n", "\n[report] "))
        return 0
    # the pre-render step (scripts/prerender.py) imports apec_sar: give Quarto this Python
    env = {**os.environ, "QUARTO_PYTHON": sys.executable}
    try:
        log = _step("quarto render (HTML and PDF at the same time)", lambda: render_sar(root, quarto, env))
    except RenderError as exc:
        print(f"[report] {exc}", file=sys.stderr)
        return 1
    warnings = [line for line in log.splitlines() if re.search(r"\bwarn(ing)?\b", line, re.I)]
    for line in warnings:
        print(f"[report] quarto: {line.strip()}", flush=True)
    out = (root / "_output" / "sar").relative_to(root)
    print(f"[report] SAR: {out}/index.html and {out}/{_book_output(root)}.pdf", flush=True)
    return 0


def _book_output(root: Path) -> str:
    import yaml
    return yaml.safe_load((root / "_quarto.yml").read_text(encoding="utf-8"))["book"]["output-file"]


# what a render of the book reads: the Quarto project and the notebooks whose outputs it embeds
RENDER_TREE = ["_quarto.yml", "_variables.yml", "index.qmd", "report", "notebooks", "_extensions", "scripts"]


def render_sar(root: Path, quarto: str, env: dict, parallel: bool = True) -> str:
    """Render the SAR and return what Quarto printed. HTML from the project and, at the same time,
    the PDF from a copy of the Quarto sources (a book render of one format clears the other's
    output, and two renders must not share ``.quarto/``), then the PDF moves into ``_output/sar``.
    The build stamp is written once, before both (the pre-render step then does nothing), so both
    formats carry the same stamp. A failed render raises with the end of its output.
    ``parallel=False``: one ``quarto render`` of both formats, in turn."""
    import tempfile
    if not parallel:
        res = subprocess.run([quarto, "render"], cwd=root, env=env, capture_output=True, text=True)
        if res.returncode != 0:
            raise RenderError("HTML and PDF", res.stdout + res.stderr)
        return res.stdout + res.stderr
    from .provenance import STAMP_FILE, write_stamp
    write_stamp()
    env = {**env, "APEC_SAR_STAMP_READY": "1"}
    with tempfile.TemporaryDirectory(prefix="apec-sar-pdf-") as tmp:
        tree = Path(tmp) / "project"
        tree.mkdir()
        for name in RENDER_TREE + [STAMP_FILE]:
            src = root / name
            if src.is_dir():
                shutil.copytree(src, tree / name, ignore=shutil.ignore_patterns("*_files", "*.quarto_ipynb*"))
            elif src.is_file():
                shutil.copy2(src, tree / name)
        logs = {what: Path(tmp) / f"{what}.log" for what in ("HTML", "PDF")}
        with open(logs["HTML"], "w") as h_out, open(logs["PDF"], "w") as p_out:
            procs = {"HTML": subprocess.Popen([quarto, "render", "--to", "html"], cwd=root, env=env,
                                              stdout=h_out, stderr=subprocess.STDOUT),
                     "PDF": subprocess.Popen([quarto, "render", "--to", "sar-typst"], cwd=tree, env=env,
                                             stdout=p_out, stderr=subprocess.STDOUT)}
            codes = {what: proc.wait() for what, proc in procs.items()}
        text = {what: log.read_text(encoding="utf-8", errors="replace") for what, log in logs.items()}
        for what, code in codes.items():
            if code != 0:
                raise RenderError(what, text[what])
        out = root / "_output" / "sar"
        out.mkdir(parents=True, exist_ok=True)
        for p in (tree / "_output" / "sar").glob("*.pdf"):
            shutil.move(str(p), out / p.name)
    return text["HTML"] + text["PDF"]


class RenderError(RuntimeError):
    """Quarto failed to render one format; the message ends with what it printed."""

    def __init__(self, what: str, output: str):
        tail = "\n".join(output.rstrip().splitlines()[-40:])
        super().__init__(f"quarto render of the {what} failed:\n{tail}")


if __name__ == "__main__":
    sys.exit(main())
