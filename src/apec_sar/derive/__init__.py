"""ADaM-style derivations: data cut-off, eligibility and CONSORT, ADSL, ADRS/ADTR (response),
ADTTE (time to event), ADAE and ADEX (safety, exposure)."""

from .build import Derived, derive_all, write_all

__all__ = ["Derived", "derive_all", "write_all"]
