"""Prior therapy in depth (the prior immune checkpoint inhibitor, SITC resistance, ICI-free
interval), PD-L1 and subsequent anticancer therapy into the ARD (post_ici_definitions 1).

Definitions: :mod:`apec_sar.derive.cohort` (``prior_ici_line``, ``sitc_resistance``,
``pdl1_group``, ``therapy_type``).
"""

from __future__ import annotations

import pandas as pd

from ..ard import ARD
from .summary import describe

DAYS_PER_MONTH = 30.4375
RESISTANCE_LEVELS = ["Primary", "Secondary (acquired)", "PD after discontinuation", "Unclassifiable",
                     "No progression on ICI", "No prior ICI"]
RESPONSE_LEVELS = ["CR", "PR", "SD", "PD", "NE"]
PDL1_LEVELS = ["<1", "1-9", ">=10", "Not tested"]
SUBSEQUENT_LEVELS = ["Chemotherapy", "Immunotherapy-containing", "Anti-angiogenic TKI", "Radiotherapy", "Other", "None"]


def prior_ici_frame(adsl: pd.DataFrame) -> pd.DataFrame:
    a = adsl.copy()
    a["ICIEXPM"] = a.ICIEXPD / DAYS_PER_MONTH
    a["ICIFRAM"] = a.ICIFRA / DAYS_PER_MONTH
    a["ICIFRBM"] = a.ICIFRB / DAYS_PER_MONTH
    return a


def prior_ici_summary(adsl: pd.DataFrame, output_id: str, population: str = "Analysis set") -> ARD:
    """The prior ICI (agent, line, best response, stop reason), exposure to it, SITC resistance
    type, ICI-free interval (a) last prior-ICI dose -> first study PD-1 dose and (b) prior-ICI
    progression -> first study dose (months), any line in between (c); for the patients of
    ``adsl`` (the population)."""
    a = prior_ici_frame(adsl)
    agents = sorted(a.PRICIAG.dropna().unique())
    return describe(a, [
        ("PRICIAG", "Prior immune checkpoint inhibitor", agents),
        ("PRICILN", "Line of the prior ICI", sorted(int(v) for v in a.PRICILN.dropna().unique())),
        ("PRICIBR", "Best response on the prior ICI", RESPONSE_LEVELS),
        ("PRICISTP", "Prior ICI line stopped for", ["Progression", "Toxicity", "Completed"]),
        ("RESISTYP", "Resistance to the prior ICI (SITC)",
         RESISTANCE_LEVELS[:4] + [v for v in RESISTANCE_LEVELS[4:] if (a.RESISTYP == v).any()]),
        ("ICIEXPM", "Exposure to the prior ICI, months", "continuous"),
        ("ICIFRAM", "ICI-free interval (a): last prior-ICI dose to first study PD-1 dose, months", "continuous"),
        ("ICIFRBM", "ICI-free interval (b): prior-ICI progression to first study dose, months", "continuous"),
        ("ICIINTFL", "Another systemic line between the prior ICI and the study (c)", ["Y", "N"]),
    ], output_id, "prior immune checkpoint inhibitor", population)


def pdl1_summary(adsl: pd.DataFrame, output_id: str, population: str = "Analysis set") -> ARD:
    """PD-L1 CPS group (<1, 1-9, >=10, not tested) among all patients, and the CPS among those
    tested."""
    ard = describe(adsl, [("PDL1GR", "PD-L1 combined positive score", PDL1_LEVELS)], output_id, "PD-L1", population)
    tested = adsl[adsl.PDL1_CPS.notna()]
    ard.extend(describe(tested, [("PDL1_CPS", "CPS among patients tested", "continuous")], output_id,
                        "PD-L1, tested", population))
    return ard


def subsequent_therapy_summary(adsl: pd.DataFrame, output_id: str, population: str = "Analysis set") -> ARD:
    """Subsequent anticancer therapy (after the study treatment, by the data cut-off): any, and
    the type of the first one."""
    return describe(adsl, [("NACTFL", "Subsequent anticancer therapy", ["Y", "N"]),
                           ("NACTTYP", "Type of the first subsequent therapy", SUBSEQUENT_LEVELS)],
                    output_id, "subsequent therapy", population)
