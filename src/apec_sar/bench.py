"""``make bench``: print wall time and peak memory of the project's heavy steps.

Each measurement runs in its own Python process (so peak RSS is that step's alone) and writes
to a temporary folder. Timings are printed, never asserted.

    python -m apec_sar.bench                  # generator at 10^4, 10^5, 10^6; Dask pipeline at 10^5, 10^6
    python -m apec_sar.bench --sizes 10000 --pipeline-sizes 10000 --speedup-size 0 --no-notebooks  # quick
    python -m apec_sar.bench --child coxengines 1000000 /tmp/x      # Cox: ours vs lifelines, statsmodels, R
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def _measure_generator(n: int, out: Path) -> dict:
    from .synth import generate

    t0 = time.perf_counter()
    s = generate(out, patients=n, mode="scale", truth_dir=None)
    wall = time.perf_counter() - t0
    size = sum(p.stat().st_size for p in out.glob("*.csv"))
    return {"wall_s": wall, "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "rows": sum(s.rows.values()), "bytes": size}


def _measure_pipeline(n: int, folder: Path, workers: int = 2) -> dict:
    """Generate a scale-mode cohort of n patients in ``folder/raw`` unless it is there (not
    timed), then time cleaning + derivation of it on Dask (:mod:`apec_sar.scale`) on a
    LocalCluster of ``workers`` worker processes; peak RSS of the client (with the local
    scheduler) and of each worker."""
    import datetime as dt

    from . import scale
    from .synth import generate

    raw = folder / "raw"
    if not (raw / "screening_log.csv").is_file():
        generate(raw, patients=n, mode="scale", truth_dir=None)
    shutil.rmtree(folder / "out", ignore_errors=True)
    os.sync()                   # the generator's writes reach the disk before the clock starts
    r = scale.run(raw, folder / "out", dt.date(2022, 7, 3), workers=workers, progress=True)
    shutil.rmtree(folder / "out", ignore_errors=True)
    peak = {k: v for k, v in r.peak_mb.items() if k.startswith(("client", "scheduler", "worker "))}
    return {"wall_s": r.seconds["total"], "seconds": r.seconds, "analysed": r.patients_analysed,
            "peak_total_mb": sum(peak.values()), "peak_mb": peak, "partitions": r.partitions, "workers": r.workers,
            "reconciles": r.reconciles, "partition_seconds": r.partition_seconds}


def _measure_notebooks() -> list[tuple[str, float]]:
    """Execute every numbered notebook in a fresh kernel, in order; wall time each."""
    import shutil

    from .paths import project_root
    from .pipeline import execute_notebook, notebooks

    out = []
    with tempfile.TemporaryDirectory(prefix="apec-bench-nb-") as tmp:
        for nb in notebooks(project_root()):
            copy = Path(tmp) / nb.name
            shutil.copy(nb, copy)
            t0 = time.perf_counter()
            execute_notebook(copy, cwd=nb.parent)
            out.append((nb.name, time.perf_counter() - t0))
    return out


def _measure_report() -> dict:
    """``make report``'s pipeline in a scratch copy: a full run (every notebook, then HTML and PDF
    when Quarto is installed); a re-run after editing one notebook's code without changing its
    results (a comment added to notebook 05's first code cell: 05 re-runs; what reads its results
    and the render see no change); a re-run after an edit that changes what notebook 05 shows (a
    cell added at its end that prints a line: 05 re-runs and both formats are rendered again). For
    each, the wall time and the pipeline's own step times (notebooks, render)."""
    import json
    import os
    import re

    from .paths import scratch_copy

    def run(proj, env) -> dict:
        t0 = time.perf_counter()
        res = subprocess.run([sys.executable, "-m", "apec_sar.pipeline"], cwd=proj, env=env, check=True,
                             capture_output=True, text=True)
        wall = time.perf_counter() - t0
        nbs = re.search(r"notebooks: (\d+) executed in ([\d.]+) s", res.stdout)
        rend = re.search(r"quarto render .*: done in ([\d.]+) s", res.stdout)
        skipped = re.findall(r"\[report\] (HTML|PDF): nothing it shows has changed", res.stdout)
        return {"wall_s": wall, "notebooks_n": int(nbs.group(1)) if nbs else 0,
                "notebooks_s": float(nbs.group(2)) if nbs else 0.0,
                "render_s": float(rend.group(1)) if rend else float("nan"),
                "rendered": [w for w in ("HTML", "PDF") if w not in skipped] if rend else []}

    def edit(proj, change) -> None:
        nb = next(proj.glob("notebooks/05_*.ipynb"))
        doc = json.loads(nb.read_text(encoding="utf-8"))
        change(doc)
        nb.write_text(json.dumps(doc, indent=1), encoding="utf-8")

    def comment(doc) -> None:
        cell = next(c for c in doc["cells"] if c["cell_type"] == "code")
        cell["source"] = ["# edited\n"] + list(cell["source"]) if isinstance(cell["source"], list) else "# edited\n" + cell["source"]

    def new_output(doc) -> None:
        doc["cells"].append({"cell_type": "code", "execution_count": None, "id": "bench-edit", "metadata": {},
                             "outputs": [], "source": ["print('an edit that changes an output')"]})

    with tempfile.TemporaryDirectory(prefix="apec-bench-report-") as tmp:
        proj = scratch_copy(Path(tmp) / "project")
        env = {**os.environ, "APEC_SAR_ROOT": str(proj)}
        full = run(proj, env)
        edit(proj, comment)
        same = run(proj, env)
        edit(proj, new_output)
        return {"full": full, "edit": same, "edit_output": run(proj, env)}


def _measure_km_cox(n: int, folder: Path) -> dict:
    """KM (log-log CIs, median; from event counts summed over 16 partitions, as apec_sar.scale
    does) and a 3-covariate Cox model (Efron) on n simulated survival records, in Python and in
    R (survival) on the same file."""
    import numpy as np
    import pandas as pd

    from .stats import km as K
    from .stats.cox import fit_cox

    rng = np.random.default_rng(20220703)
    x = rng.integers(0, 2, (n, 3))
    t = np.ceil(rng.exponential(300 / np.exp(x @ np.array([0.3, -0.2, 0.1])))) + 1
    c = np.ceil(rng.uniform(30, 900, n))
    df = pd.DataFrame({"time": np.minimum(t, c), "status": (t <= c).astype(int),
                       "a": x[:, 0].astype(str), "b": x[:, 1].astype(str), "c": x[:, 2].astype(str)})
    src = folder / "tte.csv"
    df.to_csv(src, index=False)
    # KM as the partitioned run computes it: event counts per distinct time in each of 16
    # partitions, summed, then the estimate, its CIs and the median from the summed counts
    part = np.arange(n) % 16
    t0 = time.perf_counter()
    counts = K.sum_event_counts([K.event_counts(df.time.to_numpy()[part == k], df.status.to_numpy()[part == k])
                                 for k in range(16)])
    km = K.kaplan_meier_from_counts(counts.time, counts.n_event, counts.n_censor, "log-log")
    K.quantile(km, 0.5)
    t_km = time.perf_counter() - t0
    t0 = time.perf_counter()
    fit_cox(df, "time", "status", {"a": ["0", "1"], "b": ["0", "1"], "c": ["0", "1"]}, term_tests=False)
    t_cox = time.perf_counter() - t0
    r_code = (f"suppressPackageStartupMessages(library(survival)); d <- read.csv('{src}', colClasses=c('numeric','integer','character','character','character'));"
              "t0 <- proc.time(); f <- survfit(Surv(time, status) ~ 1, data = d, conf.type = 'log-log'); q <- quantile(f, 0.5);"
              "t1 <- proc.time(); m <- coxph(Surv(time, status) ~ a + b + c, data = d, ties = 'efron'); t2 <- proc.time();"
              "cat((t1 - t0)[['elapsed']], (t2 - t1)[['elapsed']])")
    r_km = r_cox = float("nan")
    if shutil.which("Rscript"):
        res = subprocess.run(["Rscript", "-e", r_code], capture_output=True, text=True)
        if res.returncode == 0:
            r_km, r_cox = map(float, res.stdout.split())
    return {"km_s": t_km, "cox_s": t_cox, "r_km_s": r_km, "r_cox_s": r_cox,
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def _measure_cox_engines(n: int, folder: Path) -> dict:
    """Cox (Efron ties, 3 binary covariates) on the same n records as ``_measure_km_cox``: the
    project's engine (``fit_cox``), lifelines, statsmodels ``PHReg`` and R ``coxph``, with each
    one's largest relative coefficient difference from R."""
    import numpy as np
    import pandas as pd

    from .stats.cox import fit_cox

    rng = np.random.default_rng(20220703)
    x = rng.integers(0, 2, (n, 3))
    t = np.ceil(rng.exponential(300 / np.exp(x @ np.array([0.3, -0.2, 0.1])))) + 1
    c = np.ceil(rng.uniform(30, 900, n))
    df = pd.DataFrame({"time": np.minimum(t, c), "status": (t <= c).astype(int), "a": x[:, 0], "b": x[:, 1], "c": x[:, 2]})
    src = folder / "cox.csv"
    df.to_csv(src, index=False)
    out, coefs = {}, {}
    t0 = time.perf_counter()
    coefs["ours"] = fit_cox(df, "time", "status", ["a", "b", "c"], term_tests=False).coef
    out["ours_s"] = time.perf_counter() - t0
    from lifelines import CoxPHFitter
    t0 = time.perf_counter()
    coefs["lifelines"] = CoxPHFitter().fit(df, "time", "status").params_.to_numpy()
    out["lifelines_s"] = time.perf_counter() - t0
    from statsmodels.duration.hazard_regression import PHReg
    t0 = time.perf_counter()
    coefs["statsmodels"] = np.asarray(PHReg(df.time, df[["a", "b", "c"]], status=df.status, ties="efron").fit().params)
    out["statsmodels_s"] = time.perf_counter() - t0
    out["r_s"] = float("nan")
    if shutil.which("Rscript"):
        code = (f"suppressPackageStartupMessages(library(survival)); d <- read.csv('{src}'); t0 <- proc.time(); "
                "m <- coxph(Surv(time, status) ~ a + b + c, data = d, ties = 'efron'); "
                "cat((proc.time() - t0)[['elapsed']], sprintf('%.15g', coef(m)))")
        res = subprocess.run(["Rscript", "-e", code], capture_output=True, text=True, check=False)
        if res.returncode == 0:
            vals = list(map(float, res.stdout.split()))
            out["r_s"], r_coef = vals[0], np.array(vals[1:])
            for k, v in coefs.items():
                out[f"{k}_max_rel_diff"] = float(np.max(np.abs(v - r_coef) / np.abs(r_coef)))
    return out


def _child(task: str, n: int, folder: str | None = None, *extra) -> dict:
    """Run one measurement in its own process (its progress bars on this stderr)."""
    with tempfile.TemporaryDirectory(prefix="apec-bench-") as tmp:
        cmd = [sys.executable, "-m", "apec_sar.bench", "--child", task, str(n), folder or tmp, *map(str, extra)]
        res = subprocess.run(cmd, stdout=subprocess.PIPE, text=True, env=os.environ.copy())
        if res.returncode != 0:
            raise RuntimeError(f"benchmark {task} n={n} failed (its error is printed above)")
        return json.loads(res.stdout.strip().splitlines()[-1])


def _pipeline_line(n: int, r: dict) -> str:
    from .scale import PARTITION_MAP_STEP
    workers = ", ".join(f"{k} {v:,.0f}" for k, v in r["peak_mb"].items())
    s = r["seconds"]
    return (f"{'cleaning + derivation (Dask)':<34}{n:>12,d}{r['wall_s']:>10.1f}{r['peak_total_mb']:>10,.0f}   "
            f"({r['partitions']} partitions, {r['workers']} workers; peak MB {workers}; clean + derive "
            f"{s['clean + derive']:.1f} s (in the tasks, s summed: "
            + ", ".join(f"{k} {v:.0f}" for k, v in r.get("partition_seconds", {}).items())
            + f"); partition map {s[PARTITION_MAP_STEP]:.1f} s; split (subject key meanwhile) "
            f"{s['split by patient (and subject key)']:.1f} s; "
            f"{r['analysed']:,d} analysed; reconciles: {r['reconciles']})")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m apec_sar.bench")
    ap.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000],
                    help="generator benchmark sizes")
    ap.add_argument("--pipeline-sizes", type=int, nargs="*", default=[100_000, 1_000_000],
                    help="cleaning + derivation (Dask, 2 workers) benchmark sizes; the ratio of the largest two is printed")
    ap.add_argument("--speedup-size", type=int, default=100_000,
                    help="cleaning + derivation with 1 worker and with 2 at this size (0: skip)")
    ap.add_argument("--speedup-repeats", type=int, default=3,
                    help="runs with 2 workers and with 1, alternating, for the speed-up (its medians; default 3)")
    ap.add_argument("--km-cox-size", type=int, default=1_000_000, help="KM + Cox benchmark size (0: skip)")
    ap.add_argument("--cox-engines-size", type=int, default=0,
                    help="Cox engines compared (ours, lifelines, statsmodels, R) at this size (0: skip)")
    ap.add_argument("--no-notebooks", action="store_true", help="skip the per-notebook timings")
    ap.add_argument("--child", nargs="+", metavar="ARG", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        task, n, folder, *extra = args.child
        n, folder = int(n), Path(folder)
        fn = {"generator": lambda n, f: _measure_generator(n, f / "raw"),
              "pipeline": lambda n, f: _measure_pipeline(n, f, *map(int, extra)),
              "kmcox": _measure_km_cox, "coxengines": _measure_cox_engines}[task]
        print(json.dumps(fn(n, folder)))
        return 0
    print(f"APEC SAR benchmark ({os.cpu_count()} cores); each row is a separate process")
    print(f"{'step':<34}{'patients':>12}{'wall s':>10}{'peak MB':>10}{'rows':>14}{'MB written':>12}")
    for n in args.sizes:
        r = _child("generator", n)
        print(f"{'synthetic generator (scale mode)':<34}{n:>12,d}{r['wall_s']:>10.1f}{r['peak_rss_mb']:>10.0f}"
              f"{r['rows']:>14,d}{r['bytes'] / 1e6:>12.0f}", flush=True)
    pipeline, walls = {}, {}       # walls: the 2-worker runs' wall times at each size
    sizes = sorted(set(args.pipeline_sizes) | ({args.speedup_size} if args.speedup_size else set()))
    for n in sizes:
        folder = tempfile.mkdtemp(prefix=f"apec-bench-cohort-{n}-")      # one cohort for every run of this size
        try:
            _child("generator", n, folder)          # in its own process: the pipeline's peaks are its own
            pipeline[n] = _child("pipeline", n, folder, 2)          # every size is one of the two
            print(_pipeline_line(n, pipeline[n]), flush=True)
            walls[n] = [pipeline[n]["wall_s"]]
            if n == args.speedup_size:      # alternating, so a drift of the machine's speed hits both
                one = []
                for i in range(max(1, args.speedup_repeats)):
                    if i:
                        walls[n].append(_child("pipeline", n, folder, 2)["wall_s"])
                    one.append(_child("pipeline", n, folder, 1))
                    if i == 0:
                        print(_pipeline_line(n, one[0]), flush=True)
                t1, t2 = [r["wall_s"] for r in one], walls[n]
                pairs = [a / b for a, b in zip(t1, t2)]
                print(f"{'  speed-up, 2 workers vs 1':<34}{n:>12,d}{statistics.median(t1) / statistics.median(t2):>10.2f}x"
                      f"   (medians of {len(t1)} alternating runs: 1 worker {statistics.median(t1):.1f} s, 2 workers "
                      f"{statistics.median(t2):.1f} s; single pairs {min(pairs):.2f}-{max(pairs):.2f}x)", flush=True)
        finally:
            shutil.rmtree(folder, ignore_errors=True)
    big = sorted(n for n in pipeline if n in args.pipeline_sizes)
    if len(big) >= 2:
        a, b = big[-2], big[-1]
        ta, tb = statistics.median(walls[a]), statistics.median(walls[b])
        runs = "; ".join(f"median of {len(walls[x])} runs at {x:,d}" for x in (a, b) if len(walls[x]) > 1)
        print(f"{'  t(' + f'{b:,d}' + ') / t(' + f'{a:,d}' + ')':<34}{'':>12}{tb / ta:>10.2f}"
              f"   (patients x {b / a:g}; 2 workers" + (f"; {runs}" if runs else "") + ")", flush=True)
    if args.km_cox_size:
        n = args.km_cox_size
        r = _child("kmcox", n)
        for what, py, rr in (("KM from counts + median", r["km_s"], r["r_km_s"]), ("Cox, 3 covariates", r["cox_s"], r["r_cox_s"])):
            print(f"{what + ' (Python)':<34}{n:>12,d}{py:>10.2f}{r['peak_rss_mb']:>10.0f}   R survival: {rr:.2f} s; "
                  f"Python / R = {py / rr:.2f}", flush=True)
        both, r_both = r["km_s"] + r["cox_s"], r["r_km_s"] + r["r_cox_s"]
        print(f"{'KM + Cox (Python)':<34}{n:>12,d}{both:>10.2f}{'':>10}   R survival: {r_both:.2f} s; "
              f"Python / R = {both / r_both:.2f}", flush=True)
    if args.cox_engines_size:
        r = _child("coxengines", args.cox_engines_size)
        print(f"{'Cox engines, Efron, 3 covariates':<34}{args.cox_engines_size:>12,d}   "
              + "; ".join(f"{k}: {r[k + '_s']:.2f} s (vs R {r.get(k + '_max_rel_diff', float('nan')):.1e})"
                          for k in ("ours", "lifelines", "statsmodels")) + f"; R: {r['r_s']:.2f} s", flush=True)
    if not args.no_notebooks:
        rep = _measure_report()
        quarto = "HTML + PDF together" if shutil.which("quarto") else "no Quarto: HTML preview"
        for key, what in (("full", "make report, full"), ("edit", "  after a code edit in nb 05"),
                          ("edit_output", "  after an output edit in nb 05")):
            r = rep[key]
            rendered = (" + ".join(r["rendered"]) + " rendered" if r["rendered"] else "nothing to render") \
                if shutil.which("quarto") else quarto
            n = r["notebooks_n"]
            print(f"{what:<34}{'':>12}{r['wall_s']:>10.1f}   {n} notebook{'' if n == 1 else 's'} executed in "
                  f"{r['notebooks_s']:.1f} s (2 at a time); render {r['render_s']:.1f} s ({rendered})", flush=True)
        total = 0.0
        for name, sec in _measure_notebooks():
            total += sec
            print(f"{'notebook ' + name:<34}{'':>12}{sec:>10.1f}", flush=True)
        print(f"{'all notebooks':<34}{'':>12}{total:>10.1f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
