"""Write the synthetic APEC extract: one CSV per domain under ``out_dir`` and, optionally,
the ground truth (true patient outcomes, true AEs, every injected defect) under ``truth_dir``.

Calibrated mode writes the committed default extract (49 patients + 1 duplicate record);
scale mode writes any number of patients in chunks of ``CHUNK`` so memory stays flat.
Output is byte-for-byte deterministic for a seed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

from . import cohort as K
from . import course as C
from . import dates as D
from . import tables as T
from . import vocab as V
from .render import COLUMNS, FILES, DefectLog, Renderer

DEFAULT_SEED = 20220703
CALIBRATED_PATIENTS = 50          # screened records: 49 patients, one of them reported twice
# The calibration search takes the first passing attempt k = 0, 1, ...; for the default seed
# that attempt is recorded here so a default run starts there instead of searching ~10^5
# attempts (about two minutes). `python -m apec_sar.synth --search-from 0` repeats the whole
# search and finds the same attempt (the generator prints the attempt it accepted).
RECORDED_FIRST_ATTEMPT = {DEFAULT_SEED: 129631}
CHUNK = 100_000
# raw files: no quoting, as a site export looks; the generator never writes a delimiter, quote
# or line break inside a value (pyarrow raises if it did). Truth files quote where needed.
_WRITE = pacsv.WriteOptions(quoting_style="none", include_header=False)
_WRITE_TRUTH = pacsv.WriteOptions(quoting_style="needed")


@dataclass
class Summary:
    mode: str
    seed: int
    records: int
    rows: dict[str, int]
    calibration_attempts: int = 0


def _truth_patients(a: dict, c: dict, t: dict, cutoff: int) -> pa.Table:
    start = a["start"]
    n = len(start)

    def absdate(off, ok):
        return D.render_iso(np.where(ok, start + off, D.MISSING))

    death_ok = c["death"] <= np.minimum(c["ltfu"], c["data_end"])
    return pa.table({
        "SUBJID": pa.array(a["subjid"].astype(str)),
        "SITE_ID": pa.array(a["site"]),
        "RECORD_STATUS": pa.array(["unique"] * n),
        "DUPLICATE_OF": pa.nulls(n, pa.string()),
        "ELIGIBLE": pa.array(np.where(a["eligible"], "Y", "N")),
        "EXCLUSION_REASON": pa.array(np.where(a["eligible"], None, a["reason"]).astype(object), pa.string()),
        "TREATED": pa.array(np.where(a["treated"], "Y", "N")),
        "TRTSDT": absdate(0, a["treated"]),
        "N_PRIOR_LINES": pa.array(a["n_lines"]),
        "PRIOR_ICI": pa.array(np.where(a["prior_ici"], "Y", "N")),
        "ICI_RESISTANCE": pa.array(np.where(a["prior_ici"], a["resistance"], None).astype(object), pa.string()),
        "PRIOR_RESECTION": pa.array(np.where(a["resected"], "Y", "N")),
        "PD1_AGENT": pa.array(np.where(a["combo"], a["pd1"], None).astype(object), pa.string()),
        "PD_DATE": absdate(c["pd_day"], c["pd_idx"] >= 0),
        "DEATH_DATE": absdate(c["death"], death_ok),
        "NACT_DATE": absdate(c["nact"], c["nact"] < C.INF),
        "CUTOFF": pa.array([D.iso(cutoff)] * n),
        "BOR": pa.array(t["bor"].astype(str)),
        "CBOR": pa.array(t["cbor"].astype(str)),
        "LSTALVDT": absdate(t["lstalv"], np.ones(n, bool)),
        "PFS_AVAL": pa.array(t["pfs_aval"]),
        "PFS_CNSR": pa.array(t["pfs_cnsr"].astype(np.int64)),
        "PFS_SOURCE": pa.array(t["pfs_source"].astype(str)),
        "OS_AVAL": pa.array(t["os_aval"]),
        "OS_CNSR": pa.array(t["os_cnsr"].astype(np.int64)),
    })


def _truth_aes(a: dict, ae: T.Table) -> pa.Table:
    terms = ae["_term"]
    soc = np.array([V.AE_TERMS[x][0] for x in terms], dtype=object)
    term_list = np.array([V.AE_TERMS[x][1] for x in terms])
    pd1_rel = np.isin(ae["REL_PD1"], ["Related", "Possibly related"])
    related = np.isin(ae["REL_ANLOTINIB"], ["Related", "Possibly related"]) | pd1_rel
    # every onset lies in the irAE window (first PD-1 dose to 90 days after the last)
    irae = (ae["IRAE_INV"] == "Y") | ((ae["SYSTEMIC_STEROID"] == "Y") & pd1_rel)
    yn = lambda x: pa.array(np.where(x, "Y", "N"))  # noqa: E731
    return pa.table({
        "SUBJID": pa.array(ae["SUBJID"].astype(str)),
        "CTCAE_TERM": pa.array(terms.astype(str)), "SOC": pa.array(soc.astype(str)),
        "START_DATE": D.render_iso(ae["START_DATE"]), "END_DATE": D.render_iso(ae["END_DATE"]),
        "GRADE": pa.array(ae["CTCAE_GRADE"].astype(np.int64)),
        "RELATED": yn(related), "TERM_LIST_IRAE": yn(term_list), "IRAE": yn(irae),
    })


def _add_duplicate(rng: np.random.Generator, a: dict, tables: dict[str, T.Table]) -> tuple[np.ndarray, np.ndarray, int, str]:
    """Report one analysed patient a second time from another site (a referral): same name,
    ID-card number and birth date; a new local id and hospital number; the same records."""
    i = int(rng.choice(np.flatnonzero(a["eligible"])))
    site2 = int(rng.choice([s for s in range(1, V.N_SITES + 1) if s != a["site"][i]]))
    serial2 = int(a["serial"][a["site"] == site2].max()) + 1
    new = len(a["site"])
    subj2 = f"S{site2:02d}-{serial2:03d}"
    site = np.append(a["site"], site2)
    serial = np.append(a["serial"], serial2)
    hosp2 = f"FAKE-H{site2:02d}-{serial2:06d}"
    for name, t in tables.items():
        rows = np.flatnonzero(t["_pi"] == i)
        if not len(rows):
            continue
        for col, v in t.items():
            extra = v[rows].copy()
            if col == "_pi":
                extra[:] = new
            elif col == "SUBJID":
                extra[:] = subj2
            elif col == "HOSPITAL_NO":
                extra[:] = hosp2
            elif col == "SITE_ID":
                extra[:] = site2
            elif col == "SCREEN_DATE":
                extra = extra + int(rng.integers(14, 60))
            t[col] = np.concatenate([v, extra])
        order = np.lexsort((np.arange(len(t["_pi"])), serial[t["_pi"]], site[t["_pi"]]))
        tables[name] = {col: v[order] for col, v in t.items()}
    return site, serial, i, subj2


class _Writers:
    """One CSV per domain, appended chunk by chunk, under a plain (unquoted) header line."""

    def __init__(self, out_dir: Path):
        self.out_dir = out_dir
        self.w: dict[str, pacsv.CSVWriter] = {}
        self.fh: dict[str, pa.OSFile] = {}
        self.rows: dict[str, int] = {f: 0 for f in FILES}

    def write(self, name: str, table: pa.Table) -> None:
        schema = pa.schema([(c, pa.string()) for c in COLUMNS[name]])
        if name not in self.w:
            fh = pa.OSFile(str(self.out_dir / f"{name}.csv"), "wb")
            fh.write((",".join(COLUMNS[name]) + "\n").encode("utf-8"))
            self.fh[name] = fh
            self.w[name] = pacsv.CSVWriter(fh, schema, write_options=_WRITE)
        self.w[name].write_table(table.cast(schema))
        self.rows[name] += table.num_rows

    def close(self) -> None:
        for name, w in self.w.items():
            w.close()
            self.fh[name].close()


def _write_csv(path: Path, table: pa.Table) -> None:
    pacsv.write_csv(table, str(path), write_options=_WRITE_TRUTH)


def generate(out_dir: Path, seed: int = DEFAULT_SEED, patients: int = CALIBRATED_PATIENTS,
             mode: str = "calibrated", truth_dir: Path | None = None, progress: bool = False,
             chunk: int = CHUNK, search_from: int | None = None) -> Summary:
    """Write the extract (and the ground truth when ``truth_dir`` is given). Calibrated mode
    searches attempts from ``search_from`` (default: the recorded first passing attempt of the
    seed, ``RECORDED_FIRST_ATTEMPT``, else 0; 0 repeats the whole search)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    for f in FILES:
        (out_dir / f"{f}.csv").unlink(missing_ok=True)
    if truth_dir is not None:
        Path(truth_dir).mkdir(parents=True, exist_ok=True)
    cutoff = K.PUBLICATION_CUTOFF
    writers = _Writers(out_dir)
    log = DefectLog(enabled=truth_dir is not None)
    truth_p: list[pa.Table] = []
    truth_ae: list[pa.Table] = []
    attempts = 0
    try:
        if mode == "calibrated":
            if patients != CALIBRATED_PATIENTS:
                raise ValueError(f"calibrated mode reproduces the published cohort of {CALIBRATED_PATIENTS} "
                                 f"screened records; use --mode scale for {patients} patients")
            chunks = [(0, CALIBRATED_PATIENTS - 1)]
        elif mode == "scale":
            if patients < 1:
                raise ValueError("--patients must be at least 1")
            chunks = [(j, min(chunk, patients - j * chunk)) for j in range((patients + chunk - 1) // chunk)]
        else:
            raise ValueError(f"unknown mode {mode!r} (calibrated or scale)")
        serial = np.ones(V.N_SITES + 1, dtype=np.int64)
        bar = None
        if progress:
            from tqdm import tqdm
            bar = tqdm(total=patients, unit="patients", desc=f"synth {mode}")
        for j, n in chunks:
            calibrated = mode == "calibrated"
            rng = np.random.default_rng([seed, 0] if calibrated else [seed, 100, j])
            a = K.draw_baseline(rng, n, calibrated, serial)
            a["subjid"] = T.subject_ids(a)
            a["ids"] = T.identifiers(rng, a)
            if calibrated:
                recorded = search_from is None and seed in RECORDED_FIRST_ATTEMPT
                start = RECORDED_FIRST_ATTEMPT[seed] if recorded else (search_from or 0)
                targets = K.Targets(first_attempt=start, max_attempts=start + 1) if recorded else \
                    K.Targets(first_attempt=start)
                try:
                    c_el, _, attempts = K.calibrate(seed, a, targets)
                except RuntimeError:
                    if not recorded:
                        raise
                    raise RuntimeError(f"the recorded calibration attempt {start + 1} of seed {seed} no longer passes "
                                       "(the generator changed): run `python -m apec_sar.synth --search-from 0` and "
                                       "record the attempt it accepts in synth/generate.py RECORDED_FIRST_ATTEMPT") from None
                inel = np.flatnonzero(~a["eligible"])
                c_in = K.simulate_courses(np.random.default_rng([seed, 2]), a, inel, a["cls"][inel])
                c = K._merge(None, c_el, np.flatnonzero(a["eligible"]), n)
                c = K._merge(c, c_in, inel, n)
            else:
                c = K.simulate_courses(rng, a, np.arange(n), a["cls"])
            truth = C.truth_at_cutoff(c, a["start"], cutoff)
            tables = T.build(np.random.default_rng([seed, 3, j]), a, c, calibrated, cutoff)
            site, serial_all = a["site"], a["serial"]
            dup = None
            if calibrated:
                site, serial_all, orig, subj2 = _add_duplicate(np.random.default_rng([seed, 5]), a, tables)
                dup = (orig, subj2)
            death_abs = np.where(c["death"] <= np.minimum(c["ltfu"], c["data_end"]), a["start"] + c["death"], D.MISSING)
            if dup:
                death_abs = np.append(death_abs, death_abs[dup[0]])
            subj_all = a["subjid"] if dup is None else np.append(a["subjid"], dup[1])
            rend = Renderer(np.random.default_rng([seed, 4, j]), site, subj_all, log, dict(writers.rows), calibrated,
                            {"publication_cutoff": cutoff, "death_day_of_pi": death_abs})
            for name in FILES:
                t = tables[name]
                table = rend.render(name, t)
                if dup:
                    rows = np.flatnonzero(t["SUBJID"] == dup[1])
                    log.add(name, writers.rows[name] + rows + 1, t["SUBJID"][rows], "SUBJID", "duplicate_patient",
                            t["SUBJID"][rows], np.full(len(rows), a["subjid"][dup[0]], dtype=object))
                writers.write(name, table)
            if truth_dir is not None:
                tp = _truth_patients(a, c, truth, cutoff)
                if dup:
                    row = tp.slice(dup[0], 1).to_pydict()
                    row.update(SUBJID=[dup[1]], SITE_ID=[int(site[-1])], RECORD_STATUS=["duplicate"],
                               DUPLICATE_OF=[str(a["subjid"][dup[0]])], ELIGIBLE=["N"],
                               EXCLUSION_REASON=["duplicate_record"])
                    tp = pa.concat_tables([tp, pa.table(row, schema=tp.schema)])
                truth_p.append(tp)
                ae = {k: v for k, v in tables["adverse_events"].items()}
                if dup:
                    keep = ae["SUBJID"] != dup[1]
                    ae = {k: v[keep] for k, v in ae.items()}
                truth_ae.append(_truth_aes(a, ae))
            if bar is not None:
                bar.update(n + (1 if dup else 0))
        if bar is not None:
            bar.close()
    finally:
        writers.close()
    if truth_dir is not None:
        truth_dir = Path(truth_dir)
        _write_csv(truth_dir / "patients.csv", pa.concat_tables(truth_p))
        _write_csv(truth_dir / "adverse_events.csv", pa.concat_tables(truth_ae))
        _write_csv(truth_dir / "defects.csv", log.table())
        (truth_dir / "README.md").write_text(_TRUTH_README, encoding="utf-8")
        meta = {"seed": seed, "mode": mode, "patients": patients, "cutoff": D.iso(cutoff),
                "calibration_attempts": attempts}
        (truth_dir / "generator.json").write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return Summary(mode=mode, seed=seed, records=patients, rows=dict(writers.rows), calibration_attempts=attempts)


_TRUTH_README = """# Ground truth of the synthetic APEC extract (tests only)

Written by the generator beside, never inside, `data/raw/`. The analysis pipeline must not read it.

- `patients.csv`: one row per screened record: true eligibility and first failing criterion,
  the duplicate record, the SITC resistance class the prior-ICI line was built with
  (`ICI_RESISTANCE`), and each patient's true best overall response (unconfirmed `BOR`,
  confirmed `CBOR`), PFS and OS (`AVAL` in days = date - first dose + 1; `CNSR` 0 = event)
  at `CUTOFF` (the publication's data cut-off), with the true PD, death and new-therapy dates.
- `adverse_events.csv`: every AE with its true CTCAE v5 term, system organ class, dates,
  grade, relatedness (related or possibly related to either drug), the term-list "possible irAE"
  flag and the irAE flag of the SAR's definition (investigator-called immune-related, or treated
  with systemic corticosteroids while at least possibly related to the PD-1 antibody).
- `defects.csv`: every injected defect, one per cell: `FILE`, `ROW` (1-based data row, header
  not counted), `SUBJID`, `COLUMN`, `KIND`, `RAW_VALUE` (as written) and `TRUE_VALUE` (the
  clean value; empty for direct identifiers, which must be removed).
- `generator.json`: seed, mode, patients and the calibration attempt that was accepted.
"""
