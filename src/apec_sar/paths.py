"""Project layout. Every path is resolved from the project root, never from the caller's cwd.

Jupyter and nbval start kernels in the notebook's folder, papermill in the caller's; resolving
from the root (the folder holding ``_variables.yml`` and ``pyproject.toml``) makes notebooks,
tests and command-line tools read the same files wherever they run.
"""

from __future__ import annotations

import os
from pathlib import Path

_MARKERS = ("_variables.yml", "pyproject.toml")


def project_root(start: Path | None = None) -> Path:
    """Return the project root: ``$APEC_SAR_ROOT`` if set, else the first folder upwards
    (from ``start``, the cwd, then this file) that holds both ``_variables.yml`` and
    ``pyproject.toml``."""
    env = os.environ.get("APEC_SAR_ROOT")
    if env:
        return Path(env).resolve()
    candidates = [Path(start).resolve()] if start else []
    candidates += [Path.cwd().resolve(), Path(__file__).resolve()]
    for c in candidates:
        for folder in (c, *c.parents):
            if all((folder / m).is_file() for m in _MARKERS):
                return folder
    raise FileNotFoundError(
        "cannot find the APEC SAR project root (a folder with _variables.yml and "
        "pyproject.toml) above the current directory; set APEC_SAR_ROOT"
    )


def data_dir() -> Path:
    return project_root() / "data"


def raw_dir() -> Path:
    """The committed raw extract (immutable input)."""
    return data_dir() / "raw"


def datalock_manifest() -> Path:
    return data_dir() / "datalock.json"


def dictionary_file() -> Path:
    return data_dir() / "data_dictionary.yml"


def derived_dir() -> Path:
    """Derived analysis datasets (regenerated, git-ignored)."""
    return data_dir() / "derived"


def clean_dir() -> Path:
    """Clean tables written by notebook 01 (regenerated, git-ignored)."""
    return derived_dir() / "clean"


# generated or machine-local content a scratch copy of the project leaves out
SCRATCH_IGNORE = (".venv", ".git", "_output", "derived", "ard", "truth", "__pycache__", "*.egg-info", "kernel-*")


def scratch_copy(dst: Path, root: Path | None = None) -> Path:
    """Copy the project's sources, notebooks and raw data (not its environment, caches or
    generated output) to ``dst``; run it there with ``APEC_SAR_ROOT=dst``."""
    import shutil
    shutil.copytree(root or project_root(), dst, ignore=shutil.ignore_patterns(*SCRATCH_IGNORE))
    return Path(dst)
