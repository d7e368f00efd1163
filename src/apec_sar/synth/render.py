"""Render true tables as the sites typed them, injecting the realistic defects of SAR_SPEC 3,
and log every defect (file, row, subject, column, kind, raw value, true value).

Systematic defects follow site conventions (``vocab.SITE_*``): date formats, sex / yes-no
codings, drug-name styles, lab units, verbatim AE terms. Sporadic defects hit a few cells:
partial dates, out-of-range typos, impossible sequences, blanked values. Direct identifiers
are logged as defects too: the pipeline must remove every one of them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from . import dates as D
from . import vocab as V
from .tables import DRUG_LIST, Table

DATE_COLUMNS = {
    "screening_log": ("SCREEN_DATE",),
    "demographics": ("BIRTH_DATE",),
    "baseline_disease": ("DIAGNOSIS_DATE", "RESECTION_DATE"),
    "baseline_labs": ("LAB_DATE",),
    "prior_therapy": ("START_DATE", "END_DATE", "PD_DATE"),
    "exposure": ("START_DATE", "END_DATE"),
    "tumour_assessments": ("ASSESS_DATE",),
    "adverse_events": ("START_DATE", "END_DATE"),
    "follow_up": ("CONTACT_DATE", "DEATH_DATE"),
    "subsequent_therapy": ("START_DATE",),
}
YN_COLUMNS = {
    "demographics": ("SMOKING", "ALCOHOL", "PREGNANT"),
    "baseline_disease": ("PRIOR_RESECTION", "PRIOR_RADIOTHERAPY", "OTHER_MALIGNANCY_5Y", "UNSTABLE_SYSTEMIC_DISEASE"),
    "tumour_assessments": ("NEW_LESION",),
    "adverse_events": ("IRAE_INV", "SYSTEMIC_STEROID", "HORMONE_REPLACEMENT", "SERIOUS"),
}
IDENTIFIER_COLUMNS = ("PATIENT_NAME", "HOSPITAL_NO", "ID_CARD_NO")
# numeric columns and their decimals
NUMBER_COLUMNS = {
    "demographics": {"ECOG": 0, "HEIGHT_CM": 0, "WEIGHT_KG": 1},
    "baseline_disease": {"PDL1_CPS": 0},
    "prior_therapy": {"LINE": 0},
    "exposure": {"CYCLE": 0, "DOSE": 0},
    "tumour_assessments": {"TARGET_SUM_MM": 0},
    "adverse_events": {"CTCAE_GRADE": 0},
    "screening_log": {"SITE_ID": 0},
}
# the published output order of columns per file
COLUMNS = {
    "screening_log": ("SITE_ID", "SUBJID", "SCREEN_DATE", "PATIENT_NAME", "HOSPITAL_NO", "ID_CARD_NO"),
    "demographics": ("SUBJID", "HOSPITAL_NO", "BIRTH_DATE", "SEX", "ECOG", "SMOKING", "ALCOHOL",
                     "HEIGHT_CM", "WEIGHT_KG", "PREGNANT"),
    "baseline_disease": ("SUBJID", "DIAGNOSIS_DATE", "HISTOLOGY", "PRIMARY_SITE", "DISEASE_STATUS",
                         "PRIOR_RESECTION", "RESECTION_DATE", "PRIOR_RADIOTHERAPY", "PDL1_CPS",
                         "BRAIN_METASTASIS", "OTHER_MALIGNANCY_5Y", "UNSTABLE_SYSTEMIC_DISEASE"),
    "metastatic_sites": ("SUBJID", "MET_SITE"),
    "baseline_labs": ("SUBJID", "LAB_DATE", "LAB_TEST", "RESULT", "UNIT"),
    "prior_therapy": ("SUBJID", "SETTING", "LINE", "REGIMEN", "START_DATE", "END_DATE", "PD_DATE", "BEST_RESPONSE",
                      "STOP_REASON"),
    "exposure": ("SUBJID", "CYCLE", "DRUG", "START_DATE", "END_DATE", "DOSE", "DOSE_UNIT", "DOSE_CHANGE", "EOT_REASON"),
    "tumour_assessments": ("SUBJID", "VISIT", "ASSESS_DATE", "TARGET_SUM_MM", "NONTARGET", "NEW_LESION", "INV_RESPONSE"),
    "adverse_events": ("SUBJID", "AE_VERBATIM", "START_DATE", "END_DATE", "CTCAE_GRADE", "REL_ANLOTINIB",
                       "REL_PD1", "IRAE_INV", "SYSTEMIC_STEROID", "HORMONE_REPLACEMENT", "SERIOUS", "ACTION_TAKEN",
                       "OUTCOME"),
    "follow_up": ("SUBJID", "CONTACT_DATE", "STATUS", "DEATH_DATE", "DEATH_CAUSE"),
    "subsequent_therapy": ("SUBJID", "THERAPY", "START_DATE"),
}
FILES = tuple(COLUMNS)
DEFECT_KINDS = (
    "date_format", "partial_date", "drug_name_variant", "code_variant", "lab_unit", "ae_verbatim",
    "duplicate_patient", "out_of_range", "impossible_sequence", "missing_value", "direct_identifier",
)
DEFECT_SCHEMA = pa.schema([("FILE", pa.string()), ("ROW", pa.int64()), ("SUBJID", pa.string()),
                           ("COLUMN", pa.string()), ("KIND", pa.string()), ("RAW_VALUE", pa.string()),
                           ("TRUE_VALUE", pa.string())])
_FMT_INDEX = {f: i for i, f in enumerate(V.DATE_FORMATS)}
_SITE_FMT = np.array([0] + [_FMT_INDEX[V.SITE_DATE_FORMAT[s]] for s in range(1, V.N_SITES + 1)], dtype=np.int8)


@dataclass
class DefectLog:
    parts: list[pa.Table] = field(default_factory=list)
    enabled: bool = True

    def add(self, file: str, rows: np.ndarray, subj: pa.Array | np.ndarray, column: str, kind: str,
            raw: pa.Array | np.ndarray, true: pa.Array | np.ndarray) -> None:
        if not self.enabled or len(rows) == 0:
            return
        n = len(rows)
        self.parts.append(pa.table({
            "FILE": pa.array([file] * n, pa.string()) if n < 1000 else pa.repeat(pa.scalar(file), n),
            "ROW": pa.array(np.asarray(rows, dtype=np.int64)),
            "SUBJID": _arr(subj), "COLUMN": pa.repeat(pa.scalar(column), n).cast(pa.string()),
            "KIND": pa.repeat(pa.scalar(kind), n).cast(pa.string()),
            "RAW_VALUE": _arr(raw), "TRUE_VALUE": _arr(true)}, schema=DEFECT_SCHEMA))

    def table(self) -> pa.Table:
        """All defects, one per cell: a sporadic defect logged after a systematic one on the
        same cell (a partial date at a site with its own date format) replaces it."""
        if not self.parts:
            return DEFECT_SCHEMA.empty_table()
        df = pa.concat_tables(self.parts).to_pandas()
        df = df.drop_duplicates(["FILE", "ROW", "COLUMN"], keep="last")
        df = df.sort_values(["FILE", "ROW", "COLUMN"], kind="stable")
        return pa.Table.from_pandas(df, schema=DEFECT_SCHEMA, preserve_index=False)


def _arr(x) -> pa.Array:
    if isinstance(x, (pa.Array, pa.ChunkedArray)):
        return x.cast(pa.string()) if x.type != pa.string() else x
    return pa.array(np.asarray(x, dtype=object), type=pa.string())


def fmt_number(values: np.ndarray, decimals: int) -> pa.Array:
    """Fixed-decimal strings (NaN -> null); exact: works on scaled integers, no float repr."""
    v = np.asarray(values, dtype=float)
    nan = np.isnan(v)
    scaled = np.rint(np.where(nan, 0, v) * 10 ** decimals).astype(np.int64)
    if decimals == 0:
        out = pa.array(scaled).cast(pa.string())
    else:
        whole = pa.array(scaled // 10 ** decimals).cast(pa.string())
        frac = pc.utf8_lpad(pa.array(scaled % 10 ** decimals).cast(pa.string()), decimals, "0")
        out = pc.binary_join_element_wise(whole, frac, ".")
    return pc.if_else(pa.array(nan), pa.nulls(len(v), pa.string()), out) if nan.any() else out


def _drug_names() -> np.ndarray:
    """(n_drugs, 4) rendered names for styles inn / cjk / brand / code."""
    return np.array([[d, *V.DRUGS[d]] for d in DRUG_LIST], dtype=object)


class Renderer:
    """Renders one chunk. ``row_offset[file]`` carries data-row numbers across chunks."""

    def __init__(self, rng: np.random.Generator, site: np.ndarray, subj: np.ndarray, log: DefectLog,
                 row_offset: dict[str, int], calibrated: bool, truth: dict):
        self.rng, self.site, self.log = rng, site, log
        self.subj = None if subj is None else _arr(subj)
        self.row_offset, self.calibrated, self.truth = row_offset, calibrated, truth
        self.names = _drug_names()
        self.touched: dict[str, set[int]] = {}

    # -- helpers ------------------------------------------------------------------------
    def _rows(self, file: str, idx: np.ndarray) -> np.ndarray:
        return self.row_offset.get(file, 0) + np.asarray(idx, dtype=np.int64) + 1  # 1-based data rows

    def _pick(self, candidates: np.ndarray, k_calibrated: int, rate: float) -> np.ndarray:
        """Cells hit by a sporadic defect: exactly k in calibrated mode, a rate at scale."""
        if len(candidates) == 0:
            return candidates
        if self.calibrated:
            return np.sort(self.rng.permutation(candidates)[:k_calibrated])
        return candidates[self.rng.random(len(candidates)) < rate]

    # -- one table ----------------------------------------------------------------------
    def render(self, file: str, t: Table) -> pa.Table:
        n = len(t["_pi"])
        site = self.site[t["_pi"]]
        subj = t["SUBJID"]
        out: dict[str, pa.Array] = {}
        for col in COLUMNS[file]:
            if col in DATE_COLUMNS.get(file, ()):
                out[col] = self._dates(file, col, t[col], site, subj)
            elif col in YN_COLUMNS.get(file, ()):
                out[col] = self._codes(file, col, t[col], site, subj, V.SITE_YN_CODING, V.YN_CODES)
            elif col == "SEX":
                out[col] = self._codes(file, col, t[col], site, subj, V.SITE_SEX_CODING, V.SEX_CODES)
            elif col in NUMBER_COLUMNS.get(file, {}):
                out[col] = fmt_number(t[col], NUMBER_COLUMNS[file][col])
            elif col in ("REGIMEN", "DRUG", "THERAPY"):
                out[col] = self._drugs(file, col, t, site, subj)
            elif col == "AE_VERBATIM":
                out[col] = self._verbatim(file, t["_term"], site, subj)
            elif file == "baseline_labs" and col == "RESULT":
                out["RESULT"], out["UNIT"] = self._labs(file, t, site, subj)
            elif file == "baseline_labs" and col == "UNIT":
                continue
            elif col == "SUBJID" and self.subj is not None:
                out[col] = self.subj.take(pa.array(t["_pi"]))
            else:
                out[col] = _arr(t[col])
            if col in IDENTIFIER_COLUMNS:
                self.log.add(file, self._rows(file, np.arange(n)), subj, col, "direct_identifier", out[col],
                             pa.nulls(n, pa.string()))
        self._sporadic(file, t, out, site, subj)
        return pa.table({c: out[c] for c in COLUMNS[file]})

    def _dates(self, file, col, days, site, subj) -> pa.Array:
        fmt = _SITE_FMT[site]
        rendered = D.render(days, fmt)
        hit = np.flatnonzero((fmt != 0) & (days != D.MISSING))
        if len(hit):
            self.log.add(file, self._rows(file, hit), _arr(subj).take(pa.array(hit)), col, "date_format",
                         rendered.take(pa.array(hit)), D.render_iso(days[hit]))
        return rendered

    def _codes(self, file, col, values, site, subj, site_coding, codes) -> pa.Array:
        values = np.asarray(values, dtype=object)
        out = values.copy()
        for style, mapping in codes.items():
            sites = [s for s, st in site_coding.items() if st == style]
            sel = np.isin(site, sites)
            for canon, raw in mapping.items():
                out[sel & (values == canon)] = raw
        hit = np.flatnonzero(out != values)
        if len(hit):
            self.log.add(file, self._rows(file, hit), subj[hit], col, "code_variant", out[hit], values[hit])
        return _arr(out)

    def _drugs(self, file, col, t, site, subj) -> pa.Array:
        drugs = t["_drugs"]
        n = len(drugs)
        default = np.array([0] + [V.DRUG_STYLES.index(V.SITE_DRUG_STYLE[s]) for s in range(1, V.N_SITES + 1)])
        style = np.where(self.rng.random(n) < 0.8, default[site], self.rng.integers(0, 4, n))
        if (drugs[:, 1:] < 0).all() and "_label" not in t:  # one drug per row: plain lookups
            d = drugs[:, 0]
            raw, true = self.names[d, style], self.names[d, 0]
            hit = np.flatnonzero(style != 0)
            hit = hit[raw[hit] != true[hit]]
            if len(hit):
                self.log.add(file, self._rows(file, hit), subj[hit], col, "drug_name_variant", raw[hit], true[hit])
            return pa.array(self.names[:, :].ravel().astype(object), pa.string()).take(
                pa.array(d * self.names.shape[1] + style))
        raw = np.full(n, "", dtype=object)
        true = np.full(n, "", dtype=object)
        for q in range(drugs.shape[1]):
            d = drugs[:, q]
            ok = d >= 0
            sep = np.where(ok & (q > 0), "+", "")
            raw = np.where(ok, raw + sep + self.names[np.maximum(d, 0), style], raw)
            true = np.where(ok, true + sep + self.names[np.maximum(d, 0), 0], true)
        raw[raw == ""] = None
        true[true == ""] = None
        if "_label" in t:
            lab = t["_label"] != None  # noqa: E711 - elementwise on an object array
            raw = np.where(lab, t["_label"], raw)
            true = np.where(lab, t["_label"], true)
        hit = np.flatnonzero(raw != true)
        if len(hit):
            self.log.add(file, self._rows(file, hit), subj[hit], col, "drug_name_variant", raw[hit], true[hit])
        return _arr(raw)

    def _verbatim(self, file, terms, site, subj) -> pa.Array:
        n = len(terms)
        u = self.rng.random(n)
        cjk_site = np.isin(site, [2, 3, 5, 8])
        raw = np.empty(n, dtype=object)
        for term, (_soc, _ir, variants) in V.AE_TERMS.items():
            sel = np.flatnonzero(terms == term)
            if not len(sel):
                continue
            k = len(variants)
            idx = np.where(cjk_site[sel] & (u[sel] < 0.7), 0, 1 + np.floor(u[sel] * (k - 1)).astype(int) % (k - 1))
            raw[sel] = np.asarray(variants, dtype=object)[idx]
        hit = np.flatnonzero(raw != terms)
        if len(hit):
            self.log.add(file, self._rows(file, hit), subj[hit], "AE_VERBATIM", "ae_verbatim", raw[hit], terms[hit])
        return _arr(raw)

    def _labs(self, file, t, site, subj) -> tuple[pa.Array, pa.Array]:
        test = t["LAB_TEST"]
        si = t["RESULT"].astype(float)
        val = si.copy()
        unit = t["UNIT"].copy()
        dec = np.array([V.LAB_DECIMALS[x] for x in test])
        for s, conv in V.SITE_LAB_UNIT.items():
            for lt, (u, factor) in conv.items():
                sel = (site == s) & (test == lt)
                val[sel] = si[sel] * factor
                unit[sel] = u
                dec[sel] = 2 if factor < 1 and lt == "ALB" else (1 if factor < 1 else 0)
        strings = np.empty(len(val), dtype=object)
        for d in np.unique(dec):
            sel = np.flatnonzero(dec == d)
            strings[sel] = np.asarray(fmt_number(val[sel], int(d)).to_pylist(), dtype=object) if len(sel) < 50000 \
                else fmt_number(val[sel], int(d)).to_numpy(zero_copy_only=False)
        hit = np.flatnonzero(unit != t["UNIT"])
        if len(hit):  # TRUE_VALUE: the result in the SI unit of the data dictionary
            true = fmt_number(si[hit], 2).to_numpy(zero_copy_only=False)
            self.log.add(file, self._rows(file, hit), subj[hit], "RESULT", "lab_unit", strings[hit], true)
        return _arr(strings), _arr(unit)

    # -- sporadic defects ---------------------------------------------------------------
    def _replace(self, file, col, out, idx, new_raw, kind, true, subj):
        if len(idx) == 0:
            return
        mask = np.zeros(len(out[col]), dtype=bool)
        mask[idx] = True
        out[col] = pc.replace_with_mask(out[col], pa.array(mask), _arr(new_raw))
        self.touched.setdefault(file, set()).update(int(i) for i in idx)
        self.log.add(file, self._rows(file, idx), subj[idx], col, kind, new_raw, true)

    def _sporadic(self, file, t, out, site, subj) -> None:
        rng = self.rng
        fmt = _SITE_FMT[site]
        # partial dates (year-month known; day missing or 'UNK')
        partial_cols = {
            "demographics": [("BIRTH_DATE", 1)], "baseline_disease": [("DIAGNOSIS_DATE", 2)],
            "prior_therapy": [("START_DATE", 2), ("END_DATE", 2)],
            "adverse_events": [("START_DATE", 2), ("END_DATE", 2)],
            "subsequent_therapy": [("START_DATE", 2)], "follow_up": [("DEATH_DATE", 1)],
        }
        for col, k in partial_cols.get(file, []):
            days = t[col]
            cand = np.flatnonzero(days != D.MISSING)
            if file == "follow_up":  # deaths after the publication cut-off only
                cand = cand[days[cand] > self.truth["publication_cutoff"]]
            if file == "adverse_events" and col == "START_DATE":  # AEs with a known end
                cand = cand[t["END_DATE"][cand] != D.MISSING]
            if file == "prior_therapy":  # not on the ICI line (its SITC class needs exact dates)
                cand = cand[~t["_ici"][cand]]
            hit = self._pick(cand, k, 0.01)
            if len(hit):
                kind = np.where(rng.random(len(hit)) < 0.5, "month", "unk")
                raw = np.empty(len(hit), dtype=object)
                for kk in ("month", "unk"):
                    s = np.flatnonzero(kind == kk)
                    if len(s):
                        raw[s] = np.asarray(D.render(days[hit[s]], fmt[hit[s]], kk).to_pylist(), dtype=object)
                self._replace(file, col, out, hit, raw, "partial_date",
                              D.render_iso(days[hit]).to_numpy(zero_copy_only=False), subj)
        if file == "demographics":
            w = self._pick(np.flatnonzero(~np.isnan(t["WEIGHT_KG"])), 1, 0.001)
            self._replace(file, "WEIGHT_KG", out, w, fmt_number(t["WEIGHT_KG"][w] * 10, 0).to_pylist(),
                          "out_of_range", fmt_number(t["WEIGHT_KG"][w], 1).to_pylist(), subj)
            h = self._pick(np.setdiff1d(np.arange(len(subj)), w), 1, 0.001)
            self._replace(file, "HEIGHT_CM", out, h, fmt_number(t["HEIGHT_CM"][h] / 100, 2).to_pylist(),
                          "out_of_range", fmt_number(t["HEIGHT_CM"][h], 0).to_pylist(), subj)
            for col in ("SMOKING", "ALCOHOL"):
                taken = np.union1d(w, h)
                m = self._pick(np.setdiff1d(np.arange(len(subj)), taken), 1, 0.01)
                self._replace(file, col, out, m, [None] * len(m), "missing_value", t[col][m], subj)
        if file == "baseline_labs":
            si_site = ~np.isin(site, [4, 6])
            cand = np.flatnonzero((t["LAB_TEST"] == "HGB") & si_site)
            hgb = self._pick(cand, 1, 0.001)
            self._replace(file, "RESULT", out, hgb, fmt_number(t["RESULT"][hgb] * 10, 0).to_pylist(),
                          "out_of_range", fmt_number(t["RESULT"][hgb], 0).to_pylist(), subj)
        if file == "adverse_events":
            used = self.touched.get(file, set())
            cand = np.array([i for i in np.flatnonzero(t["END_DATE"] != D.MISSING) if i not in used], dtype=np.int64)
            e = self._pick(cand, 1, 0.002)
            bad = t["START_DATE"][e] - rng.integers(5, 31, len(e))
            self._replace(file, "END_DATE", out, e, D.render(bad, fmt[e]).to_pylist(), "impossible_sequence",
                          D.render_iso(t["END_DATE"][e]).to_pylist(), subj)
        if file == "follow_up":
            death = self.truth["death_day_of_pi"][t["_pi"]]
            alive = t["STATUS"] == "ALIVE"
            # an ALIVE contact of a patient who died, its date mistyped to after the death
            cand = np.flatnonzero(alive & (death != D.MISSING) & (t["CONTACT_DATE"] < death))
            e = self._pick(cand, 1, 0.002)
            bad = death[e] + rng.integers(10, 41, len(e))
            self._replace(file, "CONTACT_DATE", out, e, D.render(bad, fmt[e]).to_pylist(), "impossible_sequence",
                          D.render_iso(t["CONTACT_DATE"][e]).to_pylist(), subj)
