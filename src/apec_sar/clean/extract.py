"""Clean the raw extract: validate, harmonise, impute, map, de-duplicate, pseudonymise.

``clean_extract(folder)`` returns one clean table per raw file (same rows minus rejected ones,
``SRC_ROW`` kept for traceability, typed columns, no direct identifiers, ``USUBJID`` instead of
the site's id), the query log, a harmonisation summary and the record reconciliation.

Rules (each unit-tested; the SAR's data-handling chapter states them):
- Schema: every file against the data dictionary (pandera); a failure stops the run.
- Dates: every site format -> ISO date; partial dates imputed (admiral ``derive_vars_dt``):
  AE start first day (not before first dose, not after death), AE end last day (not after
  death), death first day (not before the last date known alive), birth / diagnosis / prior
  therapy start first day, prior therapy end last day (before first dose), subsequent therapy
  start first day (after the last dose); each imputation flagged (``<COL>_F`` = D or M) and
  logged as a query. Study-drug and tumour-assessment dates must be complete.
- Codes, drug names, verbatim AE terms, lab units: mapped through ``data/mappings``; an
  unknown value stops the run.
- Out-of-range values (dictionary ranges): set to missing, query; a height recorded in metres
  (1.2-2.1) is converted to cm (harmonisation and query). Missing baseline values
  (smoking, alcohol, height, weight): kept missing, query.
- Impossible sequences: AE end before start -> end set to missing (query); an ALIVE contact
  after the death date -> row rejected (query); death before the first dose -> run stops.
- Duplicate patient (same ID-card number under two ids): the later-screened record and all its
  rows are rejected (query per row).
- Direct identifiers (data dictionary role) are dropped; ids become ``APEC-nnnn`` in site order.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..dictionary import identifier_columns, load_dictionary, raw_files
from ..io import read_raw
from . import dates as D
from . import mappings as M
from .errors import DataError, QueryLog
from .schema import validate_raw

YN = {"demographics": ["SMOKING", "ALCOHOL", "PREGNANT"],
      "baseline_disease": ["PRIOR_RESECTION", "PRIOR_RADIOTHERAPY", "OTHER_MALIGNANCY_5Y", "UNSTABLE_SYSTEMIC_DISEASE"],
      "tumour_assessments": ["NEW_LESION"],
      "adverse_events": ["IRAE_INV", "SYSTEMIC_STEROID", "HORMONE_REPLACEMENT", "SERIOUS"]}
EXPECTED_PRESENT = {"demographics": ["SMOKING", "ALCOHOL", "HEIGHT_CM", "WEIGHT_KG"]}


@dataclass
class CleanResult:
    tables: dict[str, pd.DataFrame]
    queries: pd.DataFrame
    harmonised: pd.DataFrame
    reconciliation: pd.DataFrame
    subject_key: pd.DataFrame


class _Cleaner:
    def __init__(self, folder: Path, subject_key: pd.DataFrame | None = None):
        self.folder = Path(folder)
        self.subject_key = subject_key
        self.log = QueryLog()
        self.spec = load_dictionary()["files"]
        self.harm: list[tuple[str, str, str, int]] = []
        self.rejected: dict[str, int] = {}

    # -- helpers ------------------------------------------------------------------------
    def s(self, df: pd.DataFrame, col: str) -> pd.Series:
        """A raw column as an object Series (None for empty)."""
        return df[col].astype(object).where(df[col].notna(), None)

    def dates(self, file: str, df: pd.DataFrame, col: str, complete: bool = False,
              count: bool = True) -> tuple[np.ndarray, np.ndarray]:
        raw = df[col]
        days, prec = D.parse(raw)
        bad = np.flatnonzero(prec == D.INVALID)
        if len(bad):
            i = bad[0]
            raise DataError(file, int(df.SRC_ROW.iloc[i]), col, "valid date",
                            f"{raw.iloc[i]!r} is not a calendar date in any site format")
        if complete:
            part = np.flatnonzero((prec == D.MONTH) | (prec == D.YEAR))
            if len(part):
                i = part[0]
                raise DataError(file, int(df.SRC_ROW.iloc[i]), col, "complete date",
                                f"{raw.iloc[i]!r} is partial; this date must be complete")
        if count:
            iso_like = raw.str.match(r"^\d{4}-\d{2}-\d{2}$").astype("boolean").fillna(True).to_numpy(dtype=bool)
            self.harm.append((file, col, "date format -> ISO 8601", int(np.sum((prec == D.FULL) & ~iso_like))))
        return days, prec

    def impute(self, file: str, df: pd.DataFrame, col: str, days, prec, rule: str, lower=None, upper=None,
               why: str = "") -> tuple[np.ndarray, np.ndarray]:
        out, flag = D.impute(days, prec, rule, lower, upper)
        part = np.flatnonzero((prec == D.MONTH) | (prec == D.YEAR))
        if len(part):
            action = [f"imputed {rule} possible day{why}: {v} (flag {f})" for v, f in zip(D.iso(out[part]), flag[part])]
            self.log.add(file, df.SRC_ROW.to_numpy()[part], df.SUBJID.to_numpy()[part], col, "partial date",
                         df[col].astype(object).to_numpy()[part], action)
        return out, flag

    def subject_days(self, df: pd.DataFrame, by_subject: pd.Series) -> np.ndarray:
        """Each row's subject-level date (e.g. first dose) as day numbers, MISSING if none."""
        return D.day_numbers(df.SUBJID.astype(object).map(by_subject))

    def codes(self, file, df, col, codelist) -> pd.Series:
        raw = self.s(df, col)
        out = M.map_codes(raw, codelist, file, col, df.SRC_ROW.to_numpy())
        self.harm.append((file, col, f"{codelist} coding -> canonical", int(((raw != out) & raw.notna()).sum())))
        return out

    def number(self, file, df, col, lo=None, hi=None) -> np.ndarray:
        v = pd.to_numeric(df[col].astype(object), errors="raise").to_numpy(dtype=float)
        if lo is not None:
            out = np.flatnonzero(~np.isnan(v) & ((v < lo) | (v > hi)))
            if len(out):
                self.log.add(file, df.SRC_ROW.to_numpy()[out], df.SUBJID.to_numpy()[out], col, "out of range",
                             df[col].astype(object).to_numpy()[out], f"set to missing (allowed {lo:g}-{hi:g}); site to confirm")
                v[out] = np.nan
        return v

    def height_cm(self, file, df, lo, hi) -> np.ndarray:
        """HEIGHT_CM; a value that is a plausible height in metres (lo/100 to hi/100, e.g. 1.64)
        is read as metres and converted to cm (harmonisation, and a query for the site to
        confirm); anything else out of range is set to missing (query)."""
        v = pd.to_numeric(df.HEIGHT_CM.astype(object), errors="raise").to_numpy(dtype=float)
        metres = np.flatnonzero(~np.isnan(v) & (v >= lo / 100) & (v <= hi / 100))
        if len(metres):
            cm = np.round(v[metres] * 100, 1)
            self.log.add(file, df.SRC_ROW.to_numpy()[metres], df.SUBJID.to_numpy()[metres], "HEIGHT_CM", "out of range",
                         df.HEIGHT_CM.astype(object).to_numpy()[metres],
                         [f"recorded in metres: converted to {x:g} cm; site to confirm" for x in cm])
            v[metres] = cm
        self.harm.append((file, "HEIGHT_CM", "height in metres -> cm", len(metres)))
        return self.number(file, df.assign(HEIGHT_CM=v), "HEIGHT_CM", lo, hi)

    def expect_present(self, file, df, cols):
        for col in cols:
            miss = np.flatnonzero(df[col].isna().to_numpy())
            self.log.add(file, df.SRC_ROW.to_numpy()[miss], df.SUBJID.to_numpy()[miss], col, "missing value",
                         None, "kept missing; site to complete")

    def reject(self, file, df, mask, column, rule, original, action) -> pd.DataFrame:
        idx = np.flatnonzero(mask)
        self.log.add(file, df.SRC_ROW.to_numpy()[idx], df.SUBJID.to_numpy()[idx], column, rule,
                     np.asarray(original, dtype=object)[idx] if not np.isscalar(original) else original, action)
        self.rejected[file] = self.rejected.get(file, 0) + len(idx)
        return df[~np.asarray(mask)].reset_index(drop=True)

    def unique_key(self, file, df, key):
        dup = df.duplicated(key, keep=False).to_numpy()
        if dup.any():
            rows = df.SRC_ROW.to_numpy()[dup][:2]
            raise DataError(file, int(rows[1]), ",".join(key), "unique key",
                            f"rows {rows[0]} and {rows[1]} share the key {df.loc[dup, key].iloc[0].tolist()}")

    # -- the run ------------------------------------------------------------------------
    def run(self) -> CleanResult:
        files = raw_files()
        raw = {}
        for f in files:
            raw[f] = read_raw(self.folder, f, self.log)
            validate_raw(f, raw[f])
        n_in = {f: len(raw[f]) for f in files}
        scr = raw["screening_log"]
        self.unique_key("screening_log", scr, ["SUBJID"])
        known = set(scr.SUBJID.astype(object))
        for f in files[1:]:
            orphan = ~raw[f].SUBJID.astype(object).isin(known).to_numpy()
            if orphan.any():
                i = np.flatnonzero(orphan)[0]
                raise DataError(f, int(raw[f].SRC_ROW.iloc[i]), "SUBJID", "subject in screening log",
                                f"{raw[f].SUBJID.iloc[i]!r} does not appear in screening_log.csv")

        # duplicate patients: the same ID-card number under two local ids
        sdays, sprec = self.dates("screening_log", scr, "SCREEN_DATE", complete=True, count=False)
        scr = scr.assign(_SCREEN=sdays, _SITE=scr.SITE_ID.astype(int))
        order = scr.sort_values(["_SCREEN", "_SITE", "SUBJID"], kind="stable")
        first = order.drop_duplicates("ID_CARD_NO", keep="first").set_index("ID_CARD_NO").SUBJID.astype(object)
        keep_of = scr.ID_CARD_NO.astype(object).map(first)
        dup_of = dict(zip(scr.SUBJID.astype(object)[keep_of != scr.SUBJID.astype(object)],
                          keep_of[keep_of != scr.SUBJID.astype(object)]))
        for f in files:
            df = raw[f]
            subj = df.SUBJID.astype(object)
            mask = subj.isin(dup_of).to_numpy()
            if mask.any():
                action = [f"row rejected: same patient (ID-card number) as {dup_of[s]}, screened first"
                          for s in subj[mask]]
                raw[f] = self.reject(f, df, mask, "SUBJID", "duplicate patient", subj.to_numpy(), action)
        scr = raw["screening_log"]
        scr = scr.assign(_SITE=scr.SITE_ID.astype(int)).sort_values(["_SITE", "SUBJID"], kind="stable")
        width = max(4, len(str(len(scr))))
        if self.subject_key is not None:  # a partition of a bigger extract: the global pseudonyms
            key = self.subject_key[self.subject_key.SUBJID.isin(set(scr.SUBJID.astype(object)))].reset_index(drop=True)
        else:
            key = pd.DataFrame({"SUBJID": scr.SUBJID.astype(object).to_numpy(),
                                "USUBJID": [f"APEC-{i:0{width}d}" for i in range(1, len(scr) + 1)],
                                "SITEID": scr._SITE.to_numpy()})
        usub = dict(zip(key.SUBJID, key.USUBJID))
        for f in ("demographics", "baseline_disease"):
            self.unique_key(f, raw[f], ["SUBJID"])
            missing = set(key.SUBJID) - set(raw[f].SUBJID.astype(object))
            if missing:
                raise DataError(f, None, "SUBJID", "one row per subject", f"no row for {sorted(missing)[0]}")

        T: dict[str, pd.DataFrame] = {}
        T["screening_log"] = self._screening(raw["screening_log"])
        T["exposure"] = self._exposure(raw["exposure"])
        trt = T["exposure"].groupby("SUBJID").agg(TRTSDT=("START_DATE", "min"), TRTEDT=("LAST_DOSE", "max"))
        T["tumour_assessments"] = self._tumour(raw["tumour_assessments"])
        T["follow_up"], death = self._follow_up(raw["follow_up"], trt, T)
        T["demographics"] = self._demographics(raw["demographics"])
        T["baseline_disease"] = self._disease(raw["baseline_disease"])
        T["metastatic_sites"] = self._simple_codes(raw["metastatic_sites"], "metastatic_sites")
        T["baseline_labs"] = self._labs(raw["baseline_labs"])
        T["prior_therapy"] = self._prior(raw["prior_therapy"], trt)
        T["adverse_events"] = self._aes(raw["adverse_events"], trt, death)
        T["subsequent_therapy"] = self._subsequent(raw["subsequent_therapy"], trt)

        ids = identifier_columns()
        for f, df in T.items():
            df = df.drop(columns=[c for c in ids.get(f, []) if c in df.columns])
            df.insert(1, "USUBJID", df.SUBJID.astype(object).map(usub).to_numpy())
            T[f] = df.drop(columns=["SUBJID"])
        recon = pd.DataFrame({"FILE": files, "RECORDS_IN": [n_in[f] for f in files],
                              "REJECTED": [self.rejected.get(f, 0) for f in files],
                              "KEPT": [len(T[f]) for f in files]})
        harm = pd.DataFrame(self.harm, columns=["FILE", "COLUMN", "RULE", "CELLS"])
        harm = harm[harm.CELLS > 0].groupby(["FILE", "COLUMN", "RULE"], as_index=False, sort=False).CELLS.sum()
        return CleanResult(T, self.log.frame(), harm.reset_index(drop=True), recon, key)

    # -- per file -----------------------------------------------------------------------
    def _screening(self, df):
        days, _ = self.dates("screening_log", df, "SCREEN_DATE", complete=True)
        return pd.DataFrame({"SRC_ROW": df.SRC_ROW, "SUBJID": self.s(df, "SUBJID"),
                             "SITEID": df.SITE_ID.astype(int), "SCREENDT": D.to_datetime(days)})

    def _exposure(self, df):
        f = "exposure"
        self.unique_key(f, df, ["SUBJID", "CYCLE", "DRUG"])
        start, _ = self.dates(f, df, "START_DATE", complete=True)
        end, _ = self.dates(f, df, "END_DATE", complete=True)
        drugs = M.map_drugs(df.DRUG, f, "DRUG", df.SRC_ROW.to_numpy())
        self.harm.append((f, "DRUG", "drug name -> INN", int((drugs.INN.to_numpy() != df.DRUG.astype(object).to_numpy()).sum())))
        cls = drugs.CLASS.to_numpy()
        bad = np.flatnonzero(~np.isin(cls, ["ANLOTINIB", "PD1", "PDL1"]))
        if len(bad):
            i = bad[0]
            raise DataError(f, int(df.SRC_ROW.iloc[i]), "DRUG", "study drug",
                            f"{df.DRUG.iloc[i]!r} ({drugs.INN.iloc[i]}) is not anlotinib or a PD-1/PD-L1 inhibitor")
        seq = np.flatnonzero((end != D.MISSING) & (end < start))
        if len(seq):
            i = seq[0]
            raise DataError(f, int(df.SRC_ROW.iloc[i]), "END_DATE", "end on/after start", "course ends before it starts")
        last = np.where(end == D.MISSING, start, end)
        return pd.DataFrame({
            "SRC_ROW": df.SRC_ROW, "SUBJID": self.s(df, "SUBJID"), "CYCLE": df.CYCLE.astype(int),
            "DRUG": drugs.INN.to_numpy(), "DRUG_CLASS": cls, "START_DATE": D.to_datetime(start),
            "END_DATE": D.to_datetime(end), "LAST_DOSE": D.to_datetime(last),
            "DOSE": self.number(f, df, "DOSE"), "DOSE_UNIT": self.s(df, "DOSE_UNIT"),
            "DOSE_CHANGE": self.s(df, "DOSE_CHANGE"), "EOT_REASON": self.s(df, "EOT_REASON")})

    def _tumour(self, df):
        f = "tumour_assessments"
        days, prec = self.dates(f, df, "ASSESS_DATE")
        days, flag = self.impute(f, df, "ASSESS_DATE", days, prec, "last")
        resp = self.s(df, "INV_RESPONSE")
        post = (df.VISIT.astype(object) != "Baseline").to_numpy()
        miss = np.flatnonzero(post & resp.isna().to_numpy())
        if len(miss):
            i = miss[0]
            raise DataError(f, int(df.SRC_ROW.iloc[i]), "INV_RESPONSE", "response at post-baseline visit",
                            "post-baseline assessment without an overall response")
        lo, hi = self.spec[f]["columns"]["TARGET_SUM_MM"]["range"]
        return pd.DataFrame({
            "SRC_ROW": df.SRC_ROW, "SUBJID": self.s(df, "SUBJID"), "VISIT": self.s(df, "VISIT"),
            "ASSESS_DATE": D.to_datetime(days), "ASSESS_DATE_F": flag,
            "TARGET_SUM_MM": self.number(f, df, "TARGET_SUM_MM", lo, hi), "NONTARGET": self.s(df, "NONTARGET"),
            "NEW_LESION": self.codes(f, df, "NEW_LESION", "YN"), "INV_RESPONSE": resp})

    def _follow_up(self, df, trt, T):
        f = "follow_up"
        contact, _ = self.dates(f, df, "CONTACT_DATE", complete=True)
        dd, dprec = self.dates(f, df, "DEATH_DATE")
        status = self.s(df, "STATUS").to_numpy()
        subj = self.s(df, "SUBJID").to_numpy()
        dead = status == "DEAD"
        if np.any(dead & (dd == D.MISSING)):
            i = np.flatnonzero(dead & (dd == D.MISSING))[0]
            raise DataError(f, int(df.SRC_ROW.iloc[i]), "DEATH_DATE", "death date on DEAD row", "DEAD without a death date")
        if np.any(~dead & (dd != D.MISSING)):
            i = np.flatnonzero(~dead & (dd != D.MISSING))[0]
            raise DataError(f, int(df.SRC_ROW.iloc[i]), "DEATH_DATE", "death date on DEAD row only", "death date on a non-DEAD row")
        dsub = pd.Series(subj[dead])
        if dsub.duplicated().any():
            s = dsub[dsub.duplicated()].iloc[0]
            i = np.flatnonzero(dead & (subj == s))[1]
            raise DataError(f, int(df.SRC_ROW.iloc[i]), "STATUS", "one death per subject", f"{s} has two DEAD rows")
        # death (first possible day) per subject; an ALIVE contact after it is an impossible sequence
        death_first = pd.Series(dd[dead], index=subj[dead])
        death_last = pd.Series(D.period_end(dd, dprec)[dead], index=subj[dead])
        dl = pd.Series(subj).map(death_last).fillna(D.MISSING).to_numpy(dtype=np.int64)
        after = (status == "ALIVE") & (dl != D.MISSING) & (contact > dl)
        if after.any():
            df2 = df.assign(_c=contact, _d=dd)
            keep = ~after
            df = self.reject(f, df2, after, "CONTACT_DATE", "impossible sequence", df.CONTACT_DATE.astype(object).to_numpy(),
                             "row rejected: ALIVE contact after the date of death")
            contact, dd, dprec = df._c.to_numpy(), df._d.to_numpy(), dprec[keep]
            status, subj = status[keep], subj[keep]
            dead = status == "DEAD"
        # last date known alive before death, from contacts, assessments and study drug
        ev = [pd.Series(contact[status == "ALIVE"], index=subj[status == "ALIVE"])]
        ta = T["tumour_assessments"]
        ev.append(pd.Series(D.day_numbers(ta.ASSESS_DATE), index=ta.SUBJID.to_numpy()))
        ex = T["exposure"]
        ev.append(pd.Series(D.day_numbers(ex.LAST_DOSE), index=ex.SUBJID.to_numpy()))
        alive = pd.concat(ev).groupby(level=0).max()
        lower = pd.Series(subj).map(alive).fillna(D.MISSING).to_numpy(dtype=np.int64)
        dd, dflag = self.impute(f, df, "DEATH_DATE", dd, dprec, "first", lower=np.where(dead, lower, D.MISSING),
                                why=", not before the last date known alive")
        trtsdt = D.day_numbers(pd.Series(subj).map(trt.TRTSDT))
        early = dead & (trtsdt != D.MISSING) & (dd < trtsdt)
        if early.any():
            i = np.flatnonzero(early)[0]
            raise DataError(f, int(df.SRC_ROW.iloc[i]), "DEATH_DATE", "death on/after first dose",
                            f"death {D.iso(dd[i:i + 1])[0]} before the first study dose")
        out = pd.DataFrame({"SRC_ROW": df.SRC_ROW.to_numpy(), "SUBJID": subj, "CONTACT_DATE": D.to_datetime(contact),
                            "STATUS": status, "DEATH_DATE": D.to_datetime(dd), "DEATH_DATE_F": dflag,
                            "DEATH_CAUSE": self.s(df, "DEATH_CAUSE").to_numpy()})
        death = out[out.STATUS == "DEAD"].set_index("SUBJID").DEATH_DATE
        return out, death

    def _demographics(self, df):
        f = "demographics"
        bd, bp = self.dates(f, df, "BIRTH_DATE")
        bd, bflag = self.impute(f, df, "BIRTH_DATE", bd, bp, "first")
        h = self.spec[f]["columns"]
        self.expect_present(f, df, EXPECTED_PRESENT[f])
        out = pd.DataFrame({"SRC_ROW": df.SRC_ROW, "SUBJID": self.s(df, "SUBJID"),
                            "BIRTH_DATE": D.to_datetime(bd), "BIRTH_DATE_F": bflag,
                            "SEX": self.codes(f, df, "SEX", "SEX"), "ECOG": df.ECOG.astype(int)})
        for c in YN[f]:
            out[c] = self.codes(f, df, c, "YN")
        out["HEIGHT_CM"] = self.height_cm(f, df, *h["HEIGHT_CM"]["range"])
        out["WEIGHT_KG"] = self.number(f, df, "WEIGHT_KG", *h["WEIGHT_KG"]["range"])
        return out[["SRC_ROW", "SUBJID", "BIRTH_DATE", "BIRTH_DATE_F", "SEX", "ECOG", "SMOKING", "ALCOHOL",
                    "HEIGHT_CM", "WEIGHT_KG", "PREGNANT"]]

    def _disease(self, df):
        f = "baseline_disease"
        dx, dp = self.dates(f, df, "DIAGNOSIS_DATE")
        dx, dflag = self.impute(f, df, "DIAGNOSIS_DATE", dx, dp, "first")
        rs, rp = self.dates(f, df, "RESECTION_DATE")
        rs, rflag = self.impute(f, df, "RESECTION_DATE", rs, rp, "first")
        out = pd.DataFrame({"SRC_ROW": df.SRC_ROW, "SUBJID": self.s(df, "SUBJID"),
                            "DIAGNOSIS_DATE": D.to_datetime(dx), "DIAGNOSIS_DATE_F": dflag,
                            "HISTOLOGY": self.s(df, "HISTOLOGY"), "PRIMARY_SITE": self.s(df, "PRIMARY_SITE"),
                            "DISEASE_STATUS": self.s(df, "DISEASE_STATUS"),
                            "RESECTION_DATE": D.to_datetime(rs), "RESECTION_DATE_F": rflag,
                            "PDL1_CPS": self.number(f, df, "PDL1_CPS", *self.spec[f]["columns"]["PDL1_CPS"]["range"]),
                            "BRAIN_METASTASIS": self.s(df, "BRAIN_METASTASIS")})
        for c in YN[f]:
            out[c] = self.codes(f, df, c, "YN")
        return out

    def _simple_codes(self, df, f):
        out = df.copy()
        for c in out.columns:
            if c != "SRC_ROW":
                out[c] = self.s(df, c)
        return out

    def _labs(self, df):
        f = "baseline_labs"
        days, _ = self.dates(f, df, "LAB_DATE", complete=True)
        val = self.number(f, df, "RESULT")
        fac, si_unit = M.si_factor(df.LAB_TEST.astype(object), df.UNIT.astype(object), f, df.SRC_ROW.to_numpy())
        si = np.round(val * fac, 6)
        self.harm.append((f, "RESULT", "unit -> SI", int((fac != 1).sum())))
        ranges = self.spec[f]["ranges_si"]
        test = df.LAB_TEST.astype(object).to_numpy()
        lo = np.array([ranges[t][0] for t in test], dtype=float)
        hi = np.array([ranges[t][1] for t in test], dtype=float)
        bad = np.flatnonzero(~np.isnan(si) & ((si < lo) | (si > hi)))
        if len(bad):
            self.log.add(f, df.SRC_ROW.to_numpy()[bad], df.SUBJID.astype(object).to_numpy()[bad], "RESULT", "out of range",
                         df.RESULT.astype(object).to_numpy()[bad],
                         [f"set to missing (allowed {lo[i]:g}-{hi[i]:g} {si_unit.iloc[i]}); site to confirm" for i in bad])
            si[bad] = np.nan
        return pd.DataFrame({"SRC_ROW": df.SRC_ROW, "SUBJID": self.s(df, "SUBJID"), "LAB_DATE": D.to_datetime(days),
                             "LAB_TEST": test, "RESULT_SI": si, "UNIT_SI": si_unit.to_numpy(),
                             "RESULT_RAW": val, "UNIT_RAW": self.s(df, "UNIT")})

    def _prior(self, df, trt):
        f = "prior_therapy"
        drugs = M.map_drugs(df.REGIMEN, f, "REGIMEN", df.SRC_ROW.to_numpy())
        self.harm.append((f, "REGIMEN", "drug name -> INN", int((drugs.INN.to_numpy() != df.REGIMEN.astype(object).to_numpy()).sum())))
        upper = D.shift(self.subject_days(df, trt.TRTSDT), -1)
        s, sp = self.dates(f, df, "START_DATE")
        s, sflag = self.impute(f, df, "START_DATE", s, sp, "first")
        e, ep = self.dates(f, df, "END_DATE")
        e, eflag = self.impute(f, df, "END_DATE", e, ep, "last", upper=upper, why=", before the first study dose")
        p, pp = self.dates(f, df, "PD_DATE")
        p, pflag = self.impute(f, df, "PD_DATE", p, pp, "first", upper=upper, why=", before the first study dose")
        line = pd.to_numeric(df.LINE.astype(object)).to_numpy(dtype=float)
        return pd.DataFrame({"SRC_ROW": df.SRC_ROW, "SUBJID": self.s(df, "SUBJID"), "SETTING": self.s(df, "SETTING"),
                             "LINE": line, "REGIMEN": drugs.INN.to_numpy(), "REGIMEN_CLASS": drugs.CLASS.to_numpy(),
                             "HAS_ICI": drugs.HAS_ICI.to_numpy(dtype=bool), "HAS_ANLOTINIB": drugs.HAS_ANLOTINIB.to_numpy(dtype=bool),
                             "START_DATE": D.to_datetime(s), "START_DATE_F": sflag,
                             "END_DATE": D.to_datetime(e), "END_DATE_F": eflag,
                             "PD_DATE": D.to_datetime(p), "PD_DATE_F": pflag,
                             "BEST_RESPONSE": self.s(df, "BEST_RESPONSE"), "STOP_REASON": self.s(df, "STOP_REASON")})

    def _aes(self, df, trt, death):
        f = "adverse_events"
        terms = M.map_ae_terms(df.AE_VERBATIM, f, df.SRC_ROW.to_numpy())
        self.harm.append((f, "AE_VERBATIM", "verbatim -> CTCAE v5 term",
                          int((terms.AEDECOD.to_numpy() != df.AE_VERBATIM.astype(object).to_numpy()).sum())))
        subj = df.SUBJID.astype(object)
        trtsdt, dth = self.subject_days(df, trt.TRTSDT), self.subject_days(df, death)
        s, sp = self.dates(f, df, "START_DATE")
        e, ep = self.dates(f, df, "END_DATE")
        s_imp, sflag = self.impute(f, df, "START_DATE", s, sp, "first", lower=trtsdt, upper=dth,
                                   why=", not before the first dose nor after death")
        e_imp, eflag = self.impute(f, df, "END_DATE", e, ep, "last", upper=dth, why=", not after death")
        # AE end before start (both as collected): impossible -> end unknown
        complete = (sp == D.FULL) & (ep == D.FULL)
        bad = np.flatnonzero(complete & (e < s))
        if len(bad):
            self.log.add(f, df.SRC_ROW.to_numpy()[bad], subj.to_numpy()[bad], "END_DATE", "impossible sequence",
                         df.END_DATE.astype(object).to_numpy()[bad], "end date before start date: end set to missing")
            e_imp[bad] = D.MISSING
            eflag[bad] = ""
        lo, hi = 1, 5
        grade = df.CTCAE_GRADE.astype(int).to_numpy()
        rel = {c: self.s(df, c) for c in ("REL_ANLOTINIB", "REL_PD1")}
        return pd.DataFrame({
            "SRC_ROW": df.SRC_ROW, "SUBJID": self.s(df, "SUBJID"), "AE_VERBATIM": self.s(df, "AE_VERBATIM"),
            "AEDECOD": terms.AEDECOD.to_numpy(), "AESOC": terms.AESOC.to_numpy(), "AEIRFL": terms.AEIRFL.to_numpy(),
            "START_DATE": D.to_datetime(s_imp), "START_DATE_F": sflag, "END_DATE": D.to_datetime(e_imp),
            "END_DATE_F": eflag, "CTCAE_GRADE": np.clip(grade, lo, hi), "REL_ANLOTINIB": rel["REL_ANLOTINIB"],
            "REL_PD1": rel["REL_PD1"], **{c: self.codes(f, df, c, "YN") for c in YN[f] if c != "SERIOUS"},
            "SERIOUS": self.codes(f, df, "SERIOUS", "YN"),
            "ACTION_TAKEN": self.s(df, "ACTION_TAKEN"), "OUTCOME": self.s(df, "OUTCOME")})

    def _subsequent(self, df, trt):
        f = "subsequent_therapy"
        drugs = M.map_drugs(df.THERAPY, f, "THERAPY", df.SRC_ROW.to_numpy())
        self.harm.append((f, "THERAPY", "drug name -> INN", int((drugs.INN.to_numpy() != df.THERAPY.astype(object).to_numpy()).sum())))
        lower = D.shift(self.subject_days(df, trt.TRTEDT), 1)
        s, sp = self.dates(f, df, "START_DATE")
        s, sflag = self.impute(f, df, "START_DATE", s, sp, "first", lower=lower, why=", after the last study dose")
        return pd.DataFrame({"SRC_ROW": df.SRC_ROW, "SUBJID": self.s(df, "SUBJID"), "THERAPY": drugs.INN.to_numpy(),
                             "THERAPY_CLASS": drugs.CLASS.to_numpy(), "START_DATE": D.to_datetime(s), "START_DATE_F": sflag})


def clean_extract(folder: Path | None = None, subject_key: pd.DataFrame | None = None) -> CleanResult:
    """Clean ``folder`` (default ``data/raw``); see the module docstring for the rules.
    ``subject_key`` (SUBJID, USUBJID, SITEID) fixes the pseudonyms when ``folder`` is one
    partition of a bigger extract (:mod:`apec_sar.scale`)."""
    from ..paths import raw_dir
    return _Cleaner(Path(folder or raw_dir()), subject_key).run()


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
