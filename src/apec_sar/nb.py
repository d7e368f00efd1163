"""Notebook conveniences: one setup call and deterministic displays (nbval compares outputs)."""

from __future__ import annotations

import warnings

import pandas as pd


def setup() -> None:
    """Fixed display options so text and HTML outputs are stable across runs and machines."""
    pd.set_option("display.width", 120)
    pd.set_option("display.max_columns", 40)
    pd.set_option("display.max_rows", 120)
    pd.set_option("display.max_colwidth", 80)
    pd.set_option("display.precision", 4)
    warnings.filterwarnings("ignore", category=FutureWarning)
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    try:
        import matplotlib as mpl
        mpl.rcParams["svg.hashsalt"] = "apec-sar"
        mpl.rcParams["figure.dpi"] = 100
    except ImportError:  # pragma: no cover
        pass


def synthetic_banner() -> None:
    from IPython.display import Markdown, display

    from .config import load_config
    cfg = load_config()
    if cfg.synthetic_data:
        display(Markdown(f"**Synthetic data** — SAR {cfg.version} ({cfg.status}), data cut-off "
                         f"{cfg.data_cutoff.isoformat()}. Built from the project's synthetic APEC extract, "
                         "not from patient data."))
