"""Cleaning + derivation of a large extract on Dask, partitioned by patient.

``python -m apec_sar.scale --raw DIR --out DIR`` runs, on a Dask ``LocalCluster`` sized to the
machine (one single-threaded worker process per core) or, with ``--scheduler ADDRESS``, on any
Dask cluster, the same cleaning and derivation code as the notebooks (each worker imports it as
it starts: :func:`dask_setup`, ``dask worker --preload apec_sar.scale``):

1. The reader's per-file rules on the client (:func:`apec_sar.io.open_raw`: file present, not
   empty, header encoding, dialect and columns).
2. Every raw CSV read by the workers in blocks of lines (:func:`apec_sar.io.read_block`, the
   in-memory reader on a byte range; the lines of each block are counted first, so every row
   keeps its original row number, ``SRC_ROW``) into one Dask dataframe per file.
3. Each patient's partition from the validated screening log (:func:`_partition_map`): a hash
   of the normalised ID-card number (rule I01; a record without one: of its normalised SUBJID),
   so the records of one patient -- linked across sites by that number (I04) -- land together.
   The subject key of the whole extract (pseudonyms numbered over the whole extract,
   :func:`apec_sar.clean.extract.subject_key_of_screening_log`) is built on a worker while the
   next step runs.
4. Every file's rows moved to their patient's partition: a task per raw block writes its rows
   as Parquet pieces by partition number (``OUT/.partitions/FILE/__PART=k/part.B.parquet``,
   :func:`_write_pieces`, deleted at the end), which the partition reads back in file order.
   Dask's in-memory shuffles (``set_index``/``shuffle``, 'tasks' or 'p2p') were measured first:
   both hold the whole extract in worker memory until the partitions consume it (10^6 patients
   on 2 workers: 11 GB with 'tasks', over 15 GB with 'p2p'); through storage a worker holds one
   block or one partition. Dask's ``to_parquet(partition_on=...)`` writes the same pieces through
   a pandas groupby, 1.6x slower than from Arrow.
5. Per partition, the notebooks' code: ``validate_raw``, ``clean_tables``, ``pseudonymise``
   with the global key, ``derive_all``; the ADaM datasets and the partition's query log written
   as Parquet parts (``OUT/adsl/part.00000.parquet``, ...).
6. Across partitions: rule I08 (possible duplicate patients: same name, birth date and sex
   under different ID-card numbers, so possibly in two partitions) applied once to what it
   compares (names as keyed hashes, so no name leaves a worker); CONSORT, reconciliation and
   harmonisation summed; Kaplan-Meier of every ADTTE parameter from event counts per distinct
   time summed over partitions (:func:`apec_sar.stats.km.sum_event_counts`); the SAP's
   multivariable Cox model of PFS and OS, fitted by one worker task on the collected
   one-row-per-patient ADTTE + ADSL.

A problem in the raw data stops the run with the in-memory pipeline's message (file, row,
column, rule, value, what to do), no traceback; rows named are the file's. When several
partitions hold problems, the first partition to fail is reported (the in-memory run reports
the first rule of its chain; both are clean messages about real problems).

What scales with what: workers' memory with the partition size (``--partitions``; default
about 20,000 patients a partition, the count rounded up to a multiple of the cluster's worker
threads, :func:`default_partitions`), wall time with patients / workers. Four single tasks
see every patient in a few columns (from the screening log, each patient's partition and then
the subject key; rule I08; the Cox model: the last two side by side). The subject key and each
patient's partition number stay on the workers, a copy on each (about 200 bytes a patient;
kept there by ``persist``; with a local scheduler, in the client's process); the client
receives the per-partition summaries, never a clinical table. Raw and output folders must be
visible to the client and every worker (a shared file system).

Why the project's own block reader and not ``dask.dataframe.read_csv``: Dask's CSV blocks do
not know their line offset, so the original row numbers the query log must carry would be
lost, and the reader's rules (encoding, field count, blank lines; module :mod:`apec_sar.io`)
would be a second implementation. The shuffle, scheduling, workers and cluster are Dask's.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import resource
import secrets
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.compute as pc

from . import io
from .dictionary import raw_files

DATASETS = ("adsl", "adrs", "adtr", "adtte", "adae", "adex")
PATIENTS_PER_PARTITION = 20_000
BLOCK_BYTES = 64 << 20          # the largest raw block a task reads
MIN_BLOCK_BYTES = 4 << 20
TASKS_PER_THREAD = 4            # raw blocks per worker thread, at least, when the extract allows
KM_PARAMS = ("PFS", "OS")
# The LocalCluster's workers keep the memory they have page-faulted in, for their next task to
# reuse. Dask's nanny sets MALLOC_TRIM_THRESHOLD_=65536 (so idle workers hand memory back to the
# system), which also switches off glibc's dynamic mmap threshold, so every large pandas/numpy
# array is a fresh mmap and is page-faulted in again: on this workload about a quarter of the
# wall time (one 20,000-patient partition: 6.2 s -> 8.2 s, system time 1.1 s -> 2.6 s). The
# workers start instead with glibc tunables (glibc 2.26 and later; hugetlb from 2.35; a glibc
# without them ignores them):
# - mmap_threshold=32 MiB (glibc's largest): a block under it comes from the heap, and the
#   pages of a freed block are reused by the next one instead of unmapped and faulted in anew;
# - trim_threshold=16 GiB: the heap is never handed back, so a worker stays at its high-water
#   mark between tasks (which the measured peaks already are);
# - top_pad=64 MiB: the heap grows in large steps, so that
# - hugetlb=1: its pages can be transparent huge pages where the kernel offers them on request
#   (THP "madvise" mode): one fault per 2 MiB instead of per 4 KiB.
# On this VM a page fault is dear, and dearer with two workers faulting at once. Against glibc's
# defaults with hugetlb=1 alone, in alternating pairs (10^5 patients, 2 workers: eight pairs;
# 10^6: two; top_pad 512 MiB in seven of them, 64 MiB in three): the workers' minor page faults
# about 40 % fewer (10^5: 337,000 -> 200,000); clean + derive lower in 9 of the 10 pairs (median -11 %; 10^6: 129.3 -> 110.6 s and 109.3 -> 113.6 s),
# the split by patient, which first grows the heap, 0-2 s higher; the totals lower in 6 pairs,
# equal in 2, higher in 2, within this VM's drift (10^6: 176.8 -> 154.2 s, 151.7 -> 159.3 s).
# Peaks the same (10^6: 1,733-1,767 against 1,738-1,866 MB a worker). A cluster's own workers:
# the same setting in their dask config (README, Large cohorts). GLIBC_TUNABLES already set in
# the environment is the user's choice: the workers inherit it as it is (Dask's nanny lets the
# environment override its configuration), with the nanny's MALLOC_TRIM_THRESHOLD_ still removed.
WORKER_ENVIRON = {"MALLOC_TRIM_THRESHOLD_": None}
GLIBC_TUNABLES = ("glibc.malloc.hugetlb=1:glibc.malloc.mmap_threshold=33554432:"
                  "glibc.malloc.trim_threshold=17179869184:glibc.malloc.top_pad=67108864")


def warm_up() -> None:
    """The partition code imported and the raw files' schemas built (about 1 s: scipy.stats,
    pandera), once per worker process as it starts, rather than inside its first partition."""
    import pyarrow.parquet  # noqa: F401

    from .analysis.survival import DAYS_PER_MONTH  # noqa: F401
    from .clean import schema
    from .clean.extract import clean_tables  # noqa: F401
    from .derive import derive_all  # noqa: F401
    from .stats.km import event_counts  # noqa: F401
    for f in raw_files():
        schema.raw_schema(f)


def dask_setup(worker=None) -> None:
    """Dask's preload hook: the LocalCluster's workers preload this module (:data:`PRELOAD`), a
    cluster's with ``dask worker --preload apec_sar.scale``; :func:`warm_up`."""
    warm_up()


PRELOAD = "apec_sar.scale"     # by name: run as ``python -m apec_sar.scale``, __name__ is '__main__'


def worker_environ() -> dict:
    """The LocalCluster workers' environment settings (above)."""
    return {**WORKER_ENVIRON, **({} if "GLIBC_TUNABLES" in os.environ else {"GLIBC_TUNABLES": GLIBC_TUNABLES})}
# The subject key's slices (about 130 bytes a patient) are copied to every worker before the
# partitions run (_Engine.replicate); Dask's Active Memory Manager would drop the copies of a
# slice only one task reads within seconds (its ReduceReplicas policy), so the LocalCluster's
# scheduler runs without it. A cluster's own scheduler may keep it: the run is the same, a
# worker may then wait for a slice from a busy one.
SCHEDULER_CONFIG = {"distributed.scheduler.active-memory-manager.start": False}
PARTITION_MAP_STEP = "partition map (other files' lines counted meanwhile)"    # a key of ScaleResult.seconds
CONNECT_SECONDS = 30       # --scheduler ADDRESS: to reach the scheduler,
WORKERS_SECONDS = 120      # and for its first worker to join


@dataclass
class ScaleResult:
    out: Path
    partitions: int
    workers: int
    patients_screened: int
    patients_analysed: int
    queries: int
    consort: pd.DataFrame
    reconciliation: pd.DataFrame
    cleaning_reconciliation: pd.DataFrame
    harmonisation: pd.DataFrame
    survival: pd.DataFrame
    cox: pd.DataFrame
    seconds: dict[str, float] = field(default_factory=dict)
    peak_mb: dict[str, float] = field(default_factory=dict)
    partition_seconds: dict[str, float] = field(default_factory=dict)   # summed over partitions

    @property
    def reconciles(self) -> bool:
        return bool((self.reconciliation.RECONCILES == "yes").all())


# ---------------------------------------------------------------------------------- workers' tasks

def _peak_rss_mb() -> float:
    """This process's peak resident memory (MB) since :func:`_reset_peak` (Linux: VmHWM, which,
    unlike ``getrusage``'s ru_maxrss, neither carries the parent's peak into a spawned worker
    nor covers earlier runs of a long-lived one); elsewhere ru_maxrss."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _process_id() -> tuple[str, int]:
    import socket
    return socket.gethostname(), os.getpid()


def _reset_peak() -> None:
    """Start this process's peak-memory count afresh (Linux: writing 5 to clear_refs)."""
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
    except OSError:
        pass


def default_partitions(records: int, threads: int, per_partition: int = PATIENTS_PER_PARTITION) -> int:
    """The number of patient partitions: about ``per_partition`` screening records each, rounded up
    to a whole number of rounds of the cluster's worker threads, so that no thread idles through
    a last round the others do not share (5 partitions on 2 workers take 3 rounds of one
    partition each; 6 smaller ones take 3 rounds too, and finish sooner)."""
    threads = max(1, int(threads))
    p = max(1, -(-int(records) // per_partition))
    return -(-p // threads) * threads


def default_block_bytes(total_bytes: int, threads: int) -> int:
    """The raw block a task reads: the extract in at least ``TASKS_PER_THREAD`` blocks per worker
    thread (so the reading and splitting tasks balance over the workers), between 4 and 64 MB
    (a block's rows, as strings, are a few times its bytes in a worker's memory)."""
    want = int(total_bytes) // (TASKS_PER_THREAD * max(1, int(threads)))
    return int(min(BLOCK_BYTES, max(MIN_BLOCK_BYTES, want)))


def _read_block(args) -> pd.DataFrame:
    return io.read_block(*args)


def _partition_numbers(subjid: pd.Series, part_of: pd.Series) -> np.ndarray:
    """The partition of each row, by its normalised SUBJID (rule I01's function); a SUBJID not in
    the screening log goes to partition 0, where rule I02 stops the run naming every such row."""
    from .clean.identity import normalise_identifier
    if not isinstance(subjid.dtype, pd.CategoricalDtype):      # a block's Arrow strings: encoded by Arrow,
        subjid = pc.dictionary_encode(io.arrow_strings(subjid)).to_pandas().set_axis(subjid.index)  # 8x pandas
    norm = normalise_identifier(subjid)
    cats = part_of.reindex(norm.cat.categories).fillna(0).to_numpy(dtype=np.int64)
    codes = norm.cat.codes.to_numpy()
    return np.where(codes < 0, 0, cats[np.maximum(codes, 0)]) if len(cats) else np.zeros(len(norm), np.int64)


def _partition_map(blocks: list[pd.DataFrame], partitions: int) -> tuple[pd.DataFrame, pd.Series]:
    """The validated screening log of the whole extract (as the in-memory run validates it) and
    the partition of every SUBJID: a hash of the normalised ID-card number (rule I01), or of the
    normalised SUBJID for a record without one (never linked, rule I03). This is all the split by
    patient needs; the subject key
    (:func:`apec_sar.clean.extract.subject_key_of_screening_log`) is built from the same log meanwhile."""
    from .clean import identity
    from .clean.errors import QueryLog
    from .clean.schema import validate_raw
    scr = io.categorical_frame(list(blocks), "screening_log")
    validate_raw("screening_log", scr)
    ids = identity.normalise_identifiers("screening_log", scr[["SUBJID", "ID_CARD_NO"]], QueryLog())
    card = ids.ID_CARD_NO.to_numpy(dtype=object)
    subjid = ids.SUBJID.to_numpy(dtype=object)
    has_card = ~pd.isna(card)
    by = np.where(has_card, card, subjid)
    h = pd.util.hash_array(np.asarray(by, dtype=object), categorize=True)
    h = np.where(has_card, h, h ^ np.uint64(0x9E3779B97F4A7C15))
    part = pd.Series((h % np.uint64(partitions)).astype(np.int64), index=subjid)
    part = part[part.index.notna()]
    return scr, part[~part.index.duplicated(keep="first")]


def _key_slices(key: pd.DataFrame, part: pd.Series, partitions: int) -> list[pd.DataFrame]:
    """The subject key split by partition (the pseudonyms each partition's patients get)."""
    k = part.reindex(key.SUBJID).to_numpy()
    groups = dict(tuple(key.groupby(k, sort=True)))
    return [groups.get(i, key.iloc[:0]) for i in range(partitions)]


def _possible_duplicates(work: str, ks: list[int]) -> list[pd.DataFrame]:
    """Rule I08 once across partitions, on what each partition saved of what it compares."""
    import pickle
    from .clean import identity
    from .clean.errors import QueryLog
    got = []
    for k in ks:
        with open(Path(work) / "i08" / f"{k:05d}.pkl", "rb") as fh:
            got.append(pickle.load(fh))
    log = QueryLog()
    identity.query_possible_duplicates(pd.concat([x.screening for x in got], ignore_index=True),
                                       pd.concat([x.demographics for x in got], ignore_index=True),
                                       pd.concat([x.names for x in got]), pd.concat([x.dup_of for x in got]), log)
    return log.parts


def _write_pieces(df: pd.DataFrame, part_of: pd.Series, folder: str, partition_info: dict | None = None
                  ) -> pd.DataFrame:
    """One raw block's rows to their patients' partitions: ``folder/__PART=k/part.B.parquet`` for
    block B (Dask's ``partition_info``), one piece per partition the block has rows of, written
    from Arrow (the rows grouped by a stable sort on the partition number; the reader puts them
    back in file order, :func:`apec_sar.io.categorical_parquet`). Dask's own
    ``to_parquet(partition_on=...)`` does the same through a pandas groupby, 1.6x slower here."""
    import pyarrow as pa
    import pyarrow.parquet as pq
    if partition_info is None:      # every block would write part.0: rows lost
        raise RuntimeError("Dask did not pass partition_info to _write_pieces")
    block = int(partition_info["number"])
    k = _partition_numbers(df.SUBJID, part_of)
    order = np.argsort(k, kind="stable")
    k = k[order]
    table = pa.Table.from_pandas(df, preserve_index=False).take(pa.array(order))
    edges = np.concatenate([[0], np.flatnonzero(np.diff(k)) + 1, [len(k)]]) if len(k) else np.zeros(1, np.int64)
    for a, b in zip(edges[:-1], edges[1:]):
        d = Path(folder) / f"__PART={int(k[a])}"
        d.mkdir(exist_ok=True)      # not parents: a task still running after the run stopped and
        tmp = d / f".part.{block}.parquet.tmp"      # deleted the folder fails instead of rebuilding it
        pq.write_table(table.slice(int(a), int(b - a)), tmp, compression="lz4", write_statistics=False)
        os.replace(tmp, d / f"part.{block}.parquet")      # never a half-written piece under its name
    return pd.DataFrame({"rows": [len(k)]})


def _hash_names(names: pd.Series, key: str) -> pd.Series:
    """Normalised names as keyed 64-bit hashes (equal exactly when the names are, but for a 2^-64
    chance), missing kept missing."""
    v = names.to_numpy(dtype=object)
    miss = pd.isna(v)
    h = pd.util.hash_array(np.where(miss, "", v).astype(object), hash_key=key, categorize=True)
    out = np.array([f"{x:016x}" for x in h], dtype=object)
    out[miss] = None
    return pd.Series(out, index=names.index)


@dataclass
class _Part:
    """What one partition sends back to the client (small: counts, not patients)."""
    k: int
    patients: int
    analysed: int
    queries: int
    consort: pd.DataFrame | None = None
    reconciliation: pd.DataFrame | None = None
    cleaning_reconciliation: pd.DataFrame | None = None
    notes: list = field(default_factory=list)
    km: dict[str, pd.DataFrame] = field(default_factory=dict)
    schemas: dict = field(default_factory=dict)
    seconds: float = 0.0
    peak_mb: float = 0.0
    steps: dict[str, float] = field(default_factory=dict)     # seconds of each step of the task


def _write_part(df: pd.DataFrame, folder: Path, k: int, description: str):
    import pyarrow.parquet as pq
    path = folder / f"part.{k:05d}.parquet"
    io.write_dataset(df, path, description)
    return pq.read_schema(path)


def _read_partition(work: Path, k: int) -> dict[str, pd.DataFrame]:
    """Partition ``k`` of every raw file, from the Parquet pieces Dask wrote by patient."""
    import pyarrow as pa
    from .dictionary import columns
    raw = {}
    for f in raw_files():
        d = work / f / f"__PART={k}"
        if d.is_dir():
            raw[f] = io.categorical_parquet(d, f)
        else:
            raw[f] = io.categorical_table(pa.table({"SRC_ROW": pa.array([], pa.int64()),
                                                    **{c: pa.array([], pa.string()) for c in columns(f)}}), f)
    return raw


def _run_partition(k: int, work: str, key: pd.DataFrame, cutoff: dt.date, out: str, name_key: str) -> _Part:
    """Clean and derive partition ``k`` with the notebooks' code; write its Parquet parts."""
    from .analysis.survival import DAYS_PER_MONTH
    from .clean.errors import QueryLog
    from .clean.extract import CleanResult, PossibleDuplicateInputs, clean_tables, pseudonymise
    from .clean.schema import validate_raw
    from .derive import derive_all
    from .derive.build import DESCRIPTIONS
    from .stats.km import event_counts

    t0 = time.perf_counter()
    out = Path(out)
    raw = _read_partition(Path(work), k)
    steps = {"read": time.perf_counter() - t0}
    if not len(raw["screening_log"]) and not any(len(df) for df in raw.values()):
        return _Part(k, 0, 0, 0, seconds=time.perf_counter() - t0, peak_mb=_peak_rss_mb())
    for f in raw_files():
        validate_raw(f, raw[f])
    log = QueryLog()
    tables, recon, deferred = clean_tables(raw, log, defer_possible_duplicates=True)
    kept, named = set(tables["screening_log"].SUBJID), set(key.SUBJID)
    if kept != named:    # the key of the whole extract was built by the same rules: a difference is a bug
        raise RuntimeError(f"partition {k}: the subject key names {len(named - kept)} records cleaning rejected "
                           f"and misses {len(kept - named)} it kept (e.g. {sorted(kept ^ named)[:3]})")
    tables, key = pseudonymise(tables, key)
    queries = log.frame()
    steps["clean"] = time.perf_counter() - t0 - steps["read"]
    d = derive_all(CleanResult(tables, queries, log.harmonisation(), recon, key), cutoff)
    steps["derive"] = time.perf_counter() - t0 - steps["read"] - steps["clean"]
    schemas = {name: _write_part(df, out / name, k, DESCRIPTIONS[name]) for name, df in d.datasets.items()}
    schemas["query_log"] = _write_part(queries, out / "query_log", k, "Query log (one partition)")
    adtte = d.datasets["adtte"]
    km = {p: event_counts(x.AVAL.to_numpy() / DAYS_PER_MONTH, (x.CNSR == 0).to_numpy())
          for p, x in adtte.groupby("PARAMCD", sort=True)}
    import pickle
    pdup = PossibleDuplicateInputs(deferred.screening, deferred.demographics,
                                   _hash_names(deferred.names, name_key), deferred.dup_of)
    with open(Path(work) / "i08" / f"{k:05d}.pkl", "wb") as fh:       # for rule I08 across partitions
        pickle.dump(pdup, fh, protocol=pickle.HIGHEST_PROTOCOL)
    adsl = d.datasets["adsl"]
    seconds = time.perf_counter() - t0
    steps["write"] = seconds - steps["read"] - steps["clean"] - steps["derive"]
    return _Part(k, len(adsl), int((adsl.EFFFL == "Y").sum()), len(queries), d.consort, d.reconciliation, recon,
                 log.notes, km, schemas, seconds, _peak_rss_mb(), steps)


def _remove(work: Path, tries: int = 20) -> None:
    """Delete the work folder of raw rows. After a failed task Dask cancels the others, but one
    already running finishes its call: it cannot rebuild the folder (its tasks create no parent
    folder), and a file it adds while the folder is being deleted is caught by another pass."""
    for _ in range(tries):
        shutil.rmtree(work, ignore_errors=True)
        if not work.exists():
            return
        time.sleep(0.25)


def _rewrite(path: str, schema) -> None:
    """Cast a Parquet part to the dataset's unified schema (a column that is all missing in one
    partition has no type there), keeping its description metadata."""
    import pyarrow.parquet as pq
    t = pq.read_table(path)
    meta = t.schema.metadata
    t = t.select(schema.names).cast(schema.with_metadata(meta))
    pq.write_table(t, path, compression="zstd", write_statistics=False)


# ------------------------------------------------------------------------------------- the client

class _Engine:
    """Runs Dask collections on a distributed Client (progress bars from completed futures) or a
    local scheduler ('synchronous', 'threads', 'processes': tests and debugging)."""

    def __init__(self, client=None, local: str | None = None, progress: bool = True):
        self.client, self.local, self.progress = client, local, progress

    def compute(self, step: str, objs: list) -> list:
        import dask
        if not objs:
            return []
        if self.client is None:
            if self.progress:
                from dask.diagnostics import ProgressBar
                print(f"[scale] {step}", file=sys.stderr, flush=True)
                with ProgressBar(out=sys.stderr):
                    return list(dask.compute(*objs, scheduler=self.local))
            return list(dask.compute(*objs, scheduler=self.local))
        from distributed import as_completed
        futures = self.client.compute(objs)
        try:
            bar = None
            if self.progress:
                from tqdm import tqdm
                bar = tqdm(total=len(futures), desc=f"[scale] {step}", unit="task", file=sys.stderr,
                           mininterval=0.5, leave=True)
            for fut in as_completed(futures):
                if fut.status == "error":
                    fut.result()                # raises the task's exception (a DataError: its message)
                if bar is not None:
                    bar.update(1)
            if bar is not None:
                bar.close()
            return self.client.gather(futures)
        except BaseException:
            self.client.cancel(futures)
            raise

    def persist(self, step: str, objs: list, wait: bool = True) -> list:
        """Compute ``objs`` and keep the results where they are (on the workers, on a cluster),
        returning Dask objects that refer to them; with ``wait=False`` the computation goes on
        while the client submits more (:meth:`wait` for it), ahead of the tasks submitted later
        (a higher priority: a single task that is left to the end keeps a worker busy alone)."""
        import dask
        if self.client is None:
            return [dask.delayed(v, pure=True) for v in self.compute(step, objs)]
        out = self.client.persist(objs, priority=0 if wait else 10)
        if self.progress:
            print(f"[scale] {step} ...", file=sys.stderr, flush=True)
        if wait:
            self.wait(out)
        return out

    def wait(self, objs: list) -> None:
        """Wait for persisted ``objs``; a task's error is raised here (a DataError: its message)."""
        if self.client is None:
            return
        from distributed import futures_of, wait
        futures = [f for o in objs for f in futures_of(o)]
        wait(futures)
        for f in futures:
            if f.status == "error":
                f.result()

    def replicate(self, objs: list) -> None:
        """A copy of persisted ``objs`` on every worker. A worker's event loop shares the GIL with
        its pandas task, so a worker fetching data from a busy one waits for it (a second of idle
        worker at the start of a step, and between partitions, seen in Dask's task stream). For
        the partition of each patient, which every task of the split reads, and the slices of
        the subject key (:data:`SCHEDULER_CONFIG`)."""
        if self.client is None:
            return
        from distributed import futures_of
        self.client.replicate([f for o in objs for f in futures_of(o)])

    def threads(self) -> int:
        """Worker threads of the cluster (a local scheduler: 1, or the machine's cores for 'threads' and
        'processes'; on a cluster, those joined so far: :func:`_cluster_client` waits for one)."""
        if self.client is None:
            return (os.cpu_count() or 1) if self.local in ("threads", "processes") else 1
        return int(sum(self.client.nthreads().values())) or 1

    def reset_peaks(self) -> None:
        _reset_peak()
        if self.client is not None:
            self.client.run(_reset_peak)
            try:
                self.client.run_on_scheduler(_reset_peak)
            except Exception:                       # noqa: BLE001 - a scheduler may refuse run_on_scheduler
                pass

    def peak_mb(self) -> dict[str, float]:
        me = _peak_rss_mb()
        if self.client is None:
            return {"client": me}
        out = {"client": me}
        try:             # a LocalCluster's scheduler runs in this process: its peak is the client's
            if self.client.run_on_scheduler(_process_id) != _process_id():
                out["scheduler"] = self.client.run_on_scheduler(_peak_rss_mb)
        except Exception:                           # noqa: BLE001 - a scheduler may refuse run_on_scheduler
            pass
        for i, (_, mb) in enumerate(sorted(self.client.run(_peak_rss_mb).items())):
            out[f"worker {i + 1}"] = mb
        return out


class ClusterError(Exception):
    """The Dask cluster named by ``--scheduler`` cannot run the job (a message for the user)."""


def _cluster_client(address: str):
    """A Client of the running scheduler at ``address``, once at least one worker has joined it:
    the partition count and raw block size follow the cluster's worker threads, which a
    scheduler with no workers yet would give as none (and its tasks would wait forever)."""
    from distributed import Client
    connect_s, workers_s = CONNECT_SECONDS, WORKERS_SECONDS
    try:
        client = Client(address, timeout=connect_s)
    except (OSError, TimeoutError, ValueError) as exc:
        detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        what = (f"{address!r} is not a Dask scheduler address ({detail})" if isinstance(exc, ValueError) else
                f"cannot reach the Dask scheduler at {address} within {connect_s:g} s ({detail})")
        raise ClusterError(f"{what}. What to do: start the scheduler (dask scheduler) and its workers, check "
                           "the address (e.g. tcp://10.0.0.5:8786), or run without --scheduler on this "
                           "machine.") from None
    try:
        client.wait_for_workers(1, timeout=workers_s)
    except BaseException as exc:
        client.close()
        if not isinstance(exc, TimeoutError):
            raise
        raise ClusterError(f"no worker has joined the Dask scheduler at {address} within {workers_s:g} s. "
                           "What to do: start workers on the cluster (dask worker "
                           f"{address}), or run without --scheduler on this machine.") from None
    return client


def _connect(workers: int | None, scheduler: str | None):
    """(client, cluster or None, local scheduler name or None)."""
    if scheduler in ("synchronous", "threads", "processes"):
        return None, None, scheduler
    import dask
    from distributed import Client, LocalCluster
    dask.config.set({"distributed.worker.daemon": False, "dataframe.convert-string": False})
    if scheduler:
        return _cluster_client(scheduler), None, None
    n = workers or os.cpu_count() or 1
    # a nanny also writes its variables into this process's environment, where the workers of a
    # later cluster would inherit them: a value Dask's config put there goes before this one starts
    nanny_set = dask.config.get("distributed.nanny.pre-spawn-environ", {})
    environ = worker_environ()
    ours = [k for k, v in environ.items() if v is not None and k not in os.environ]
    for k, v in environ.items():
        if v is None and k in nanny_set and os.environ.get(k) == str(nanny_set[k]):
            del os.environ[k]
    with dask.config.set({**{f"distributed.nanny.pre-spawn-environ.{k}": v for k, v in environ.items()},
                          **SCHEDULER_CONFIG}):
        # the scheduler's HTTP server on a free local port (with None it still tries 8787, and warns
        # when another run or notebook has it); logs silenced: a raw-data error is reported once, by the client
        cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True, dashboard_address="127.0.0.1:0",
                               silence_logs=50, preload=[PRELOAD])
    for k in ours:                 # the nanny also wrote them into this process's environment
        os.environ.pop(k, None)
    return Client(cluster), cluster, None


def run(raw: Path, out: Path, cutoff: dt.date, *, workers: int | None = None, scheduler: str | None = None,
        partitions: int | None = None, block_bytes: int | None = None, progress: bool = True,
        client=None) -> ScaleResult:
    """Clean and derive the extract in ``raw`` partitioned by patient on Dask, writing to ``out``
    (module docstring). ``scheduler``: a Dask scheduler address, or 'synchronous' / 'threads' /
    'processes' for Dask's local schedulers; default a LocalCluster of ``workers`` processes
    (default: one per core). ``client``: an existing distributed Client to use instead."""
    import dask
    cluster, local, mine = None, None, client is None
    if client is None:
        client, cluster, local = _connect(workers, scheduler)
    with dask.config.set({"dataframe.convert-string": False}):
        try:
            eng = _Engine(client, local, progress)
            return _run(Path(raw), Path(out), cutoff, eng, partitions, block_bytes)
        finally:
            if mine and client is not None:
                client.close()
            if cluster is not None:
                cluster.close()
                _remove(Path(out) / ".partitions")   # the workers are gone: nothing can write there now


def _run(raw: Path, out: Path, cutoff: dt.date, eng: _Engine, partitions: int | None,
         block_bytes: int | None) -> ScaleResult:
    import dask
    import dask.dataframe as dd

    from .clean.errors import DataError, QueryLog, harmonisation_summary, interleave_notes
    from .clean.extract import subject_key_of_screening_log

    times: dict[str, float] = {}
    eng.reset_peaks()
    t0 = time.perf_counter()
    files = raw_files()
    file_logs = {f: QueryLog() for f in files}
    # F01-F07 on the client. As read_and_validate, the screening log's problems come first (its
    # schema is validated with the partition map, below); another file's is raised after that
    scr_file = "screening_log"
    others = [f for f in files if f != scr_file]
    heads = {scr_file: io.open_raw(raw, scr_file, file_logs[scr_file])}
    later_error = None
    for f in others:
        try:
            heads[f] = io.open_raw(raw, f, file_logs[f])
        except DataError as exc:
            later_error, others = exc, others[:others.index(f)]       # the first in file order
            break

    # line numbers: each block's first line is the count of lines before it. The screening log
    # first: the partition of each patient is computed from it (on one worker) while the other
    # files' lines are counted
    if block_bytes is None:
        block_bytes = default_block_bytes(sum(h[0].stat().st_size for h in heads.values()), eng.threads())
    spans = {f: io.blocks(h[0], block_bytes) for f, h in heads.items()}
    frames, counts_of, blanks = {}, {}, {}

    def count(step: str, names: list[str]) -> None:
        todo = [dask.delayed(io.line_counts, pure=True)(str(heads[f][0]), s, e) for f in names for s, e in spans[f]]
        got = iter(eng.compute(step, todo))
        for f in names:
            counts_of[f] = [next(got) for _ in spans[f]]

    def frame(f: str) -> None:                    # the file-level checks, then its blocks as a Dask dataframe
        path, header, bom = heads[f]
        c = counts_of[f]
        lines = np.array([n for n, _ in c], dtype=np.int64)
        blank = blanks[f] = int(sum(b for _, b in c))
        if int(lines.sum()) - 1 - blank <= 0:
            raise io.no_rows_error(f)
        io.file_notes(f, header, bom, blank if blank else None, file_logs[f])
        first = np.concatenate([[0], np.cumsum(lines)[:-1]])
        args = [(str(path), f, header, s, e, int(n)) for (s, e), n in zip(spans[f], first)]
        meta = io.read_block(path, f, header, 0, 0, 0)
        frames[f] = dd.from_map(_read_block, args, meta=meta, enforce_metadata=False, label=f"read-{f}")

    count("counting lines (screening log)", [scr_file])
    frame(scr_file)
    t1 = time.perf_counter()
    times["count lines (screening log)"] = t1 - t0
    n_records = int(sum(n for n, _ in counts_of[scr_file])) - 1 - blanks[scr_file]
    p = partitions or default_partitions(n_records, eng.threads())
    pm = dask.delayed(_partition_map, nout=2)(frames[scr_file].to_delayed(), p)
    scr_d, part_d = eng.persist("partition of each patient (screening log)", [pm[0], pm[1]], wait=False)
    try:
        count("counting lines", others)
    except Exception:
        eng.wait([scr_d, part_d])  # the screening log's error first, whatever else failed
        raise
    eng.wait([scr_d, part_d])      # the screening log validated
    for f in others:               # the files before one that failed to open: in file order
        frame(f)
    if later_error is not None:
        raise later_error
    eng.replicate([part_d])        # kept by the workers, a copy on each
    # the subject key of the whole extract (on a worker, while the split runs)
    key_slices = dask.delayed(_key_slices, nout=p)(dask.delayed(subject_key_of_screening_log)(scr_d), part_d, p)
    key_slices = eng.persist("subject key (screening log)", list(key_slices), wait=False)
    del scr_d
    times[PARTITION_MAP_STEP] = time.perf_counter() - t1

    # rows to their patient's partition (each raw block's rows written as Parquet pieces by
    # partition number), then the notebooks' code on each partition
    t2 = time.perf_counter()
    work = out / ".partitions"
    for name in (*DATASETS, "query_log", work.name):
        shutil.rmtree(out / name, ignore_errors=True)
    for name in (*DATASETS, "query_log"):
        (out / name).mkdir(parents=True, exist_ok=True)
    for f in (*files, "i08"):
        (work / f).mkdir(parents=True)
    writes = {f: frames[f].map_partitions(_write_pieces, part_d, str(work / f), meta={"rows": np.int64},
                                          enforce_metadata=False, align_dataframes=False).to_delayed()
              for f in files}
    try:
        written = iter(eng.compute("splitting the raw files by patient", [w for f in files for w in writes[f]]))
        for f in files:                   # every data row of the file written once
            got = int(sum(int(next(written)["rows"].sum()) for _ in writes[f]))
            want = int(sum(n for n, _ in counts_of[f])) - 1 - blanks[f]
            if got != want:
                raise RuntimeError(f"{f}: {got:,d} rows written by patient, {want:,d} data lines in the file")
        eng.wait(key_slices)
        eng.replicate(key_slices)
        n_patients = int(sum(eng.compute("counting patients", [dask.delayed(len)(x) for x in key_slices])))
        times["split by patient (and subject key)"] = time.perf_counter() - t2
        t2 = time.perf_counter()
        name_key = secrets.token_hex(8)
        tasks = [dask.delayed(_run_partition, pure=False)(k, str(work), key_slices[k], cutoff, str(out), name_key)
                 for k in range(p)]
        parts: list[_Part] = eng.compute(f"cleaning + derivation ({p} partitions)", tasks)
        times["clean + derive"] = time.perf_counter() - t2
        t3 = time.perf_counter()
        done = [x for x in parts if x.consort is not None]
        schemas = {name: [x.schemas[name] for x in done] for name in (*DATASETS, "query_log")}
        _unify(out, {name: schemas[name] for name in DATASETS}, eng)     # before the Cox task reads them
        # two single tasks side by side: rule I08 across partitions, and the SAP's multivariable Cox
        # model on the collected one-row-per-patient ADTTE (the client never holds patient rows)
        i08, cox = eng.compute("possible duplicates across partitions (rule I08); Cox model",
                               [dask.delayed(_possible_duplicates)(str(work), [x.k for x in done]),
                                dask.delayed(_fit_cox, pure=False)(str(out))])
        times["rule I08 + Cox model"] = time.perf_counter() - t3
    finally:
        _remove(work)      # raw rows (with identifiers): never left behind

    # across partitions
    t4 = time.perf_counter()
    glog = QueryLog()
    for f in files:
        glog.parts += file_logs[f].parts
    glog.parts += i08
    if glog.parts:
        schemas["query_log"].append(_write_part(glog.frame(), out / "query_log", p, "Query log (file-level and "
                                                "cross-partition queries)"))
    _unify(out, {"query_log": schemas["query_log"]}, eng)
    consort = done[0].consort.copy()
    consort["N"] = np.sum([x.consort.N.to_numpy() for x in done], axis=0)
    rec = done[0].reconciliation.copy()
    num = [c for c in rec.columns if c not in ("FILE", "RECONCILES")]
    rec[num] = np.sum([x.reconciliation[num].to_numpy() for x in done], axis=0)
    rec["RECONCILES"] = np.where(rec.RECORDS_IN == rec[num[1:]].sum(axis=1), "yes", "NO")
    crec = done[0].cleaning_reconciliation.copy()
    cn = ["RECORDS_IN", "REJECTED", "KEPT"]
    crec[cn] = np.sum([x.cleaning_reconciliation[cn].to_numpy() for x in done], axis=0)
    for qp in glog.parts:                    # file-level queries reject nothing; I08 only queries
        assert qp.RULE.isin(["unknown column", "possible duplicate patient"]).all()
    notes = [n for f in files for n in file_logs[f].notes] + interleave_notes([x.notes for x in done])
    harmonisation = harmonisation_summary(notes)
    survival = _km_summary(done)
    times["combine"] = time.perf_counter() - t4
    times["total"] = time.perf_counter() - t0
    res = ScaleResult(out, p, len(eng.client.nthreads()) if eng.client else 1, n_patients,
                      int(sum(x.analysed for x in done)), int(sum(x.queries for x in done) + sum(len(q) for q in glog.parts)),
                      consort, rec, crec, harmonisation, survival, cox, times, eng.peak_mb(),
                      {st: float(sum(x.steps.get(st, 0.0) for x in done)) for st in ("read", "clean", "derive", "write")})
    _write_summary(res, cutoff)
    return res


def _unify(out: Path, schemas: dict[str, list], eng: _Engine) -> None:
    """One schema per dataset: parts whose schema differs from the unified one are rewritten."""
    import dask
    import pyarrow as pa
    todo = []
    for name, sch in schemas.items():
        if not sch:
            continue
        target = pa.unify_schemas([x.remove_metadata() for x in sch], promote_options="permissive")
        target = pa.schema([target.field(n) for n in sch[0].names])
        paths = sorted((out / name).glob("part.*.parquet"))
        for path, s in zip(paths, sch):
            if not s.remove_metadata().equals(target.remove_metadata()):
                todo.append(dask.delayed(_rewrite, pure=False)(str(path), target.remove_metadata()))
    eng.compute("unifying Parquet schemas", todo)


def _km_summary(parts: list[_Part]) -> pd.DataFrame:
    """Kaplan-Meier of every ADTTE parameter from the event counts summed over partitions: N,
    events, median and quartiles with Brookmeyer-Crowley CIs (log-log), 6- and 12-month rates."""
    from .analysis.survival import LANDMARKS_MONTHS
    from .stats import km as K
    rows = []
    params = sorted({p for x in parts for p in x.km})
    for param in params:
        c = K.sum_event_counts([x.km[param] for x in parts if param in x.km])
        km = K.kaplan_meier_from_counts(c.time, c.n_event, c.n_censor, "log-log")
        row = {"PARAMCD": param, "N": km.n, "EVENTS": km.events}
        for q, name in ((0.5, "MEDIAN"), (0.25, "Q1"), (0.75, "Q3")):
            est, lo, hi = K.quantile(km, q)
            row.update({f"{name}_MONTHS": est, f"{name}_LCL": lo, f"{name}_UCL": hi})
        for m in LANDMARKS_MONTHS:
            s, lo, hi, at_risk = K.survival_at(km, m)
            beyond = m > km.time[-1]
            row.update({f"RATE_{m}M": np.nan if beyond else 100 * s, f"RATE_{m}M_LCL": np.nan if beyond else 100 * lo,
                        f"RATE_{m}M_UCL": np.nan if beyond else 100 * hi, f"AT_RISK_{m}M": at_risk})
        rows.append(row)
    return pd.DataFrame(rows)


def _fit_cox(out: str) -> pd.DataFrame:
    """The SAP's multivariable Cox model (analysis.cox.MULTIVARIABLE) of PFS and OS on the ADTTE
    and ADSL columns it needs, read from the partitioned Parquet datasets in ``out`` (one worker
    task: at 10^6 patients the collected columns and the model matrices take about 1 GB)."""
    from .analysis.cox import COVARIATES, MULTIVARIABLE, analysis_frame
    from .stats.cox import fit_cox
    import pyarrow.parquet as pq
    a = pq.read_table(Path(out) / "adsl", columns=["USUBJID", "EFFFL", "NMETORG", "PD1AGENT", *MULTIVARIABLE],
                      filters=[("EFFFL", "==", "Y")])        # the analysis set (analysed_with_groups)
    t = pq.read_table(Path(out) / "adtte", columns=["USUBJID", "PARAMCD", "AVAL", "CNSR"],
                      filters=[("PARAMCD", "in", list(KM_PARAMS))])
    # USUBJID as the patient's row number in ADSL (-1: not in the analysis set): the same join,
    # without a Python string per record (the collected strings were most of a GB at 10^6)
    if pc.count_distinct(a["USUBJID"]).as_py() != a.num_rows:     # index_in would match a repeated id once
        raise RuntimeError("ADSL has a USUBJID on more than one row: the partitions overlap")
    adsl = a.drop_columns(["USUBJID"]).to_pandas()
    adsl.insert(0, "USUBJID", np.arange(len(adsl), dtype=np.int64))
    adtte = t.drop_columns(["USUBJID"]).to_pandas()
    adtte.insert(0, "USUBJID", pc.index_in(t["USUBJID"], value_set=a["USUBJID"]).fill_null(-1).to_numpy())
    rows = []
    for param in KM_PARAMS:
        d = analysis_frame(adsl, adtte, param)
        res = fit_cox(d, "time", "status", {c: COVARIATES[c][1] for c in MULTIVARIABLE}, term_tests=False)
        t = res.table.assign(PARAMCD=param, N=res.n, EVENTS=res.events, LR_STAT=res.lr_stat, LR_P=res.lr_p)
        rows.append(t[["PARAMCD", "term", "coef", "se", "hr", "lower", "upper", "p_wald", "N", "EVENTS",
                       "LR_STAT", "LR_P"]])
        del d
    return pd.concat(rows, ignore_index=True)


def _write_summary(r: ScaleResult, cutoff: dt.date) -> None:
    out = r.out
    kw = {"index": False, "lineterminator": "\n"}
    r.consort.to_csv(out / "consort.csv", **kw)
    r.reconciliation.to_csv(out / "reconciliation.csv", **kw)
    r.cleaning_reconciliation.to_csv(out / "cleaning_reconciliation.csv", **kw)
    r.harmonisation.to_csv(out / "harmonisation.csv", **kw)
    r.survival.to_csv(out / "survival.csv", **kw)
    r.cox.to_csv(out / "cox.csv", **kw)
    summary = {"data_cutoff": cutoff.isoformat(), "partitions": r.partitions, "workers": r.workers,
               "patients_screened": r.patients_screened, "patients_analysed": r.patients_analysed,
               "queries": r.queries, "reconciles": r.reconciles,
               "seconds": {k: round(v, 2) for k, v in r.seconds.items()},
               "partition_seconds": {k: round(v, 2) for k, v in r.partition_seconds.items()},
               "peak_rss_mb": {k: round(v) for k, v in r.peak_mb.items()},
               "datasets": {n: f"{n}/part.*.parquet" for n in (*DATASETS, "query_log")}}
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")


def _print_summary(r: ScaleResult) -> None:
    print(f"[scale] {r.patients_screened:,d} patients ({r.patients_analysed:,d} analysed) in {r.partitions} partitions "
          f"on {r.workers} worker(s): {r.seconds['total']:.1f} s; {r.queries:,d} queries; "
          f"records reconcile: {'yes' if r.reconciles else 'NO'}")
    print("[scale] " + "; ".join(f"{k} {v:.1f} s" for k, v in r.seconds.items() if k != "total"))
    print("[scale] partition tasks, seconds summed over partitions: "
          + "; ".join(f"{k} {v:.1f}" for k, v in r.partition_seconds.items()))
    print("[scale] peak memory: " + ", ".join(f"{k} {v:,.0f} MB" for k, v in r.peak_mb.items()))
    for _, s in r.survival[r.survival.PARAMCD.isin(KM_PARAMS)].iterrows():
        print(f"[scale] {s.PARAMCD}: median {s.MEDIAN_MONTHS:.2f} months (95% CI {s.MEDIAN_LCL:.2f}-{s.MEDIAN_UCL:.2f}), "
              f"{s.EVENTS:,d} events of {s.N:,d}")
    print(f"[scale] written to {r.out}: " + ", ".join(f"{n}/" for n in (*DATASETS, "query_log"))
          + ", consort.csv, reconciliation.csv, harmonisation.csv, survival.csv, cox.csv, summary.json")


MIN_CLI_BLOCK_MB = 0.01        # 10 kB: smaller blocks make a task of every few lines


def _positive(kind, least=None):
    def parse(text: str):
        try:
            x = kind(text)
        except ValueError:
            x = None
        if x is None or not 0 < x < float("inf"):
            raise argparse.ArgumentTypeError(f"must be a positive {'integer' if kind is int else 'number'}, "
                                             f"not {text!r}")
        if least is not None and x < least:
            raise argparse.ArgumentTypeError(f"must be at least {least:g}, not {text!r}")
        return x
    parse.__name__ = kind.__name__
    return parse


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m apec_sar.scale",
                                 description="Clean and derive a large extract on Dask, partitioned by patient.")
    ap.add_argument("--raw", type=Path, required=True, help="folder of the raw CSV files")
    ap.add_argument("--out", type=Path, required=True, help="output folder (Parquet datasets, CSV summaries)")
    ap.add_argument("--cutoff", type=dt.date.fromisoformat, default=None,
                    help="data cut-off (ISO date; default: the SAR's, _variables.yml)")
    ap.add_argument("--workers", type=_positive(int), default=None, help="LocalCluster worker processes (default: one per core)")
    ap.add_argument("--scheduler", default=None,
                    help="address of a running Dask scheduler (e.g. tcp://10.0.0.5:8786) to run on instead")
    ap.add_argument("--partitions", type=_positive(int), default=None,
                    help=f"patient partitions (default: one per {PATIENTS_PER_PARTITION:,d} screening records, "
                         "rounded up to a multiple of the worker threads)")
    ap.add_argument("--block-mb", type=_positive(float, MIN_CLI_BLOCK_MB), default=None,
                    help=f"raw CSV block size read by a task (default: the extract in {TASKS_PER_THREAD} blocks per "
                         f"worker thread, {MIN_BLOCK_BYTES >> 20}-{BLOCK_BYTES >> 20} MB)")
    ap.add_argument("--no-progress", action="store_true", help="no progress bars")
    ap.add_argument("--debug", action="store_true", help="show the full traceback of a raw-data error")
    args = ap.parse_args(argv)
    cutoff = args.cutoff
    if cutoff is None:
        from .config import load_config
        cutoff = load_config().data_cutoff
    from .pipeline import _print_data_error, data_error_message
    try:
        r = run(args.raw, args.out, cutoff, workers=args.workers, scheduler=args.scheduler,
                partitions=args.partitions, block_bytes=None if args.block_mb is None else int(args.block_mb * 2 ** 20), progress=not args.no_progress)
    except ClusterError as exc:
        if args.debug:
            raise
        problem, _, todo = str(exc).partition(" What to do: ")
        print(f"[scale] STOPPED: {problem}\n  What to do: {todo}", file=sys.stderr, flush=True)
        return 2
    except Exception as exc:
        message = data_error_message(exc)
        if message is None or args.debug:
            raise
        _print_data_error(message, str(args.raw), tag="scale", prog="apec_sar.scale")
        return 2
    _print_summary(r)
    return 0


if __name__ == "__main__":
    sys.exit(main())
