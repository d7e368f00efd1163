"""``make bench``: print wall time and peak memory of the project's heavy steps.

Each measurement runs in its own Python process (so peak RSS is that step's alone) and writes
to a temporary folder. Timings are printed, never asserted.

    python -m apec_sar.bench                  # generator at 10^4, 10^5, 10^6 patients
    python -m apec_sar.bench --sizes 10000    # a quick run
"""

from __future__ import annotations

import argparse
import json
import os
import resource
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


def _child(task: str, n: int) -> dict:
    with tempfile.TemporaryDirectory(prefix="apec-bench-") as tmp:
        cmd = [sys.executable, "-m", "apec_sar.bench", "--child", task, str(n), tmp]
        res = subprocess.run(cmd, capture_output=True, text=True, env=os.environ.copy())
        if res.returncode != 0:
            raise RuntimeError(f"benchmark {task} n={n} failed:\n{res.stderr}")
        return json.loads(res.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m apec_sar.bench")
    ap.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    ap.add_argument("--child", nargs=3, metavar=("TASK", "N", "DIR"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        task, n, folder = args.child[0], int(args.child[1]), Path(args.child[2])
        print(json.dumps({"generator": _measure_generator}[task](n, folder / "raw")))
        return 0
    print(f"APEC SAR benchmark ({os.cpu_count()} cores); each row is a separate process")
    print(f"{'step':<34}{'patients':>12}{'wall s':>10}{'peak MB':>10}{'rows':>14}{'MB written':>12}")
    for n in args.sizes:
        r = _child("generator", n)
        print(f"{'synthetic generator (scale mode)':<34}{n:>12,d}{r['wall_s']:>10.1f}{r['peak_rss_mb']:>10.0f}"
              f"{r['rows']:>14,d}{r['bytes'] / 1e6:>12.0f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
