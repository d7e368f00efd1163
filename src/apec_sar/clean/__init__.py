"""Cleaning of the raw extract (see :mod:`apec_sar.clean.extract` for the rules)."""

from .errors import DataError, QueryLog
from .extract import CleanResult, clean_extract, load_clean, save_clean

__all__ = ["DataError", "QueryLog", "CleanResult", "clean_extract", "load_clean", "save_clean"]
