"""Exposure to study treatment by drug (EXT01-style; post_ici_definitions 4) into the ARD.

Anlotinib: cycles, treatment period (B), cumulative dose, dose intensity, relative dose
intensity against the starting dose (primary) and the protocol dose of 12 mg, RDI < 85%,
reductions, interruptions, delays, time to first reduction, starting and final dose level.
PD-1 inhibitor: the agent, infusions received and expected, dose intensity, delays.
Definitions: :func:`apec_sar.derive.safety.build_adex`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..ard import ARD
from .summary import describe

DAYS_PER_MONTH = 30.4375
RDI_LOW = 0.85          # RDI < 85%: the chemotherapy practice threshold (JNCCN 2015)
ANL = "Anlotinib"
PD1 = "PD-1 inhibitor"


def _yn(x: pd.Series) -> pd.Series:
    return pd.Series(np.where(x, "Y", "N"), index=x.index)


def exposure_frame(adex: pd.DataFrame) -> pd.DataFrame:
    """ADEX with the derived display variables (months, percentages, Y/N flags)."""
    e = adex.copy()
    e["ANLDURM"] = e.ANLDURD / DAYS_PER_MONTH
    e["PD1DURM"] = e.PD1DURD / DAYS_PER_MONTH
    e["ANLRDIPC"] = 100 * e.ANLRDI
    e["ANLRDIPPC"] = 100 * e.ANLRDIP
    e["ANLRDILO"] = _yn(e.ANLRDI < RDI_LOW).where(e.ANLRDI.notna())
    e["ANLINTFL"] = _yn(e.ANLNINT > 0).where(e.ANLCYC.notna())
    e["ANLDLYFL"] = _yn(e.ANLNDLY > 0).where(e.ANLCYC.notna())
    e["PD1DIPC"] = 100 * e.PD1DI
    e["PD1DLYFL"] = _yn(e.PD1NDLY > 0).where(e.PD1N > 0)
    e["PD1MISS"] = (e.PD1NEXP - e.PD1N).where(e.PD1N > 0)
    return e


def exposure_by_drug(adex: pd.DataFrame, output_id: str, population: str = "Safety set") -> ARD:
    """ARD rows per drug (ANALYSIS 'exposure: anlotinib' / 'exposure: PD-1 inhibitor'); N is
    the number of patients of ``adex`` who received the drug."""
    e = exposure_frame(adex)
    ard = ARD()
    a = e[e.ANLCYC.notna()]
    levels = sorted({int(v) for v in pd.concat([a.ANLDOSE0, a.ANLFDOSE]).dropna()}, reverse=True)
    ard.extend(describe(a, [
        ("ANLCYC", "Cycles started", "continuous"),
        ("ANLDURM", "Treatment period (B), months", "continuous"),
        ("ANLCUMD", "Cumulative dose, mg", "continuous"),
        ("ANLDI", "Dose intensity, mg/day", "continuous"),
        ("ANLRDIPC", "Relative dose intensity vs starting dose, % (primary)", "continuous"),
        ("ANLRDIPPC", "Relative dose intensity vs 12 mg, %", "continuous"),
        ("ANLRDILO", "Relative dose intensity vs starting dose < 85%", ["Y", "N"]),
        ("ANLDOSE0", "Starting daily dose, mg", levels),
        ("ANLFDOSE", "Final daily dose, mg", levels),
        ("ANLREDFL", "At least one dose reduction", ["Y", "N"]),
        ("ANLINTFL", "At least one interruption (course < 14 days)", ["Y", "N"]),
        ("ANLDLYFL", "At least one cycle delayed >= 7 days", ["Y", "N"]),
    ], output_id, "exposure: anlotinib", population))
    red = a[a.ANLTTRED.notna()]
    ard.extend(describe(red, [("ANLTTRED", "Time to first reduction, days (patients with a reduction)", "continuous")],
                        output_id, "exposure: anlotinib, reduced", population))
    p = e[e.PD1N > 0]
    ard.extend(describe(p, [
        ("PD1AGENT", "Agent", sorted(p.PD1AGENT.dropna().unique())),
        ("PD1N", "Infusions received", "continuous"),
        ("PD1NEXP", "Infusions expected over period (B)", "continuous"),
        ("PD1DIPC", "Dose intensity (received / expected), %", "continuous"),
        ("PD1MISS", "Infusions missed", "continuous"),
        ("PD1DURM", "Treatment period (B), months", "continuous"),
        ("PD1DLYFL", "At least one infusion delayed >= 7 days", ["Y", "N"]),
    ], output_id, "exposure: PD-1 inhibitor", population))
    return ard
