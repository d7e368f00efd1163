"""Exact (Clopper-Pearson) confidence interval for a binomial proportion, as R's
``binom.test`` and SAS ``PROC FREQ / BINOMIAL (EXACT)`` compute it."""

from __future__ import annotations

from scipy.stats import beta


def clopper_pearson(x: int, n: int, conf_level: float = 0.95) -> tuple[float, float, float]:
    """Return (proportion, lower, upper). Lower = Beta(a/2; x, n - x + 1) quantile, upper =
    Beta(1 - a/2; x + 1, n - x) quantile; 0 and 1 at the edges."""
    if n <= 0:
        raise ValueError("n must be positive")
    if not 0 <= x <= n:
        raise ValueError("x must be between 0 and n")
    a = 1 - conf_level
    lo = 0.0 if x == 0 else float(beta.ppf(a / 2, x, n - x + 1))
    hi = 1.0 if x == n else float(beta.ppf(1 - a / 2, x + 1, n - x))
    return x / n, lo, hi
