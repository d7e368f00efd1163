"""Command line: ``python -m apec_sar.synth`` (or ``apec-synth``)."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from .generate import CALIBRATED_PATIENTS, DEFAULT_SEED, generate


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m apec_sar.synth",
        description="Write the synthetic APEC raw extract (one CSV per domain) and its ground truth.")
    ap.add_argument("--seed", type=int, default=DEFAULT_SEED, help=f"random seed (default {DEFAULT_SEED})")
    ap.add_argument("--mode", choices=("calibrated", "scale"), default="calibrated",
                    help="calibrated: the committed 50-record extract that reproduces the publication; "
                         "scale: an uncalibrated cohort of --patients patients")
    ap.add_argument("--patients", type=int, default=None,
                    help=f"screened patients (calibrated mode: must be {CALIBRATED_PATIENTS})")
    ap.add_argument("--out", type=Path, default=None, help="output folder (default: data/raw of the project)")
    ap.add_argument("--truth", type=Path, default=None,
                    help="ground-truth folder (default: data/truth in calibrated mode; none in scale mode)")
    ap.add_argument("--no-truth", action="store_true", help="do not write the ground truth")
    ap.add_argument("--progress", action="store_true", help="show a progress bar (useful for big runs)")
    ap.add_argument("--search-from", type=int, default=None, metavar="K",
                    help="calibrated mode: start the calibration search at attempt K (0: repeat the whole "
                         "search; default: the recorded first passing attempt)")
    args = ap.parse_args(argv)

    patients = args.patients if args.patients is not None else CALIBRATED_PATIENTS
    out = args.out
    truth = args.truth
    if out is None or (truth is None and args.mode == "calibrated"):
        from ..paths import data_dir, raw_dir
        out = out or raw_dir()
        if truth is None and args.mode == "calibrated":
            truth = data_dir() / "truth"
    if args.no_truth:
        truth = None
    t0 = time.perf_counter()
    try:
        s = generate(out, seed=args.seed, patients=patients, mode=args.mode, truth_dir=truth, progress=args.progress,
                     search_from=args.search_from)
    except (ValueError, RuntimeError) as exc:
        print(f"apec_sar.synth: error: {exc}", file=sys.stderr)
        return 2
    dt = time.perf_counter() - t0
    print(f"wrote {s.mode} extract, seed {s.seed}, {s.records} screened records, to {out} in {dt:.1f} s"
          + (f" (calibration attempt {s.calibration_attempts})" if s.calibration_attempts else ""))
    for name, rows in s.rows.items():
        print(f"  {name + '.csv':<26} {rows:>12,d} rows")
    if truth is not None:
        print(f"ground truth in {truth}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
