"""Deterministic generator of the synthetic APEC raw extract (SAR_SPEC section 3).

``python -m apec_sar.synth --help``. The default run writes the committed ``data/raw/``;
``--mode scale --patients N`` writes an uncalibrated cohort of any size for performance work.
"""

from .generate import CALIBRATED_PATIENTS, DEFAULT_SEED, generate

__all__ = ["generate", "DEFAULT_SEED", "CALIBRATED_PATIENTS"]
