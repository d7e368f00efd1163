"""Read the project's one version / configuration file, ``_variables.yml``."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import yaml

from .paths import project_root

#: The ESMO IO 2022 abstract's data cut-off; the default analysis cut-off.
PUBLICATION_CUTOFF = dt.date(2022, 7, 3)


@dataclass(frozen=True)
class SarConfig:
    study: str
    title: str
    version: str
    status: str
    data_cutoff: dt.date
    synthetic_data: bool


def load_config(path: Path | None = None) -> SarConfig:
    """Load ``_variables.yml`` and validate it; errors name the file and the key."""
    path = path or project_root() / "_variables.yml"
    try:
        with open(path, encoding="utf-8") as fh:
            doc = yaml.safe_load(fh) or {}
    except (yaml.YAMLError, ValueError) as exc:  # PyYAML raises ValueError on dates like 2022-13-01
        raise ValueError(f"{path}: cannot be read as YAML (check sar.data-cutoff and other values): {exc}") from exc
    sar = doc.get("sar")
    if not isinstance(sar, dict):
        raise ValueError(f"{path}: missing mapping 'sar'")
    missing = [k for k in ("study", "title", "version", "status", "data-cutoff") if k not in sar]
    if missing:
        raise ValueError(f"{path}: key(s) sar.{', sar.'.join(missing)} missing")
    try:
        cutoff = dt.date.fromisoformat(str(sar["data-cutoff"]))
    except ValueError as exc:
        raise ValueError(f"{path}: sar.data-cutoff {sar['data-cutoff']!r} is not an ISO date") from exc
    status = str(sar["status"])
    if status not in ("draft", "final"):
        raise ValueError(f"{path}: sar.status must be 'draft' or 'final', not {status!r}")
    return SarConfig(
        study=str(sar["study"]),
        title=str(sar["title"]),
        version=str(sar["version"]),
        status=status,
        data_cutoff=cutoff,
        synthetic_data=bool(sar.get("synthetic-data", True)),
    )
