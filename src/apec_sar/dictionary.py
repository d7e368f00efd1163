"""The raw-data dictionary (``data/data_dictionary.yml``): files, columns, types, codes."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import yaml

from .paths import dictionary_file


@lru_cache(maxsize=4)
def load_dictionary(path: Path | None = None) -> dict:
    path = Path(path or dictionary_file())
    with open(path, encoding="utf-8") as fh:
        doc = yaml.safe_load(fh)
    if not isinstance(doc, dict) or "files" not in doc:
        raise ValueError(f"{path}: not a data dictionary (no 'files' mapping)")
    return doc


def raw_files(path: Path | None = None) -> list[str]:
    """Raw file stems in dictionary order (``screening_log`` -> ``data/raw/screening_log.csv``)."""
    return list(load_dictionary(path)["files"])


def columns(file: str, path: Path | None = None) -> list[str]:
    return list(load_dictionary(path)["files"][file]["columns"])


def identifier_columns(path: Path | None = None) -> dict[str, list[str]]:
    """Direct-identifier columns per raw file: these must never reach a derived output."""
    out: dict[str, list[str]] = {}
    for f, spec in load_dictionary(path)["files"].items():
        cols = [c for c, s in spec["columns"].items() if s.get("role") == "direct_identifier"]
        if cols:
            out[f] = cols
    return out


def key(file: str, path: Path | None = None) -> list[str]:
    """The declared key of a raw file: the columns that identify one record (rule K02)."""
    return list(load_dictionary(path)["files"][file]["key"])


def extract_date(path: Path | None = None):
    """The day the extract was taken (``extract.date``): the latest plausible date (rule D02)."""
    import datetime as dt
    d = load_dictionary(path).get("extract", {}).get("date")
    if d is None:
        raise ValueError("data/data_dictionary.yml declares no extract date (extract: {date: YYYY-MM-DD})")
    return d if isinstance(d, dt.date) else dt.date.fromisoformat(str(d))


def prescribed_doses(path: Path | None = None) -> dict[str, list[float]]:
    """Prescribed doses (mg) per study drug INN (``exposure.prescribed_dose_mg``, rule P04)."""
    doses = load_dictionary(path)["files"]["exposure"].get("prescribed_dose_mg", {})
    return {k: [float(v) for v in vals] for k, vals in doses.items()}
