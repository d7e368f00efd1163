"""Cleaning + derivation of a very large extract, partitioned by patient.

Patients are independent once duplicates are resolved, so a big extract is split into
partitions by a hash of the ID-card number (the two records of a duplicated patient always
land together), the global pseudonym key is fixed first, and the partitions are cleaned and
derived in parallel worker processes. Counts (CONSORT, reconciliation, query log) add up
across partitions. Used by ``make bench`` for the 10^6-patient cohort; the notebooks use the
in-memory path (:func:`apec_sar.clean.clean_extract`).
"""

from __future__ import annotations

import datetime as dt
import resource
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.feather as feather

from .dictionary import columns, raw_files



@dataclass
class ScaleResult:
    patients_analysed: int
    consort: pd.DataFrame
    reconciliation: pd.DataFrame
    queries: int
    seconds_split: float
    seconds_total: float
    partitions: int


def _read_text(path: Path) -> pa.Table:
    header = path.open(encoding="utf-8").readline().rstrip("\n").split(",")
    return pacsv.read_csv(path, convert_options=pacsv.ConvertOptions(
        column_types={c: pa.string() for c in header}, strings_can_be_null=True, null_values=[""]))


def split(raw: Path, out: Path, partitions: int) -> pd.DataFrame:
    """Write ``partitions`` sub-extracts of ``raw`` (Arrow IPC, one per domain, with each row's
    original row number) and return the global subject key (SUBJID -> USUBJID), numbered in
    site order over the whole extract."""
    scr = _read_text(raw / "screening_log.csv")
    idc = scr["ID_CARD_NO"].to_numpy(zero_copy_only=False)
    part_of_card = pd.util.hash_array(idc.astype(object)) % partitions
    subj = scr["SUBJID"].to_numpy(zero_copy_only=False)
    part = pd.Series(part_of_card.astype(np.int64), index=subj)
    # global pseudonyms: the first-screened record of each ID-card number, in (site, id) order
    df = pd.DataFrame({"SUBJID": subj, "SITE": scr["SITE_ID"].to_numpy(zero_copy_only=False).astype(int),
                       "CARD": idc, "SCREEN": scr["SCREEN_DATE"].to_numpy(zero_copy_only=False)})
    from .clean import dates as D
    df["_d"] = D.parse(df.SCREEN)[0]
    kept = df.sort_values(["_d", "SITE", "SUBJID"], kind="stable").drop_duplicates("CARD")
    kept = kept.sort_values(["SITE", "SUBJID"], kind="stable")
    width = max(4, len(str(len(kept))))
    key = pd.DataFrame({"SUBJID": kept.SUBJID.to_numpy(),
                        "USUBJID": [f"APEC-{i:0{width}d}" for i in range(1, len(kept) + 1)],
                        "SITEID": kept.SITE.to_numpy()})
    for k in range(partitions):
        (out / f"p{k:02d}").mkdir(parents=True, exist_ok=True)
    subj_arr = scr["SUBJID"].combine_chunks()
    part_arr = pa.array(part.to_numpy())
    for f in raw_files():
        t = scr if f == "screening_log" else _read_text(raw / f"{f}.csv")
        idx = pc.index_in(t["SUBJID"], value_set=subj_arr)       # row -> its screening record
        p = pc.take(part_arr, pc.fill_null(idx, 0)).to_numpy()
        t = t.append_column("__SRC_ROW", pa.array(np.arange(1, t.num_rows + 1, dtype=np.int64)))
        for k in range(partitions):
            sub = t.filter(pa.array(p == k))
            feather.write_feather(sub, str(out / f"p{k:02d}" / f"{f}.arrow"), compression="uncompressed")
    return key


def _work(args) -> dict:
    folder, key_path, cutoff = args
    from .clean import clean_extract
    from .derive import derive_all
    key = pd.read_parquet(key_path)
    res = clean_extract(folder, subject_key=key)
    d = derive_all(res, cutoff)
    return {"consort": d.consort, "recon": d.reconciliation, "queries": len(res.queries),
            "analysed": int((d.datasets["adsl"].EFFFL == "Y").sum()),
            "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def run(raw: Path, work: Path, cutoff: dt.date, partitions: int = 8, workers: int = 2) -> ScaleResult:
    t0 = time.perf_counter()
    key = split(Path(raw), Path(work), partitions)
    key_path = Path(work) / "subject_key.parquet"
    key.to_parquet(key_path)
    t1 = time.perf_counter()
    jobs = [(Path(work) / f"p{k:02d}", key_path, cutoff) for k in range(partitions)]
    with ProcessPoolExecutor(max_workers=workers) as ex:
        parts = list(ex.map(_work, jobs))
    cons = parts[0]["consort"].copy()
    cons["N"] = sum(p["consort"].N.to_numpy() for p in parts)
    rec = parts[0]["recon"].copy()
    num = [c for c in rec.columns if c not in ("FILE", "RECONCILES")]
    rec[num] = sum(p["recon"][num].to_numpy() for p in parts)
    rec["RECONCILES"] = np.where(rec.RECORDS_IN == rec[num[1:]].sum(axis=1), "yes", "NO")
    return ScaleResult(sum(p["analysed"] for p in parts), cons, rec, sum(p["queries"] for p in parts),
                       t1 - t0, time.perf_counter() - t0, partitions)


def peak_children_mb() -> float:
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024

