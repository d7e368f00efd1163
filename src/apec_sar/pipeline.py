"""``make report``: run the SAR pipeline step by step, one progress line per step.

Steps: verify the data lock; execute the numbered notebooks in dependency order, two at a time
(each in a fresh kernel, cwd = notebooks/), skipping a notebook whose code, package source,
configuration, data, other inputs and upstream results are unchanged since its last run and whose
own results are on disk as it wrote them (:func:`stamp_of`, :data:`PRODUCTS`; stamps in
data/derived/); render the SAR with Quarto when it is installed, each format only when what it
shows has changed (:func:`render_inputs`), else write an HTML preview and say plainly that the SAR
needs Quarto.

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
EXTRA_INPUTS = {"10": ["releases/history.yml", "releases/*/ard.csv", "data/ard/*.csv"],
                "11": ["report/text/*.md", "releases/history.yml", "releases/*/ard.csv", "data/ard/*.csv"],
                "12": ["report/outputs.yml", "report/*.qmd", "data/ard/*.csv"]}


def upstream(num: str, present) -> list[str]:
    """The notebooks ``num`` reads from: DEPENDS, or, for a notebook not listed there, every
    notebook numbered before it (``present``: the numbers of the project's notebooks)."""
    return DEPENDS[num] if num in DEPENDS else sorted(n for n in present if n < num)


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


# what each notebook writes, besides its ARD (data/ard/<notebook>.csv): a downstream notebook
# reads only these, so it re-runs only when they change (an edit that leaves an upstream
# notebook's results as they were re-runs that notebook alone)
PRODUCTS = {"01": ["data/derived/clean/*"],
            "02": ["data/derived/*.parquet", "data/derived/datasets.md"]
            + [f"data/derived/{n}.csv" for n in ("consort", "harmonisation", "query_log", "reconciliation")],
            "12": ["data/derived/traceability.csv"]}


def products(root: Path, nb: Path) -> list[Path]:
    """The files notebook ``nb`` writes (those that exist), in a fixed order."""
    num = nb.name[:2]
    found = [root / "data" / "ard" / f"{nb.stem}.csv"] if num in ANALYSES else []
    found += [p for pattern in PRODUCTS.get(num, []) for p in sorted(root.glob(pattern))]
    return [p for p in found if p.is_file()]


def products_complete(root: Path, nb: Path) -> bool:
    """Every file notebook ``nb`` writes is there: its ARD (an analysis notebook) and at least one
    file for each of its PRODUCTS patterns."""
    num = nb.name[:2]
    return ((num not in ANALYSES or (root / "data" / "ard" / f"{nb.stem}.csv").is_file())
            and all(any(root.glob(p)) for p in PRODUCTS.get(num, [])))


def _environment() -> str:
    """The Python version and every installed distribution with its version: an upgraded
    package can change a result (and notebook 09 prints the versions)."""
    import platform
    from importlib import metadata
    dists = sorted({f"{d.metadata['Name']}=={d.version}" for d in metadata.distributions() if d.metadata["Name"]})
    return platform.python_version() + ";" + ";".join(dists)


def _base_hash(root: Path) -> str:
    import hashlib
    files = _hash_files([p for p in (root / "src").rglob("*.py")] + [root / "_variables.yml"]
                        + [root / "data" / "data_dictionary.yml", root / "data" / "reference" / "publication.csv"]
                        + list((root / "data" / "mappings").glob("*.csv")))
    return hashlib.sha256((files + "|" + _environment()).encode()).hexdigest()


def stamp_of(root: Path, lock: str, nb: Path, base: str | None = None) -> str:
    """A notebook's stamp: its code, the package source and the installed packages, the
    configuration, the data lock, the files it reads besides those (EXTRA_INPUTS) and the current
    content of what its upstream notebooks (DEPENDS) wrote. Computed once those have run, so that
    an upstream re-run that wrote the same bytes leaves the stamp as it was."""
    import hashlib
    by_num = {n.name[:2]: n for n in notebooks(root)}
    num = nb.name[:2]
    parts = [base or _base_hash(root), lock, _code_hash(nb)]
    for d in upstream(num, by_num):
        up = by_num.get(d)
        parts.append(d + ":" + (_hash_files(products(root, up)) if up is not None else "absent"))
    extra = [p for pattern in EXTRA_INPUTS.get(num, []) for p in sorted(root.glob(pattern))]
    if extra:
        parts.append(_hash_files(extra))
    return hashlib.sha256("|".join(parts).encode()).hexdigest()


def run_notebooks(todo: list[Path], root: Path, workers: int, on_done, debug: bool = False,
                  should_run=None, on_skip=None) -> None:
    """Execute ``todo`` with up to ``workers`` kernels at a time, each notebook once all the
    notebooks it depends on (DEPENDS) have finished; ``on_done(path)`` after each. With
    ``should_run(path)``, asked when a notebook's upstream notebooks are done, a notebook for which
    it returns False is not executed (``on_skip(path)``). The first failure stops the scheduling
    of new notebooks and is raised once the running ones end."""
    from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
    pending = {nb.name[:2]: nb for nb in todo}
    names = set(pending)
    decided: dict[str, bool] = {}
    running: dict = {}
    failure: BaseException | None = None

    def ready(num: str) -> bool:
        busy = {n for n, _ in running.values()}
        return all(d not in pending and d not in busy for d in upstream(num, names))

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
                skipped = True
                while skipped:          # a skipped notebook may make others ready at once
                    skipped = False
                    for num in sorted(pending):
                        if num in decided or not ready(num):
                            continue
                        decided[num] = should_run is None or should_run(pending[num])   # asked once
                        if not decided[num]:
                            nb = pending.pop(num)
                            if on_skip is not None:
                                on_skip(nb)
                            skipped = True
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
    ap.add_argument("--all", action="store_true", help="re-run every notebook and render both formats, changed or not")
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
    old: dict = {}
    if not args.all and stamp_file.is_file():
        try:
            old = json.loads(stamp_file.read_text())
        except ValueError:          # a stamps file cut short: everything re-runs
            old = {}
    new: dict[str, str] = {}
    base: list[str] = []          # the package/configuration hash, computed once

    def wrote(nb: Path) -> str:
        """What the notebook left: its stored outputs (which the SAR embeds) and its files."""
        import hashlib
        return hashlib.sha256(_embedded(nb) + _hash_files(products(root, nb)).encode()).hexdigest()

    def should_run(nb: Path) -> bool:
        """Run unless the notebook's inputs are those of its last run and what it left then (its
        stored outputs, its files) is as it left it (a missing or altered result is rebuilt)."""
        num = nb.name[:2]
        if not base:
            base.append(_base_hash(root))
        new[num] = stamp_of(root, lock, nb, base[0])
        last = old.get(num)
        return not (isinstance(last, dict) and last.get("inputs") == new[num] and products_complete(root, nb)
                    and last.get("wrote") == wrote(nb))

    def skipped(nb: Path) -> None:
        print(f"[report] {nb.relative_to(root)}: unchanged, not re-run", flush=True)

    def done(nb: Path) -> None:
        old[nb.name[:2]] = {"inputs": new[nb.name[:2]], "wrote": wrote(nb)}
        _write_json(stamp_file, old)
    t0 = time.perf_counter()
    executed: list[Path] = []
    run_notebooks(nbs, root, args.jobs, lambda nb: (executed.append(nb), done(nb)), args.debug,
                  should_run=should_run, on_skip=skipped)
    if executed:
        print(f"[report] notebooks: {len(executed)} executed in {time.perf_counter() - t0:.1f} s "
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
        log = _step("quarto render (HTML and PDF at the same time)", lambda: render_sar(root, quarto, env, force=args.all))
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
RENDER_RECORD = Path("_output") / ".render-inputs.json"
_OPTION = re.compile(r"^#\s*\|")


def _embedded(nb_path: Path) -> bytes:
    """What the SAR can show of a notebook: each code cell's id, options (the ``#|`` lines:
    label, caption, alt text), metadata and outputs; its code only when an option asks to show
    it. A comment or a change of code that leaves every output as it was leaves this unchanged."""
    import json
    nb = json.loads(nb_path.read_text(encoding="utf-8"))
    cells = []
    for c in nb.get("cells", []):
        if c.get("cell_type") != "code":
            continue
        src = "".join(c.get("source", "")).splitlines()
        options = []
        for line in src:
            if not _OPTION.match(line):
                break
            options.append(line)
        outputs = [{k: v for k, v in o.items() if k != "execution_count"} for o in c.get("outputs", [])]
        shown = src if any("echo" in o or "code" in o for o in options) else []
        cells.append([c.get("id"), options, c.get("metadata", {}), outputs, shown])
    return json.dumps(cells, sort_keys=True).encode()


def render_inputs(root: Path) -> str:
    """A fingerprint of everything a render of the SAR reads: the Quarto project files (book,
    chapters, format, scripts, configuration, the build stamp) and what the chapters can show of
    each notebook (:func:`_embedded`)."""
    import hashlib
    from .provenance import STAMP_FILE
    h = hashlib.sha256()
    for name in RENDER_TREE + [STAMP_FILE]:
        top = root / name
        files = sorted(p for p in top.rglob("*") if p.is_file()) if top.is_dir() else [top] if top.is_file() else []
        for p in files:
            rel = p.relative_to(root).as_posix()
            if "__pycache__" in rel or rel.endswith(".quarto_ipynb") or "_files/" in rel:
                continue
            h.update(rel.encode() + b"\0")
            h.update(_embedded(p) if p.suffix == ".ipynb" else p.read_bytes())
            h.update(b"\0")
    return h.hexdigest()


def _render_tree(root: Path, dst: Path) -> Path:
    """A copy of what Quarto reads, so that a render never walks the project's environment or
    history (Quarto 1.10 lists every file under the project directory several times per render,
    .venv included) and two renders share no state."""
    from .provenance import STAMP_FILE
    dst.mkdir(parents=True)
    for name in RENDER_TREE + [STAMP_FILE]:
        src = root / name
        if src.is_dir():
            shutil.copytree(src, dst / name, ignore=shutil.ignore_patterns("*_files", "*.quarto_ipynb*", "__pycache__"))
        elif src.is_file():
            shutil.copy2(src, dst / name)
    return dst


def _output_hash(out: Path, what: str, pdf_name: str) -> str:
    """The bytes of a format's output as it is now: the PDF, or every file of the HTML site
    (everything in the output folder but PDFs)."""
    if what == "PDF":
        files = [out / pdf_name] if (out / pdf_name).is_file() else []
    else:
        files = sorted(p for p in out.rglob("*") if p.is_file() and p.suffix != ".pdf") if out.is_dir() else []
    return _hash_files(files) if files else "absent"


def _write_json(path: Path, data) -> None:
    """Write JSON through a temporary file, so that a stop never leaves half a record."""
    import json
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=1, sort_keys=True), encoding="utf-8")
    os.replace(tmp, path)


def render_sar(root: Path, quarto: str, env: dict, parallel: bool = True, force: bool = False) -> str:
    """Render the SAR and return what Quarto printed. The HTML and the PDF are rendered at the same
    time, each from its own copy of the Quarto sources (:func:`_render_tree`; a book render of one
    format clears the other's output, and two renders must not share ``.quarto/``); the results
    then replace those in ``_output/sar``. The build stamp is written once, before both (the
    pre-render step then does nothing), so both formats carry the same stamp. A format whose
    inputs (:func:`render_inputs`) are those of its last render and whose output is in place is
    not rendered again (``force``: render both). A failed render raises with the end of its
    output. ``parallel=False``: one ``quarto render`` of both formats, in turn, in the project."""
    import json
    import tempfile
    if not parallel:
        res = subprocess.run([quarto, "render"], cwd=root, env=env, capture_output=True, text=True)
        if res.returncode != 0:
            raise RenderError("HTML and PDF", res.stdout + res.stderr)
        return res.stdout + res.stderr
    from .provenance import write_stamp
    write_stamp()
    env = {**env, "APEC_SAR_STAMP_READY": "1"}
    out = root / "_output" / "sar"
    record_file = root / RENDER_RECORD
    try:
        record = json.loads(record_file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        record = {}
    pdf_name = f"{_book_output(root)}.pdf"
    inputs = render_inputs(root)

    def current(what: str) -> bool:
        """The format's output is there, as its last render left it, from the same inputs."""
        last = record.get(what)
        return isinstance(last, dict) and last.get("inputs") == inputs and last.get("output") == _output_hash(out, what, pdf_name)
    todo = [what for what in ("HTML", "PDF") if force or not current(what)]
    for what in ("HTML", "PDF"):
        if what not in todo:
            print(f"[report] {what}: nothing it shows has changed since its last render, not re-rendered", flush=True)
    if not todo:
        return ""
    for what in todo:                   # outputs being replaced are not current until recorded again
        record.pop(what, None)
    _write_json(record_file, record)
    to = {"HTML": "html", "PDF": "sar-typst"}
    with tempfile.TemporaryDirectory(prefix="apec-sar-render-") as tmp:
        trees = {what: _render_tree(root, Path(tmp) / what / "project") for what in todo}
        rendered = {what: render_inputs(trees[what]) for what in todo}    # what the render reads, exactly
        logs = {what: Path(tmp) / f"{what}.log" for what in todo}
        procs = {}
        for what in todo:
            with open(logs[what], "w") as log:
                procs[what] = subprocess.Popen([quarto, "render", "--to", to[what]], cwd=trees[what], env=env,
                                               stdout=log, stderr=subprocess.STDOUT)
        codes = {what: proc.wait() for what, proc in procs.items()}
        text = {what: log.read_text(encoding="utf-8", errors="replace") for what, log in logs.items()}
        expected = {"HTML": "index.html", "PDF": pdf_name}
        failed = []
        for what in todo:
            built = trees[what] / "_output" / "sar"
            if codes[what] != 0:
                failed.append(what)
            elif not (built / expected[what]).is_file():
                failed.append(what)
                text[what] += f"\nquarto exited 0 but wrote no _output/sar/{expected[what]}"
        out.mkdir(parents=True, exist_ok=True)
        for what in todo:
            if what in failed:
                continue
            built = trees[what] / "_output" / "sar"
            if what == "PDF":           # the book's PDF; a PDF of another version or name goes
                for p in out.glob("*.pdf"):
                    p.unlink()
                shutil.move(str(built / pdf_name), out / pdf_name)
            else:                       # the HTML site replaces the previous one; the PDF stays
                for p in out.iterdir():
                    if p.suffix != ".pdf":
                        shutil.rmtree(p) if p.is_dir() else p.unlink()
                for p in built.iterdir():
                    if p.suffix != ".pdf":
                        shutil.move(str(p), out / p.name)
            record[what] = {"inputs": rendered[what], "output": _output_hash(out, what, pdf_name)}
        _write_json(record_file, record)
        if failed:
            raise RenderError(failed[0], text[failed[0]])
    return "".join(text[what] for what in todo)


class RenderError(RuntimeError):
    """Quarto failed to render one format; the message ends with what it printed."""

    def __init__(self, what: str, output: str):
        tail = "\n".join(output.rstrip().splitlines()[-40:])
        super().__init__(f"quarto render of the {what} failed:\n{tail}")


if __name__ == "__main__":
    sys.exit(main())
