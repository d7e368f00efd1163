"""Demographics and baseline characteristics (DMT01) and prior therapy into the ARD, one call
per population. The variables and their display order are the SAP's table shells."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..ard import ARD
from .summary import describe

DMT01_VARIABLES = [
    ("AGE", "Age, years", "continuous"), ("AGEGR1", "Age group, years", ["<65", ">=65"]),
    ("SEX", "Sex", ["M", "F"]), ("ECOG", "ECOG performance status", [0, 1, 2]),
    ("SMOKING", "Ever smoker", ["Y", "N"]), ("ALCOHOL", "Alcohol use", ["Y", "N"]),
    ("HEIGHT_CM", "Height, cm", "continuous"), ("WEIGHT_KG", "Weight, kg", "continuous"),
    ("BMI", "Body-mass index, kg/m2", "continuous"),
    ("PRIMARY_SITE", "Primary tumour site", ["Cervical", "Upper thoracic", "Middle thoracic", "Lower thoracic"]),
    ("DISEASE_STATUS", "Disease status", ["Recurrent after resection", "Unresectable locally advanced", "Metastatic"]),
    ("METDLN", "Distant lymph-node metastases", ["Y", "N"]), ("METLUNG", "Lung metastases", ["Y", "N"]),
    ("METLIVER", "Liver metastases", ["Y", "N"]), ("METBONE", "Bone metastases", ["Y", "N"]),
    ("MET2", "Organs with metastases", ["<2", ">=2"]),
    ("NLR", "Neutrophil-to-lymphocyte ratio", "continuous"), ("NLRGR1", "NLR group", ["<5", ">=5"]),
]
DMT01_DECIMALS = {"AGE": 0, "HEIGHT_CM": 0, "WEIGHT_KG": 0, "BMI": 1, "NLR": 2}

PRIOR_VARIABLES = [
    ("PRLINES", "Prior systemic lines for advanced disease", [1, 2, 3]),
    ("PRIORICI", "Prior immune checkpoint inhibitor", ["Y", "N"]),
    ("PRIOR_RESECTION", "Prior oesophagectomy", ["Y", "N"]),
    ("PRIOR_RADIOTHERAPY", "Prior radiotherapy", ["Y", "N"]),
]


def baseline_frame(adsl: pd.DataFrame) -> pd.DataFrame:
    """ADSL with the derived grouping MET2 (organs with metastases < 2 / >= 2)."""
    a = adsl.copy()
    a["MET2"] = np.where(a.NMETORG >= 2, ">=2", "<2")
    return a


def demographics(adsl: pd.DataFrame, output_id: str, population: str) -> ARD:
    """DMT01 rows for the patients of ``adsl`` (one population)."""
    return describe(baseline_frame(adsl), DMT01_VARIABLES, output_id, "demographics and baseline", population)


def prior_therapy(adsl: pd.DataFrame, output_id: str, population: str) -> ARD:
    """Prior therapy rows: lines in the advanced setting, prior ICI, resection, radiotherapy."""
    return describe(adsl, PRIOR_VARIABLES, output_id, "prior therapy", population)
