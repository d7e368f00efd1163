"""Provenance of a SAR build: version, status, cut-off, data-lock hash, git commit and dirty
flag, render date, Python and package versions."""

from __future__ import annotations

import datetime as dt
import platform
import subprocess
from importlib import metadata
from pathlib import Path

import pandas as pd

from .config import load_config
from .datalock import check
from .paths import project_root

PACKAGES = ["apec-sar", "pandas", "numpy", "pyarrow", "scipy", "lifelines", "statsmodels", "matplotlib",
            "seaborn", "great-tables", "pandera", "nbval", "nbclient", "jupyter-client", "ipykernel", "pytest"]


def git_state() -> tuple[str, bool]:
    """(short commit, dirty) of the project checkout; ('not a git checkout', False) otherwise."""
    root = project_root()
    try:
        sha = subprocess.run(["git", "rev-parse", "--short=12", "HEAD"], cwd=root, capture_output=True,
                             text=True, check=True).stdout.strip()
        dirty = bool(subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root,
                                    capture_output=True, text=True, check=True).stdout.strip())
        return sha, dirty
    except (OSError, subprocess.CalledProcessError):
        return "not a git checkout", False


def provenance_table() -> pd.DataFrame:
    cfg = load_config()
    rows = [("Study", cfg.study), ("SAR version", cfg.version), ("Status", cfg.status),
            ("Data cut-off", cfg.data_cutoff.isoformat()), ("Data-lock hash (SHA-256)", check()),
            ("Data", "synthetic extract (the project's generator)" if cfg.synthetic_data else "study extract")]
    return pd.DataFrame(rows, columns=["Item", "Value"])


def environment_table() -> pd.DataFrame:
    rows = [("Python", platform.python_version())]
    for p in PACKAGES:
        try:
            rows.append((p, metadata.version(p)))
        except metadata.PackageNotFoundError:
            rows.append((p, "not installed"))
    return pd.DataFrame(rows, columns=["Software", "Version"])


def build_stamp() -> dict[str, str]:
    """Values that change with every build: commit (with a dirty flag), render date, data-lock hash,
    the Quarto version, and the sign-off note that follows the status (draft or final)."""
    import shutil
    sha, dirty = git_state()
    quarto = shutil.which("quarto")
    version = "not installed"
    if quarto:
        res = subprocess.run([quarto, "--version"], capture_output=True, text=True)
        version = res.stdout.strip() or "unknown"
    from .config import load_config
    final = load_config().status == "final"
    return {"commit": sha + (" (uncommitted changes)" if dirty else ""),
            "rendered": dt.date.today().isoformat(), "datalock": check(), "quarto": version,
            "signoff-note": ("Final version: to be signed and dated by each signatory." if final else
                             "Draft: not for signature. The version is signed once it is released as final.")}


STAMP_FILE = "_stamp.yml"


def write_stamp() -> Path:
    """Write the build stamp as Quarto metadata (``sar-build``) to ``_stamp.yml`` at the project
    root; ``_quarto.yml`` reads it through ``metadata-files`` (run as Quarto's pre-render step)."""
    import yaml
    path = project_root() / STAMP_FILE
    path.write_text("# written by the pre-render step (apec_sar.provenance); not committed\n"
                    + yaml.safe_dump({"sar-build": build_stamp()}, sort_keys=True), encoding="utf-8")
    return path
