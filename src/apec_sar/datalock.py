"""Data lock: a manifest of SHA-256 hashes of the raw files, and the check that refuses raw
data that does not match it (SAR_SPEC 8).

``python -m apec_sar.datalock check`` verifies ``data/raw`` against ``data/datalock.json``;
``python -m apec_sar.datalock lock`` re-locks deliberately (after a new extract arrives).
The lock hash, printed in the SAR, is the SHA-256 of the manifest's sorted file lines.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

from .paths import datalock_manifest, raw_dir


class DataLockError(RuntimeError):
    """Raw data does not match the locked manifest."""


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _raw_files(raw: Path) -> list[Path]:
    return sorted(p for p in raw.iterdir() if p.is_file() and not p.name.startswith("."))


def lock_hash(files: dict[str, str]) -> str:
    lines = "".join(f"{digest}  {name}\n" for name, digest in sorted(files.items()))
    return hashlib.sha256(lines.encode("utf-8")).hexdigest()


def build_manifest(raw: Path | None = None) -> dict:
    raw = Path(raw or raw_dir())
    files = {p.name: sha256_file(p) for p in _raw_files(raw)}
    if not files:
        raise DataLockError(f"{raw}: no raw files to lock")
    return {"algorithm": "sha256", "files": files, "lock_hash": lock_hash(files)}


def write_manifest(raw: Path | None = None, manifest: Path | None = None) -> dict:
    m = build_manifest(raw)
    path = Path(manifest or datalock_manifest())
    path.write_text(json.dumps(m, indent=2, sort_keys=True, ensure_ascii=False) + "\n", encoding="utf-8")
    return m


def check(raw: Path | None = None, manifest: Path | None = None) -> str:
    """Verify every raw file against the manifest; return the lock hash. Raises
    :class:`DataLockError` naming each file that is modified, missing or not locked."""
    raw = Path(raw or raw_dir())
    path = Path(manifest or datalock_manifest())
    if not path.is_file():
        raise DataLockError(f"{path}: data-lock manifest missing; run `make relock` to lock {raw}")
    locked = json.loads(path.read_text(encoding="utf-8"))["files"]
    problems = []
    present = {p.name: p for p in _raw_files(raw)} if raw.is_dir() else {}
    for name, digest in sorted(locked.items()):
        if name not in present:
            problems.append(f"{raw / name}: missing (locked in {path.name})")
        elif sha256_file(present[name]) != digest:
            problems.append(f"{raw / name}: content differs from the locked SHA-256 {digest[:12]}...")
    for name in sorted(set(present) - set(locked)):
        problems.append(f"{raw / name}: not in the data lock")
    if problems:
        raise DataLockError("raw data does not match the data lock:\n  " + "\n  ".join(problems)
                            + "\nIf the new extract is intended, re-lock it with `make relock`.")
    return lock_hash(locked)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m apec_sar.datalock", description=__doc__.splitlines()[0])
    ap.add_argument("action", choices=("check", "lock"))
    ap.add_argument("--raw", type=Path, default=None, help="raw folder (default data/raw)")
    ap.add_argument("--manifest", type=Path, default=None, help="manifest (default data/datalock.json)")
    args = ap.parse_args(argv)
    try:
        if args.action == "lock":
            m = write_manifest(args.raw, args.manifest)
            print(f"locked {len(m['files'])} raw files; lock hash {m['lock_hash']}")
        else:
            h = check(args.raw, args.manifest)
            print(f"data lock OK: raw files match the manifest; lock hash {h}")
    except DataLockError as exc:
        print(f"data lock FAILED: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
