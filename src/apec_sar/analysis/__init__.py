"""Analyses that turn ADaM datasets into ARD rows (statistics first, formatting second)."""
