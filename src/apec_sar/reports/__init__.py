"""Summaries displayed by the notebooks (computed here, shown there)."""
