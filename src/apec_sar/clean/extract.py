"""Clean the raw extract: validate, harmonise, check, de-duplicate, pseudonymise.

``clean_extract(folder)`` returns one clean table per raw file (same rows minus rejected ones,
``SRC_ROW`` kept for traceability, typed columns, no direct identifiers, ``USUBJID`` instead of
the site's id), the query log, a harmonisation summary and the record reconciliation.

The run is a chain of rules, one function each (registry: :mod:`apec_sar.clean.registry`;
rules stated in the docstrings of :mod:`.harmonise`, :mod:`.identity`, :mod:`.duplicates`,
:mod:`.plausibility`, :mod:`.consistency` and :mod:`apec_sar.io`). A rule either stops the run
with a :class:`DataError` (file, row, column, rule, value, what to do) or logs a query saying what
was done; nothing leaves the data without a query, and every raw row is either kept or rejected
by a query (checked at the end: records in = rejected + kept, for every file).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..dictionary import identifier_columns, raw_files
from ..io import read_raw
from . import consistency as C
from . import harmonise as H
from . import identity
from . import plausibility as P
from .duplicates import reject_exact_duplicate_rows, signal_duplicate_records
from .errors import QueryLog
from .schema import validate_raw


@dataclass
class CleanResult:
    tables: dict[str, pd.DataFrame]
    queries: pd.DataFrame
    harmonised: pd.DataFrame
    reconciliation: pd.DataFrame
    subject_key: pd.DataFrame


def read_and_validate(folder: Path, log: QueryLog) -> dict[str, pd.DataFrame]:
    """Every raw file through the validated reader and its declared schema (F01-F10, S01-S07)."""
    raw = {}
    for f in raw_files():
        raw[f] = read_raw(folder, f, log)
        validate_raw(f, raw[f])
    return raw


def number_subjects(scr: pd.DataFrame) -> pd.DataFrame:
    """The subject key (SUBJID, USUBJID, SITEID) of the kept screening records ``scr``: APEC-nnnn
    numbered in (site, id) order, at least 4 digits."""
    scr = scr.sort_values(["SITEID", "SUBJID"], kind="stable")
    width = max(4, len(str(len(scr))))
    return pd.DataFrame({"SUBJID": scr.SUBJID.to_numpy(dtype=object),
                         "USUBJID": [f"APEC-{i:0{width}d}" for i in range(1, len(scr) + 1)],
                         "SITEID": scr.SITEID.to_numpy()})


def pseudonymise(tables: dict[str, pd.DataFrame], subject_key: pd.DataFrame | None) -> tuple[dict, pd.DataFrame]:
    """Drop direct identifiers; replace SUBJID by APEC-nnnn numbered in (site, id) order
    (:func:`number_subjects`). ``subject_key`` fixes the numbers when the tables are one
    partition of a bigger extract (the key of the whole extract, :mod:`apec_sar.scale`)."""
    scr = tables["screening_log"]
    if subject_key is not None:
        key = subject_key[subject_key.SUBJID.isin(set(scr.SUBJID))].reset_index(drop=True)
        unknown = sorted(set(scr.SUBJID) - set(key.SUBJID))
        if unknown:     # the key was not built from the kept records: never leave a patient unnamed
            raise ValueError(f"subject key has no pseudonym for {unknown[:5]} ({len(unknown)} patients kept by "
                             "cleaning); build it with number_subjects from the kept screening records")
    else:
        key = number_subjects(scr)
    known = pd.Index(key.SUBJID.to_numpy(dtype=object))
    if not known.is_unique or known.hasnans:    # one pseudonym per site id, never a guess between two
        raise ValueError("subject key has a SUBJID more than once or a missing SUBJID; build it with "
                         "number_subjects from the kept screening records")
    usub = np.append(key.USUBJID.to_numpy(dtype=object), np.nan)       # position -1 (not in the key): NaN
    ids = identifier_columns()
    out = {}
    for f, df in tables.items():
        df = df.drop(columns=[c for c in ids.get(f, []) if c in df.columns])
        df.insert(1, "USUBJID", usub[known.get_indexer(df.SUBJID.to_numpy(dtype=object))])
        out[f] = df.drop(columns=["SUBJID"])
    return out, key


def reconcile_records(n_in: dict[str, int], log: QueryLog, tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Records in = rejected by a query + kept, per file; a difference is a bug (a row lost
    without a query) and stops with an AssertionError naming the file."""
    files = list(n_in)
    recon = pd.DataFrame({"FILE": files, "RECORDS_IN": [n_in[f] for f in files],
                          "REJECTED": [log.rejected.get(f, 0) for f in files],
                          "KEPT": [len(tables[f]) for f in files]})
    lost = recon[recon.RECORDS_IN != recon.REJECTED + recon.KEPT]
    assert lost.empty, f"rows lost without a query: {lost.to_dict('records')}"
    return recon


def _identified(file: str, df: pd.DataFrame, log: QueryLog) -> pd.DataFrame:
    """A raw frame with normalised identifiers (I01) and exact duplicate rows rejected (K01)."""
    return reject_exact_duplicate_rows(file, identity.normalise_identifiers(file, df, log), log)


def _harmonised_screening(raw_scr: pd.DataFrame, log: QueryLog) -> pd.DataFrame:
    """The harmonised screening log with its key checked (K01/K02)."""
    return signal_duplicate_records("screening_log", H.harmonise_screening(raw_scr, log), log)


def _linked(raw_scr: pd.DataFrame, scr: pd.DataFrame, log: QueryLog) -> pd.Series:
    """Rules I03/I04 on the harmonised screening log ``scr`` with the normalised ID-card numbers of
    ``raw_scr``: for every record to reject, the SUBJID of the record kept."""
    card = scr.SRC_ROW.map(raw_scr.set_index("SRC_ROW").ID_CARD_NO.astype(object))
    return identity.link_patient_records(scr.assign(ID_CARD_NO=card.to_numpy()), log)


def subject_key_of_screening_log(raw_scr: pd.DataFrame) -> pd.DataFrame:
    """The subject key of a whole extract from its validated raw screening log alone, by the
    same chain of rules as :func:`clean_tables` (I01, K01, harmonisation, K01/K02, I03/I04):
    the kept records -- every screening record but the later-screened of two linked -- numbered
    by :func:`number_subjects`. Only duplicate patients (I04) reject a patient's screening
    record, so these are the patients :func:`clean_tables` keeps; the partitioned run
    (:mod:`apec_sar.scale`) checks that in every partition. Queries are not kept: the
    partitions log them."""
    log = QueryLog()
    raw_scr = _identified("screening_log", raw_scr, log)
    scr = _harmonised_screening(raw_scr, log)
    dup_of = _linked(raw_scr, scr, log)
    return number_subjects(scr[~scr.SUBJID.isin(dup_of.index)])


@dataclass
class PossibleDuplicateInputs:
    """What rule I08 (possible duplicate patients, :mod:`.identity`) compares, gathered from one
    partition of a bigger extract so that the rule can be applied once across all partitions
    (two such records can have different ID-card numbers, hence land in different partitions)."""
    screening: pd.DataFrame
    demographics: pd.DataFrame
    names: pd.Series
    dup_of: pd.Series


def clean_extract(folder: Path | None = None, subject_key: pd.DataFrame | None = None) -> CleanResult:
    """Clean ``folder`` (default ``data/raw``); see the module docstring for the rules.
    ``subject_key`` (SUBJID, USUBJID, SITEID) fixes the pseudonyms (see :func:`pseudonymise`)."""
    from ..paths import raw_dir
    log = QueryLog()
    raw = read_and_validate(Path(folder or raw_dir()), log)
    T, recon, _ = clean_tables(raw, log)
    T, key = pseudonymise(T, subject_key)
    return CleanResult(T, log.frame(), log.harmonisation(), recon, key)


def clean_tables(raw: dict[str, pd.DataFrame], log: QueryLog, defer_possible_duplicates: bool = False
                 ) -> tuple[dict[str, pd.DataFrame], pd.DataFrame, PossibleDuplicateInputs | None]:
    """Every rule after reading, on the validated raw frames of :func:`read_and_validate` (or
    of one patient partition of a bigger extract, :mod:`apec_sar.scale`): the clean tables
    (still with the sites' SUBJID and the direct identifiers), the record reconciliation, and
    -- with ``defer_possible_duplicates`` -- the inputs of rule I08 instead of applying it."""
    n_in = {f: len(df) for f, df in raw.items()}
    raw = {f: _identified(f, df, log) for f, df in raw.items()}
    identity.check_subjects_in_screening_log(raw)

    # harmonise each file (site conventions, partial dates, ranges, mappings); keys checked per file
    T: dict[str, pd.DataFrame] = {}

    def keyed(f, df):
        T[f] = signal_duplicate_records(f, df, log)
        return T[f]

    T["screening_log"] = _harmonised_screening(raw["screening_log"], log)
    keyed("demographics", H.harmonise_demographics(raw["demographics"], log))
    keyed("baseline_disease", H.harmonise_disease(raw["baseline_disease"], log))
    keyed("exposure", H.harmonise_exposure(raw["exposure"], log))
    trt = H.treatment_dates(T["exposure"])
    keyed("tumour_assessments", H.harmonise_tumour(raw["tumour_assessments"], log))
    keyed("follow_up", H.harmonise_follow_up(raw["follow_up"], log,
                                             H.alive_evidence(T["tumour_assessments"], T["exposure"])))
    death = H.death_dates(T["follow_up"])
    keyed("metastatic_sites", H.harmonise_codes(raw["metastatic_sites"], log))
    keyed("baseline_labs", H.harmonise_labs(raw["baseline_labs"], log))
    keyed("prior_therapy", H.harmonise_prior(raw["prior_therapy"], log, trt))
    keyed("adverse_events", H.harmonise_aes(raw["adverse_events"], log, trt, death))
    keyed("subsequent_therapy", H.harmonise_subsequent(raw["subsequent_therapy"], log, trt))
    T = {f: T[f] for f in raw}

    # the timeline every endpoint hangs on
    P.check_dates_not_before_birth(T, raw)
    C.check_death_not_before_first_dose(T["follow_up"], trt)
    C.check_study_drug_not_before_diagnosis(T["exposure"], T["baseline_disease"])

    # identity: linked records of one patient
    dup_of = _linked(raw["screening_log"], T["screening_log"], log)
    scr = raw["screening_log"].set_index("SRC_ROW")
    names = identity.normalise_identifier(scr.PATIENT_NAME.astype(object).str.casefold())
    names = pd.Series(names.to_numpy(dtype=object), index=scr.SUBJID.astype(object))
    identity.query_conflicting_attributes(dup_of, T, names, log)
    deferred = None
    if defer_possible_duplicates:
        cols = identity.POSSIBLE_DUPLICATE_COLUMNS
        deferred = PossibleDuplicateInputs(T["screening_log"][cols["screening_log"]],
                                           T["demographics"][cols["demographics"]], names, dup_of)
    else:
        identity.query_possible_duplicates(T["screening_log"], T["demographics"], names, dup_of, log)
    identity.query_rows_only_in_rejected_record(dup_of, T, log)
    T = identity.reject_duplicate_patients(dup_of, T, log)
    identity.check_one_row_per_subject(T)
    trt = H.treatment_dates(T["exposure"])
    death = H.death_dates(T["follow_up"])

    # plausibility
    P.query_implausible_age(T["screening_log"], T["demographics"], trt, log)
    T["tumour_assessments"] = P.query_series_outliers(T["tumour_assessments"], log)

    # cross-domain consistency
    ex, ae, ta, fu = T["exposure"], T["adverse_events"], T["tumour_assessments"], T["follow_up"]
    C.check_fatal_ae_has_death(ae, death)
    C.query_fatal_ae_coding(ae, log)
    C.query_ae_death_without_fatal_ae(fu, ae, log)
    C.query_unexplained_death_after_treatment(fu, ae, trt, log)
    C.check_records_after_death(ex, ta, ae, death, log)
    C.check_assessments_after_treatment_start(ta, trt, log)
    C.query_ae_dose_reduction_not_in_exposure(ae, ex, log)
    C.query_dose_reduction_without_ae(ex, ae, log)
    C.query_ae_interruption_not_in_exposure(ae, ex, log)
    C.query_interruption_without_ae(ex, ae, log)
    C.query_dose_change_flag(ex, log)
    C.query_eot_toxicity_without_ae(ex, ae, log)
    C.query_eot_death_without_death(ex, death, log)
    C.query_eot_progression_without_pd(ex, ta, log)
    C.query_withdrawal_while_dosing(ae, ex, log)
    C.query_extra_baseline_scans(ta, log)
    C.query_new_therapy_during_treatment(T["subsequent_therapy"], trt, log)
    C.query_patients_without_exposure(T["screening_log"], ex, log)
    C.query_patients_without_tumour_assessment(ex, ta, log)

    recon = reconcile_records(n_in, log, T)
    return T, recon, deferred


def save_clean(result: CleanResult, folder: Path) -> None:
    """Write the clean tables (parquet) and the cleaning logs (CSV) to ``folder``."""
    from ..io import write_dataset
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for name, df in result.tables.items():
        write_dataset(df, folder / f"{name}.parquet", f"Clean {name} (from data/raw/{name}.csv)")
    result.queries.to_csv(folder / "query_log.csv", index=False, lineterminator="\n")
    result.harmonised.to_csv(folder / "harmonisation.csv", index=False, lineterminator="\n")
    result.reconciliation.to_csv(folder / "cleaning_reconciliation.csv", index=False, lineterminator="\n")
    result.subject_key.to_csv(folder / "subject_key.csv", index=False, lineterminator="\n")


def load_clean(folder: Path) -> CleanResult:
    from ..io import read_dataset
    folder = Path(folder)
    tables = {name: read_dataset(folder / f"{name}.parquet") for name in raw_files()}

    def csv(name):
        return pd.read_csv(folder / name, dtype={"SUBJID": object, "ORIGINAL": object}, keep_default_na=False,
                           na_values=[""])
    q = csv("query_log.csv")
    q = q.astype(object).where(q.notna(), None)
    q["ROW"] = q.ROW.astype(np.int64)
    return CleanResult(tables, q, csv("harmonisation.csv"), csv("cleaning_reconciliation.csv"), csv("subject_key.csv"))
