"""The corruption battery: realistic corruptions of the committed extract, one at a time, each with
its exact outcome -- the run stops on a named rule, file, row and column, or the query log gains
exactly the named queries -- and with the analysis either unchanged or changed only as the logged
action says (analysed N, events per time-to-event parameter, row count of every derived dataset).

Targets are chosen by content ("the first AE of the patient with most AEs"), never by row number,
so the battery survives a regenerated extract; the expected row is computed from the target.
Cleaning and derivation run in-process on a copy of data/raw (no re-lock needed).
"""

from __future__ import annotations

import datetime as dt
import shutil
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pytest

from apec_sar.clean import DataError, clean_extract
from apec_sar.derive import derive_all
from apec_sar.dictionary import load_dictionary

from .conftest import ROOT

CUTOFF = dt.date(2022, 7, 3)
DATASETS = ("adsl", "adrs", "adtr", "adtte", "adae", "adex")


# --- the clean baseline ----------------------------------------------------------------------------

def fingerprint(d) -> dict:
    adsl, adtte = d.datasets["adsl"], d.datasets["adtte"]
    fp = {"N": int((adsl.EFFFL == "Y").sum())}
    fp.update({f"events {p}": int((g.CNSR == 0).sum()) for p, g in adtte.groupby("PARAMCD")})
    fp.update({f"rows {n}": len(d.datasets[n]) for n in DATASETS})
    return fp


@dataclass
class Base:
    clean: object
    derived: object
    fp: dict
    raw: dict[str, pd.DataFrame]
    usubjid: dict[str, str]                      # site id -> pseudonym

    def analysed(self) -> list[str]:
        """Site ids of the analysed patients, in site order."""
        adsl = self.derived.datasets["adsl"]
        ids = set(adsl.USUBJID[adsl.EFFFL == "Y"])
        return [s for s, u in self.usubjid.items() if u in ids]

    def quiet(self) -> list[str]:
        """Analysed patients without any query on the clean extract, not the patient reported twice."""
        q = set(self.clean.queries.SUBJID.dropna()) | set(duplicate_pair(self))
        return [s for s in self.analysed() if s not in q]

    def never_died(self) -> list[str]:
        """Analysed patients with no death in the follow-up log (at any date)."""
        fu = self.raw["follow_up"]
        dead = set(fu.SUBJID[fu.STATUS == "DEAD"])
        return [s for s in self.analysed() if s not in dead]

    def adsl(self, subjid: str) -> pd.Series:
        a = self.derived.datasets["adsl"].set_index("USUBJID")
        return a.loc[self.usubjid[subjid]]

    def rows_of(self, subjid: str) -> dict:
        """The patient's rows in each analysis dataset and events per parameter (what leaves
        the analysis with the patient)."""
        u = self.usubjid[subjid]
        out = {f"rows {n}": int((self.derived.datasets[n].USUBJID == u).sum()) for n in DATASETS if n != "adsl"}
        t = self.derived.datasets["adtte"]
        t = t[(t.USUBJID == u) & (t.CNSR == 0)]
        out.update({f"events {p}": len(g) for p, g in t.groupby("PARAMCD")})
        return out


def site_date(subjid: str, when) -> str:
    """A date written as the patient's site writes dates (data dictionary conventions)."""
    fmt = load_dictionary()["sites"][int(subjid[1:3])]["date_format"]
    t = pd.Timestamp(when)
    serial = (t - pd.Timestamp("1899-12-30")).days
    excel = str(serial) if serial >= 10000 else t.strftime("%Y-%m-%d")      # old dates typed as text
    return {"iso": t.strftime("%Y-%m-%d"), "slash": f"{t.year}/{t.month}/{t.day}", "dot": t.strftime("%Y.%m.%d"),
            "cjk": f"{t.year}年{t.month}月{t.day}日", "excel": excel}[fmt]


def read(folder: Path, f: str) -> pd.DataFrame:
    return pd.read_csv(folder / f"{f}.csv", dtype=str, keep_default_na=False, encoding="utf-8")


@pytest.fixture(scope="module")
def base() -> Base:
    clean = clean_extract(ROOT / "data" / "raw")
    d = derive_all(clean, CUTOFF)
    raw = {f: read(ROOT / "data" / "raw", f) for f in clean.tables}
    return Base(clean, d, fingerprint(d), raw, dict(zip(clean.subject_key.SUBJID, clean.subject_key.USUBJID)))


# --- corrupting a copy ------------------------------------------------------------------------------

class Raw:
    """A copy of data/raw to corrupt. Rows are 1-based data rows (header not counted)."""

    def __init__(self, folder: Path, base: Base):
        self.folder, self.base = folder, base

    def df(self, f: str) -> pd.DataFrame:
        return read(self.folder, f)

    def write(self, f: str, df: pd.DataFrame) -> None:
        df.to_csv(self.folder / f"{f}.csv", index=False, lineterminator="\n", encoding="utf-8")

    def set(self, f: str, row: int, col: str, value: str) -> None:
        df = self.df(f)
        df.loc[row - 1, col] = value
        self.write(f, df)

    def get(self, f: str, row: int, col: str) -> str:
        return self.df(f).loc[row - 1, col]

    def append(self, f: str, row: int, **changes) -> int:
        """Append a copy of ``row`` (with changes) at the end; returns the new row's number."""
        df = self.df(f)
        new = df.iloc[[row - 1]].copy()
        for c, v in changes.items():
            new[c] = v
        self.write(f, pd.concat([df, new], ignore_index=True))
        return len(df) + 1

    def drop_subject(self, f: str, subjid: str) -> None:
        df = self.df(f)
        self.write(f, df[df.SUBJID != subjid])

    def lines(self, f: str) -> list[str]:
        return (self.folder / f"{f}.csv").read_text(encoding="utf-8").splitlines()

    def write_lines(self, f: str, lines: list[str]) -> None:
        (self.folder / f"{f}.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")

    def rows(self, f: str, **where) -> list[int]:
        """Row numbers whose columns equal the given values."""
        df = self.df(f)
        m = pd.Series(True, index=df.index)
        for c, v in where.items():
            m &= df[c] == v
        return [i + 1 for i in df.index[m]]


@dataclass
class Stop:
    check: str
    file: str
    row: int | None
    column: str | None


@dataclass
class Queries:
    """Expected new queries: {check id: {(file, row, column), ...}}; every other check keeps its
    count. ``delta``: the fingerprint's expected changes (all else unchanged)."""
    new: dict[str, set] = field(default_factory=dict)
    delta: dict[str, int] = field(default_factory=dict)
    action: str = ""                                  # a phrase every new query's action contains
    action_checks: tuple = ()                         # ...of these checks only (empty: of every check)


CASES = {}


def case(fn):
    CASES[fn.__name__] = fn
    return fn


# --- file level ---------------------------------------------------------------------------------------

@case
def gb18030_export(r: Raw, b: Base):
    text = (r.folder / "demographics.csv").read_text(encoding="utf-8")
    (r.folder / "demographics.csv").write_bytes(text.encode("gb18030"))
    df = b.raw["demographics"]
    for i, rec in df.iterrows():                    # the first cell whose GB18030 bytes are not UTF-8
        for c in df.columns:
            try:
                rec[c].encode("gb18030").decode("utf-8")
            except UnicodeDecodeError:
                return Stop("F02", "demographics", i + 1, c)


def _reencode(r: Raw, file: str, encoding: str) -> None:
    """A raw file exported in another encoding than UTF-8."""
    p = r.folder / f"{file}.csv"
    p.write_bytes(p.read_text(encoding="utf-8").encode(encoding))


@case
def utf16_export(r: Raw, b: Base):
    _reencode(r, "baseline_labs", "utf-16")
    return Stop("F02", "baseline_labs", None, None)


@case
def utf8_bom(r: Raw, b: Base):
    p = r.folder / "adverse_events.csv"
    p.write_bytes(b"\xef\xbb\xbf" + p.read_bytes())
    return Queries()


@case
def semicolon_delimiter(r: Raw, b: Base):
    r.write_lines("follow_up", [x.replace(",", ";") for x in r.lines("follow_up")])
    return Stop("F03", "follow_up", None, None)


@case
def tab_delimiter(r: Raw, b: Base):
    r.write_lines("metastatic_sites", [x.replace(",", "\t") for x in r.lines("metastatic_sites")])
    return Stop("F03", "metastatic_sites", None, None)


@case
def fully_quoted_file(r: Raw, b: Base):
    r.write_lines("exposure", [",".join(f'"{c}"' for c in x.split(",")) for x in r.lines("exposure")])
    return Queries()


@case
def trailing_space_in_header_names(r: Raw, b: Base):
    lines = r.lines("tumour_assessments")
    lines[0] = ",".join(c + " " for c in lines[0].split(","))
    r.write_lines("tumour_assessments", lines)
    return Queries()


@case
def windows_line_endings(r: Raw, b: Base):
    p = r.folder / "adverse_events.csv"
    p.write_bytes(p.read_bytes().replace(b"\n", b"\r\n"))
    return Queries()


@case
def decimal_comma_in_weight(r: Raw, b: Base):
    dm = b.raw["demographics"]
    row = int(dm.index[dm.WEIGHT_KG.str.contains(r"\.")][0]) + 1
    lines = r.lines("demographics")
    header = lines[0].split(",")
    cells = lines[row].split(",")
    cells[header.index("WEIGHT_KG")] = cells[header.index("WEIGHT_KG")].replace(".", ",")
    lines[row] = ",".join(cells)
    r.write_lines("demographics", lines)
    return Stop("F04", "demographics", row, "WEIGHT_KG")


@case
def decimal_comma_in_lab_result(r: Raw, b: Base):
    lab = b.raw["baseline_labs"]
    row = int(lab.index[lab.RESULT.str.contains(r"\.")][-1]) + 1
    lines = r.lines("baseline_labs")
    cells = lines[row].split(",")
    cells[3] = cells[3].replace(".", ",")                                   # RESULT
    lines[row] = ",".join(cells)
    r.write_lines("baseline_labs", lines)
    return Stop("F04", "baseline_labs", row, "RESULT")


@case
def missing_file(r: Raw, b: Base):
    (r.folder / "subsequent_therapy.csv").rename(r.folder / "Subsequent_Therapy.csv")
    return Stop("F01", "subsequent_therapy", None, None)


@case
def empty_file(r: Raw, b: Base):
    (r.folder / "metastatic_sites.csv").write_bytes(b"")
    return Stop("F05", "metastatic_sites", None, None)


@case
def header_only(r: Raw, b: Base):
    r.write_lines("subsequent_therapy", r.lines("subsequent_therapy")[:1])
    return Stop("F05", "subsequent_therapy", None, None)


@case
def folder_instead_of_a_file(r: Raw, b: Base):
    (r.folder / "subsequent_therapy.csv").unlink()
    (r.folder / "subsequent_therapy.csv").mkdir()
    return Stop("F01", "subsequent_therapy", None, None)


@case
def first_line_empty(r: Raw, b: Base):
    r.write_lines("subsequent_therapy", [""] + r.lines("subsequent_therapy"))
    return Stop("F05", "subsequent_therapy", None, None)


@case
def utf16_export_without_byte_order_mark(r: Raw, b: Base):
    _reencode(r, "demographics", "utf-16-le")
    return Stop("F02", "demographics", None, None)


@case
def two_columns_without_a_name(r: Raw, b: Base):
    r.write_lines("prior_therapy", [x + ",," for x in r.lines("prior_therapy")])
    return Stop("F07", "prior_therapy", None, "")


@case
def lower_case_column_name(r: Raw, b: Base):
    lines = r.lines("demographics")
    lines[0] = lines[0].replace("ECOG", "ecog")
    r.write_lines("demographics", lines)
    return Stop("F06", "demographics", None, "ECOG")


@case
def column_twice(r: Raw, b: Base):
    r.write_lines("metastatic_sites", [x + "," + x.split(",")[1] for x in r.lines("metastatic_sites")])
    return Stop("F07", "metastatic_sites", None, "MET_SITE")


@case
def extra_column(r: Raw, b: Base):
    lines = r.lines("prior_therapy")
    r.write_lines("prior_therapy", [lines[0] + ",COMMENT"] + [x + ",see chart" for x in lines[1:]])
    return Queries(new={"F08": {("prior_therapy", 0, "COMMENT")}})


@case
def blank_line_in_the_middle(r: Raw, b: Base):
    lines = r.lines("adverse_events")
    lines.insert(len(lines) // 2, "")
    r.write_lines("adverse_events", lines)
    return Queries()                  # row numbers after the blank line shift by one (checked below)


@case
def line_break_in_a_quoted_term(r: Raw, b: Base):
    row = r.rows("adverse_events", SUBJID=b.analysed()[2])[0]
    r.set("adverse_events", row, "AE_VERBATIM", "Rash\nsevere")     # written quoted, over two lines
    return Stop("F10", "adverse_events", row, "AE_VERBATIM")


@case
def line_break_in_a_quoted_subject_id(r: Raw, b: Base):
    """Identifier normalisation would remove the line break and the row would be kept: every
    later row's number would be its line number minus two."""
    row = r.rows("exposure", SUBJID=b.analysed()[3])[1]
    r.set("exposure", row, "SUBJID", b.analysed()[3][:4] + "\n" + b.analysed()[3][4:])
    return Stop("F10", "exposure", row, "SUBJID")


@case
def carriage_return_inside_a_row(r: Raw, b: Base):
    row = r.rows("adverse_events", SUBJID=b.analysed()[2])[0]
    lines = r.lines("adverse_events")
    cells = lines[row].split(",")
    k = lines[0].split(",").index("AE_VERBATIM")
    cells[k] = cells[k][:1] + "\r" + cells[k][1:]
    lines[row] = ",".join(cells)
    r.write_lines("adverse_events", lines)
    return Stop("F10", "adverse_events", row, "AE_VERBATIM")


@case
def old_mac_line_endings(r: Raw, b: Base):
    p = r.folder / "demographics.csv"
    p.write_bytes(p.read_bytes().replace(b"\n", b"\r"))
    return Stop("F10", "demographics", None, None)


# --- schema and mappings ---------------------------------------------------------------------------

@case
def impossible_calendar_date(r: Raw, b: Base):
    row = r.rows("adverse_events", SUBJID=b.analysed()[0])[0]
    r.set("adverse_events", row, "START_DATE", "2021-02-30")
    return Stop("S08", "adverse_events", row, "START_DATE")


@case
def text_in_a_date(r: Raw, b: Base):
    row = r.rows("exposure", SUBJID=b.analysed()[1])[1]
    r.set("exposure", row, "START_DATE", "see notes")
    return Stop("S06", "exposure", row, "START_DATE")


@case
def unknown_sex_code(r: Raw, b: Base):
    row = r.rows("demographics", SUBJID=b.analysed()[2])[0]
    r.set("demographics", row, "SEX", "U")
    return Stop("S02", "demographics", row, "SEX")


@case
def dose_with_its_unit(r: Raw, b: Base):
    row = r.rows("exposure", SUBJID=b.analysed()[3])[0]
    r.set("exposure", row, "DOSE", r.get("exposure", row, "DOSE") + "mg")
    return Stop("S05", "exposure", row, "DOSE")


@case
def ecog_out_of_scale(r: Raw, b: Base):
    row = r.rows("demographics", SUBJID=b.analysed()[4])[0]
    r.set("demographics", row, "ECOG", "7")
    return Stop("S04", "demographics", row, "ECOG")


@case
def assessment_date_missing(r: Raw, b: Base):
    row = r.rows("tumour_assessments", SUBJID=b.analysed()[5])[1]
    r.set("tumour_assessments", row, "ASSESS_DATE", "")
    return Stop("S01", "tumour_assessments", row, "ASSESS_DATE")


@case
def partial_study_drug_date(r: Raw, b: Base):
    s = b.analysed()[0]
    row = r.rows("exposure", SUBJID=s)[2]
    start = b.clean.tables["exposure"].set_index("SRC_ROW").START_DATE[row]
    r.set("exposure", row, "START_DATE", start.strftime("%Y-%m"))
    return Stop("S09", "exposure", row, "START_DATE")


@case
def malformed_subject_id(r: Raw, b: Base):
    s = b.analysed()[6]
    row = r.rows("screening_log", SUBJID=s)[0]
    r.set("screening_log", row, "SUBJID", s.replace("-", "_"))
    return Stop("S07", "screening_log", row, "SUBJID")


@case
def new_drug_spelling(r: Raw, b: Base):
    row = r.rows("exposure", SUBJID=b.analysed()[7])[0]
    r.set("exposure", row, "DRUG", "Anlotinib hydrochloride")
    return Stop("M02", "exposure", row, "DRUG")


@case
def new_ae_term(r: Raw, b: Base):
    row = r.rows("adverse_events", SUBJID=b.analysed()[8])[0]
    r.set("adverse_events", row, "AE_VERBATIM", "felt odd")
    return Stop("M03", "adverse_events", row, "AE_VERBATIM")


# --- identity -----------------------------------------------------------------------------------------

def duplicate_pair(b: Base) -> tuple[str, str]:
    """(kept, rejected) site ids of the patient reported twice."""
    q = b.clean.queries
    rej = q[(q.CHECK == "I04") & (q.FILE == "screening_log")]
    kept = rej.ACTION.iloc[0].split(" as ")[1].split(",")[0]
    return kept, rej.SUBJID.iloc[0]


@case
def two_patients_without_id_card_numbers(r: Raw, b: Base):
    a, c = [s for s in b.analysed() if s not in duplicate_pair(b)][0], b.quiet()[-1]
    ra, rc = r.rows("screening_log", SUBJID=a)[0], r.rows("screening_log", SUBJID=c)[0]
    r.set("screening_log", ra, "ID_CARD_NO", "")
    r.set("screening_log", rc, "ID_CARD_NO", "")
    return Queries(new={"I03": {("screening_log", ra, "ID_CARD_NO"), ("screening_log", rc, "ID_CARD_NO")}})


@case
def check_digit_x_and_X(r: Raw, b: Base):
    kept, rej = duplicate_pair(b)
    rk, rr = r.rows("screening_log", SUBJID=kept)[0], r.rows("screening_log", SUBJID=rej)[0]
    card = r.get("screening_log", rk, "ID_CARD_NO")[:17]
    r.set("screening_log", rk, "ID_CARD_NO", card + "X")
    r.set("screening_log", rr, "ID_CARD_NO", card + "x")
    return Queries()


@case
def full_width_and_spaced_id_card(r: Raw, b: Base):
    kept, rej = duplicate_pair(b)
    rr = r.rows("screening_log", SUBJID=rej)[0]
    card = r.get("screening_log", rr, "ID_CARD_NO")
    wide = "".join(chr(ord(ch) + 0xFEE0) for ch in card)
    r.set("screening_log", rr, "ID_CARD_NO", f" {wide[:6]} {wide[6:]} ")
    return Queries()


@case
def conflicting_birth_date_between_linked_records(r: Raw, b: Base):
    kept, rej = duplicate_pair(b)
    row = r.rows("demographics", SUBJID=rej)[0]
    r.set("demographics", row, "BIRTH_DATE", site_date(rej, b.adsl(kept).BIRTH_DATE + pd.DateOffset(years=10)))
    return Queries(new={"I05": {("demographics", row, "BIRTH_DATE")}}, action=f"from {kept} is kept")


@case
def conflicting_sex_between_linked_records(r: Raw, b: Base):
    kept, rej = duplicate_pair(b)
    row = r.rows("demographics", SUBJID=rej)[0]
    sex = r.get("demographics", row, "SEX")
    r.set("demographics", row, "SEX", {"M": "F", "F": "M", "男": "女", "女": "男", "1": "2", "2": "1"}[sex])
    return Queries(new={"I05": {("demographics", row, "SEX")}}, action=f"from {kept} is kept")


@case
def extra_ae_only_in_the_rejected_record(r: Raw, b: Base):
    kept, rej = duplicate_pair(b)
    ae = b.raw["adverse_events"]
    row = r.rows("adverse_events", SUBJID=rej)[0]
    other = ae.AE_VERBATIM[~ae.AE_VERBATIM.isin(ae.AE_VERBATIM[ae.SUBJID == rej])].iloc[0]
    new = r.append("adverse_events", row, AE_VERBATIM=other)
    return Queries(new={"I06": {("adverse_events", new, "SUBJID")}, "I04": {("adverse_events", new, "SUBJID")}})


@case
def mistyped_id_card_of_the_referral(r: Raw, b: Base):
    kept, rej = duplicate_pair(b)
    rr = r.rows("screening_log", SUBJID=rej)[0]
    card = r.get("screening_log", rr, "ID_CARD_NO")
    r.set("screening_log", rr, "ID_CARD_NO", card[:-1] + ("0" if card[-1] != "0" else "1"))
    # no longer linked: the patient is analysed twice, and the possible-duplicate query says so
    twice = {"N": 1, "rows adsl": 1, **b.rows_of(kept)}
    # the second record's death, if the first one's is queried as unexplained (C18), is queried too
    c18 = set()
    q = b.clean.queries
    if ((q.CHECK == "C18") & (q.SUBJID == kept)).any():
        fu = r.df("follow_up")
        c18 = {("follow_up", int(i) + 1, "DEATH_CAUSE") for i in fu.index[(fu.SUBJID == rej) & (fu.STATUS == "DEAD")]}
    return Queries(new={"I08": {("screening_log", rr, "ID_CARD_NO")}, "I04": set(), "C18": c18}, delta=twice,
                   action=f"same name, birth date and sex as {kept}", action_checks=("I08",))


@case
def lower_case_and_full_width_subject_ids(r: Raw, b: Base):
    s = b.analysed()[3]
    ae = r.df("adverse_events")
    rows = ae.index[ae.SUBJID == s]
    ae.loc[rows[0], "SUBJID"] = s.lower()
    ae.loc[rows[-1], "SUBJID"] = "".join(chr(ord(ch) + 0xFEE0) for ch in s)
    r.write("adverse_events", ae)
    return Queries()


@case
def subject_missing_from_the_screening_log(r: Raw, b: Base):
    row = r.rows("adverse_events", SUBJID=b.analysed()[9])[0]
    r.set("adverse_events", row, "SUBJID", "S08-999")
    return Stop("I02", "adverse_events", row, "SUBJID")


@case
def subject_id_of_spaces_only(r: Raw, b: Base):
    row = r.rows("follow_up", SUBJID=b.analysed()[9])[0]
    r.set("follow_up", row, "SUBJID", " \t ")
    return Stop("I02", "follow_up", row, "SUBJID")


# --- duplicates ---------------------------------------------------------------------------------------

def most(b: Base, f: str) -> str:
    """The analysed patient with most rows in ``f`` (first in site order on ties)."""
    counts = b.raw[f].SUBJID.value_counts()
    return max(b.analysed(), key=lambda s: (counts.get(s, 0), -b.analysed().index(s)))


@case
def exact_duplicate_ae(r: Raw, b: Base):
    row = r.rows("adverse_events", SUBJID=most(b, "adverse_events"))[0]
    new = r.append("adverse_events", row)
    return Queries(new={"K01": {("adverse_events", new, "SUBJID,AE_VERBATIM,START_DATE")}})


@case
def exact_duplicate_assessment(r: Raw, b: Base):
    row = r.rows("tumour_assessments", SUBJID=most(b, "tumour_assessments"))[1]
    new = r.append("tumour_assessments", row)
    return Queries(new={"K01": {("tumour_assessments", new, "SUBJID,ASSESS_DATE")}})


@case
def exact_duplicate_death(r: Raw, b: Base):
    row = r.rows("follow_up", SUBJID=next(s for s in b.analysed() if pd.notna(b.adsl(s).DTHDT)), STATUS="DEAD")[0]
    new = r.append("follow_up", row)
    return Queries(new={"K01": {("follow_up", new, "SUBJID,CONTACT_DATE,STATUS")}})


@case
def exact_duplicate_screening_record(r: Raw, b: Base):
    new = r.append("screening_log", r.rows("screening_log", SUBJID=b.analysed()[0])[0])
    return Queries(new={"K01": {("screening_log", new, "SUBJID")}})


@case
def same_course_under_another_drug_name(r: Raw, b: Base):
    ex = b.raw["exposure"]
    row = int(ex.index[(ex.SUBJID.isin(b.analysed())) & (ex.DRUG == "anlotinib")][0]) + 1
    new = r.append("exposure", row, DRUG="安罗替尼")
    return Queries(new={"K01": {("exposure", new, "SUBJID,CYCLE,DRUG")}})


@case
def same_ae_key_different_grade(r: Raw, b: Base):
    row = r.rows("adverse_events", SUBJID=most(b, "adverse_events"))[0]
    grade = r.get("adverse_events", row, "CTCAE_GRADE")
    r.append("adverse_events", row, CTCAE_GRADE="3" if grade != "3" else "2")
    return Stop("K02", "adverse_events", len(b.raw["adverse_events"]) + 1,
                "SUBJID,AE_VERBATIM,START_DATE,START_DATE_F")


@case
def same_assessment_date_different_response(r: Raw, b: Base):
    ta = b.raw["tumour_assessments"]
    row = int(ta.index[ta.SUBJID.isin(b.analysed()) & (ta.INV_RESPONSE == "SD")][0]) + 1
    r.append("tumour_assessments", row, INV_RESPONSE="PR")
    return Stop("K02", "tumour_assessments", len(ta) + 1, "SUBJID,ASSESS_DATE,ASSESS_DATE_F")


@case
def lab_test_twice_with_different_results(r: Raw, b: Base):
    lab = b.raw["baseline_labs"]
    row = int(lab.index[lab.SUBJID.isin(b.analysed()) & (lab.LAB_TEST == "PLT")][0]) + 1
    r.append("baseline_labs", row, RESULT="999")
    return Stop("K02", "baseline_labs", len(lab) + 1, "SUBJID,LAB_TEST")


@case
def exact_duplicate_metastatic_site(r: Raw, b: Base):
    new = r.append("metastatic_sites", r.rows("metastatic_sites", SUBJID=most(b, "metastatic_sites"))[0])
    return Queries(new={"K01": {("metastatic_sites", new, "SUBJID,MET_SITE")}})


# --- dates and plausibility -------------------------------------------------------------------------

def dead_patient(b: Base) -> str:
    """The first analysed patient (site order) who died before the cut-off with a complete death date."""
    return next(s for s in b.analysed() if pd.notna(b.adsl(s).DTHDT) and b.adsl(s).DTHDTF == "")


@case
def death_in_2099(r: Raw, b: Base):
    row = r.rows("follow_up", SUBJID=dead_patient(b), STATUS="DEAD")[0]
    r.set("follow_up", row, "DEATH_DATE", "2099-01-05")
    return Stop("D02", "follow_up", row, "DEATH_DATE")


@case
def ae_onset_in_2099(r: Raw, b: Base):
    row = r.rows("adverse_events", SUBJID=most(b, "adverse_events"), ACTION_TAKEN="None")[0]
    r.set("adverse_events", row, "START_DATE", "2099-03-01")
    r.set("adverse_events", row, "END_DATE", "")
    return Queries(new={"D02": {("adverse_events", row, "START_DATE")}}, action="counts as treatment-emergent")


@case
def ae_end_in_2099(r: Raw, b: Base):
    row = r.rows("adverse_events", SUBJID=most(b, "adverse_events"), ACTION_TAKEN="None")[1]
    r.set("adverse_events", row, "END_DATE", "2099-03-01")
    return Queries(new={"D02": {("adverse_events", row, "END_DATE")}}, action="counts as ongoing")


@case
def alive_contact_in_2099(r: Raw, b: Base):
    s = next(x for x in b.analysed() if pd.isna(b.adsl(x).DTHDT))
    row = r.rows("follow_up", SUBJID=s, STATUS="ALIVE")[-1]
    r.set("follow_up", row, "CONTACT_DATE", "2099-12-01")
    return Queries(new={"D02": {("follow_up", row, "CONTACT_DATE")}}, action="row rejected")


@case
def screening_in_2099(r: Raw, b: Base):
    s = b.analysed()[0]
    row = r.rows("screening_log", SUBJID=s)[0]
    r.set("screening_log", row, "SCREEN_DATE", site_date(s, "2099-01-01"))
    return Stop("D02", "screening_log", row, "SCREEN_DATE")


@case
def excel_serial_typo_puts_first_dose_before_birth(r: Raw, b: Base):
    s = next(x for x in b.analysed() if x.startswith("S06"))
    row = r.rows("exposure", SUBJID=s)[0]
    serial = r.get("exposure", row, "START_DATE")
    r.set("exposure", row, "START_DATE", "1" + serial[1:])             # 44260 -> 14260 (1939)
    return Stop("D03", "exposure", row, "START_DATE")


@case
def placeholder_birth_date(r: Raw, b: Base):
    s = b.quiet()[0]
    row = r.rows("demographics", SUBJID=s)[0]
    r.set("demographics", row, "BIRTH_DATE", site_date(s, "1900-01-01"))
    return Queries(new={"P02": {("demographics", row, "BIRTH_DATE")}}, action="stays in the analysis")


@case
def birth_date_ten_years_late_makes_a_minor(r: Raw, b: Base):
    s = b.quiet()[1]
    row = r.rows("demographics", SUBJID=s)[0]
    r.set("demographics", row, "BIRTH_DATE", site_date(s, b.adsl(s).TRTSDT - pd.DateOffset(years=15)))
    # no longer eligible, still treated: leaves the efficacy datasets, stays in the safety set (ADAE, ADEX)
    gone = {k: -v for k, v in b.rows_of(s).items() if k not in ("rows adae", "rows adex")}
    return Queries(new={"P02": {("demographics", row, "BIRTH_DATE")}}, action="excluded in the CONSORT flow",
                   delta={"N": -1, **gone})


@case
def target_sum_missing_a_digit(r: Raw, b: Base):
    ta = b.raw["tumour_assessments"]
    s = most(b, "tumour_assessments")
    rows = [i + 1 for i in ta.index[(ta.SUBJID == s) & (ta.TARGET_SUM_MM != "")]]
    row = rows[len(rows) // 2]
    r.set("tumour_assessments", row, "TARGET_SUM_MM", r.get("tumour_assessments", row, "TARGET_SUM_MM")[:-1])
    return Queries(new={"P03": {("tumour_assessments", row, "TARGET_SUM_MM")}})


@case
def dose_ten_times_prescribed(r: Raw, b: Base):
    ex = b.raw["exposure"]
    row = int(ex.index[ex.SUBJID.isin(b.analysed()) & (ex.DRUG == "anlotinib") & (ex.DOSE == "12")][0]) + 1
    r.set("exposure", row, "DOSE", "120")
    return Queries(new={"P04": {("exposure", row, "DOSE")}}, action="not in the cumulative dose")


@case
def pd1_dose_ten_times_prescribed(r: Raw, b: Base):
    ex = b.raw["exposure"]
    row = int(ex.index[ex.SUBJID.isin(b.analysed()) & (ex.DOSE == "200")][0]) + 1
    r.set("exposure", row, "DOSE", "2000")
    return Queries(new={"P04": {("exposure", row, "DOSE")}})


@case
def height_typed_in_metres(r: Raw, b: Base):
    row = r.rows("demographics", SUBJID=b.quiet()[2])[0]
    r.set("demographics", row, "HEIGHT_CM", "1.68")
    return Queries(new={"P06": {("demographics", row, "HEIGHT_CM")}}, action="converted to 168 cm")


@case
def partial_death_date(r: Raw, b: Base):
    s = dead_patient(b)
    row = r.rows("follow_up", SUBJID=s, STATUS="DEAD")[0]
    r.set("follow_up", row, "DEATH_DATE", b.adsl(s).DTHDT.strftime("%Y-%m"))
    return Queries(new={"D01": {("follow_up", row, "DEATH_DATE")}}, action="not before the last date known alive")


@case
def ae_ends_before_it_starts(r: Raw, b: Base):
    s = most(b, "adverse_events")
    row = r.rows("adverse_events", SUBJID=s, ACTION_TAKEN="None")[0]
    r.set("adverse_events", row, "END_DATE", site_date(s, "2000-01-01"))
    return Queries(new={"D04": {("adverse_events", row, "END_DATE")}}, action="end set to missing")


# --- cross-domain --------------------------------------------------------------------------------------

@case
def grade_5_for_a_patient_alive_and_recovered(r: Raw, b: Base):
    s = next(x for x in b.never_died() if (b.raw["adverse_events"].SUBJID == x).any())
    row = r.rows("adverse_events", SUBJID=s)[0]
    r.set("adverse_events", row, "CTCAE_GRADE", "5")
    return Stop("C02", "adverse_events", row, "CTCAE_GRADE")


@case
def fatal_outcome_below_grade_5(r: Raw, b: Base):
    s = next(x for x in b.analysed() if pd.notna(b.adsl(x).DTHDT) and (b.raw["adverse_events"].SUBJID == x).any())
    row = r.rows("adverse_events", SUBJID=s)[0]
    r.set("adverse_events", row, "OUTCOME", "Fatal")
    return Queries(new={"C03": {("adverse_events", row, "CTCAE_GRADE")}})


@case
def death_caused_by_an_ae_never_recorded(r: Raw, b: Base):
    row = r.rows("follow_up", SUBJID=dead_patient(b), STATUS="DEAD")[0]
    r.set("follow_up", row, "DEATH_CAUSE", "Adverse event")
    return Queries(new={"C04": {("follow_up", row, "DEATH_CAUSE")}})


@case
def study_drug_after_death(r: Raw, b: Base):
    s = dead_patient(b)
    death = b.adsl(s).DTHDT
    ex = r.df("exposure")
    row = int(ex.index[(ex.SUBJID == s) & (ex.END_DATE == "")][-1]) + 1          # a PD-1 infusion
    r.set("exposure", row, "START_DATE", site_date(s, death + pd.Timedelta(days=7)))
    return Stop("C05", "exposure", row, "START_DATE")


@case
def assessment_after_death(r: Raw, b: Base):
    s = dead_patient(b)
    row = r.rows("tumour_assessments", SUBJID=s)[-1]
    r.set("tumour_assessments", row, "ASSESS_DATE", site_date(s, b.adsl(s).DTHDT + pd.Timedelta(days=3)))
    return Stop("C05", "tumour_assessments", row, "ASSESS_DATE")


@case
def ae_dose_reduction_with_no_reduced_dose(r: Raw, b: Base):
    ex = b.raw["exposure"]
    reduced = set(ex.SUBJID[ex.DOSE_CHANGE == "Reduced"])
    ae = b.raw["adverse_events"]
    s = next(x for x in b.analysed() if x not in reduced and ((ae.SUBJID == x) & (ae.ACTION_TAKEN == "None")).any())
    row = int(ae.index[(ae.SUBJID == s) & (ae.ACTION_TAKEN == "None")][0]) + 1
    r.set("adverse_events", row, "ACTION_TAKEN", "Dose reduced")
    return Queries(new={"C06": {("adverse_events", row, "ACTION_TAKEN")}})


@case
def dose_reduction_with_no_ae_and_no_lower_dose(r: Raw, b: Base):
    ex = b.raw["exposure"]
    s = next(x for x in b.quiet() if ((ex.SUBJID == x) & (ex.DRUG == "anlotinib")).sum() >= 2)
    row = int(ex.index[(ex.SUBJID == s) & (ex.DRUG == "anlotinib")][1]) + 1
    r.set("exposure", row, "DOSE_CHANGE", "Reduced")
    return Queries(new={"C07": {("exposure", row, "DOSE_CHANGE")}, "C08": {("exposure", row, "DOSE_CHANGE")}})


@case
def dose_lowered_without_the_reduced_flag(r: Raw, b: Base):
    ex = b.raw["exposure"]
    s = next(x for x in b.analysed() if ((ex.SUBJID == x) & (ex.DRUG == "anlotinib")).sum() >= 2 and
             (ex[(ex.SUBJID == x) & (ex.DRUG == "anlotinib")].DOSE == "12").all())
    rows = [i + 1 for i in ex.index[(ex.SUBJID == s) & (ex.DRUG == "anlotinib")]]
    r.set("exposure", rows[-1], "DOSE", "10")
    return Queries(new={"C08": {("exposure", rows[-1], "DOSE")}})


@case
def eot_toxicity_without_a_withdrawal_ae(r: Raw, b: Base):
    ex = b.raw["exposure"]
    s = next(x for x in b.quiet() if ((ex.SUBJID == x) & (ex.EOT_REASON == "Progressive disease")).any())
    rows = [i + 1 for i in ex.index[(ex.SUBJID == s) & (ex.EOT_REASON != "")]]
    for row in rows:
        r.set("exposure", row, "EOT_REASON", "Toxicity")
    return Queries(new={"C09": {("exposure", rows[0], "EOT_REASON")}})


def set_end_of_treatment(r: Raw, b: Base, s: str, reason: str) -> int:
    """Give patient ``s`` the end-of-treatment ``reason`` (on the rows carrying one, else on the
    last administration); returns the first row carrying it."""
    ex = b.raw["exposure"]
    assert not ((ex.SUBJID == s) & (ex.EOT_REASON == "Toxicity")).any()      # would take a C09 query away
    rows = [i + 1 for i in ex.index[(ex.SUBJID == s) & (ex.EOT_REASON != "")]]
    rows = rows or [int(ex.index[ex.SUBJID == s][-1]) + 1]
    for row in rows:
        r.set("exposure", row, "EOT_REASON", reason)
    return rows[0]


@case
def eot_death_for_a_patient_alive(r: Raw, b: Base):
    s = b.never_died()[0]
    row = set_end_of_treatment(r, b, s, "Death")
    return Queries(new={"C10": {("exposure", row, "EOT_REASON")}})


@case
def eot_progression_without_a_pd_assessment(r: Raw, b: Base):
    ta = b.raw["tumour_assessments"]
    pd_subjects = set(ta.SUBJID[ta.INV_RESPONSE == "PD"])
    ex = b.raw["exposure"]
    toxicity = set(ex.SUBJID[ex.EOT_REASON == "Toxicity"])
    treated = [x for x in b.usubjid if (ex.SUBJID == x).any() and x not in toxicity]
    s = next(x for x in treated if x not in pd_subjects)          # every analysed patient has a PD: any patient
    row = set_end_of_treatment(r, b, s, "Progressive disease")
    return Queries(new={"C11": {("exposure", row, "EOT_REASON")}})


@case
def withdrawal_ae_while_dosing_continues(r: Raw, b: Base):
    ae = b.raw["adverse_events"]
    s = most(b, "adverse_events")
    row = int(ae.index[(ae.SUBJID == s) & (ae.ACTION_TAKEN == "None")][0]) + 1
    r.set("adverse_events", row, "ACTION_TAKEN", "Drug withdrawn")
    return Queries(new={"C12": {("adverse_events", row, "ACTION_TAKEN")}})


def baseline_scan(b: Base, s: str) -> pd.Timestamp:
    adtr = b.derived.datasets["adtr"]
    return adtr[(adtr.USUBJID == b.usubjid[s]) & (adtr.ABLFL == "Y")].ADT.iloc[0]


def first_visit(b: Base, s: str, response: str | None = None) -> int:
    ta = b.raw["tumour_assessments"]
    m = (ta.SUBJID == s) & (ta.VISIT != "Baseline")
    if response:
        m &= ta.INV_RESPONSE == response
    return int(ta.index[m][0]) + 1


@case
def progression_dated_before_the_first_dose(r: Raw, b: Base):
    ta = b.raw["tumour_assessments"]
    s = next(x for x in b.analysed() if ((ta.SUBJID == x) & (ta.INV_RESPONSE == "PD")).any())
    row = first_visit(b, s, "PD")
    r.set("tumour_assessments", row, "ASSESS_DATE", site_date(s, baseline_scan(b, s) - pd.Timedelta(days=1)))
    return Stop("C13", "tumour_assessments", row, "ASSESS_DATE")


@case
def stable_disease_dated_before_the_first_dose(r: Raw, b: Base):
    ta = b.raw["tumour_assessments"]
    s = next(x for x in b.analysed() if ((ta.SUBJID == x) & (ta.INV_RESPONSE == "SD")).sum() >= 2)
    row = first_visit(b, s, "SD")
    r.set("tumour_assessments", row, "ASSESS_DATE", site_date(s, baseline_scan(b, s) - pd.Timedelta(days=1)))
    return Queries(new={"C14": {("tumour_assessments", row, "ASSESS_DATE")}}, action="not used for response")


@case
def baseline_scan_after_the_first_dose(r: Raw, b: Base):
    s = b.analysed()[0]
    row = r.rows("tumour_assessments", SUBJID=s, VISIT="Baseline")[0]
    r.set("tumour_assessments", row, "ASSESS_DATE", site_date(s, b.adsl(s).TRTSDT + pd.Timedelta(days=1)))
    return Queries(new={"C14": {("tumour_assessments", row, "ASSESS_DATE")}}, action="kept as baseline")


@case
def new_therapy_before_the_last_dose(r: Raw, b: Base):
    sub = b.raw["subsequent_therapy"]
    s = next(x for x in b.analysed() if (sub.SUBJID == x).any())
    row = r.rows("subsequent_therapy", SUBJID=s)[0]
    r.set("subsequent_therapy", row, "START_DATE", site_date(s, b.adsl(s).TRTEDT - pd.Timedelta(days=1)))
    return Queries(new={"C15": {("subsequent_therapy", row, "START_DATE")}}, delta=None)


@case
def diagnosis_after_the_first_dose(r: Raw, b: Base):
    s = b.analysed()[0]
    r.set("baseline_disease", r.rows("baseline_disease", SUBJID=s)[0], "DIAGNOSIS_DATE",
          site_date(s, b.adsl(s).TRTSDT + pd.Timedelta(days=30)))
    ex = b.raw["exposure"]
    return Stop("C16", "exposure", int(ex.index[ex.SUBJID == s][0]) + 1, "START_DATE")


@case
def second_baseline_scan(r: Raw, b: Base):
    s = most(b, "tumour_assessments")
    row = r.rows("tumour_assessments", SUBJID=s, VISIT="Baseline")[0]
    new = r.append("tumour_assessments", row, ASSESS_DATE=site_date(s, baseline_scan(b, s) - pd.Timedelta(days=20)))
    return Queries(new={"C17": {("tumour_assessments", new, "ASSESS_DATE")}}, delta={"rows adtr": 1})


# --- whole domains missing ------------------------------------------------------------------------------

@case
def patient_without_tumour_assessments(r: Raw, b: Base):
    adtte = b.derived.datasets["adtte"]
    pfs = adtte[adtte.PARAMCD == "PFS"].set_index("USUBJID")
    bor = b.derived.datasets["adrs"]
    bor = bor[bor.PARAMCD == "BOR"].set_index("USUBJID").AVALC
    # censored for PFS and not a responder: no event, no DOR/TTR record to lose
    s = next(x for x in b.analysed() if pfs.loc[b.usubjid[x], "CNSR"] != 0 and bor[b.usubjid[x]] not in ("CR", "PR"))
    r.drop_subject("tumour_assessments", s)
    gone = b.rows_of(s)
    rows = {k: -v for k, v in gone.items() if k in ("rows adrs", "rows adtr")}
    adrs = b.derived.datasets["adrs"]
    rows["rows adrs"] += adrs[adrs.PARAMCD != "OVR"].PARAMCD.nunique()         # the per-patient BOR-type rows stay (MISSING)
    new = {"X02": {("tumour_assessments", 0, "SUBJID")}}
    ex = b.raw["exposure"]
    eot = ex[(ex.SUBJID == s) & (ex.EOT_REASON != "")]
    if (eot.EOT_REASON == "Progressive disease").any():                          # its PD is gone with the scans
        new["C11"] = {("exposure", int(eot.index[0]) + 1, "EOT_REASON")}
    return Queries(new=new, delta=rows)


@case
def patient_without_exposure(r: Raw, b: Base):
    s = b.quiet()[-1]
    r.drop_subject("exposure", s)
    gone = {k: -v for k, v in b.rows_of(s).items()}
    return Queries(new={"X01": {("exposure", 0, "SUBJID")}}, delta={"N": -1, **gone}, action="inclusion 5 fails")


# --- running a case ---------------------------------------------------------------------------------------

def test_the_battery_is_big_enough():
    assert len(CASES) >= 50


def data_rows(folder: Path, f: str) -> int:
    """Data rows of a raw file as a person counts them (non-blank lines after the header)."""
    p = folder / f"{f}.csv"
    if not p.is_file():
        return 0
    return sum(1 for line in p.read_bytes().splitlines()[1:] if line.strip())


@pytest.mark.parametrize("name", sorted(CASES))
def test_corruption(name, base, tmp_path):
    folder = tmp_path / "raw"
    shutil.copytree(ROOT / "data" / "raw", folder)
    expect = CASES[name](Raw(folder, base), base)
    if isinstance(expect, Stop):
        with pytest.raises(DataError) as e:
            clean_extract(folder)
        err = e.value
        assert (err.check, err.file, err.row, err.column) == (expect.check, expect.file, expect.row, expect.column), \
            str(err)
        msg = str(err)
        assert msg.startswith(f"data/raw/{expect.file}.csv") and "What to do: " in msg
        return
    clean = clean_extract(folder)
    d = derive_all(clean, CUTOFF)
    q, q0 = clean.queries, base.clean.queries
    for check, cells in expect.new.items():
        got = set(zip(q.FILE[q.CHECK == check], q.ROW[q.CHECK == check], q.COLUMN[q.CHECK == check]))
        old = set(zip(q0.FILE[q0.CHECK == check], q0.ROW[q0.CHECK == check], q0.COLUMN[q0.CHECK == check]))
        assert got - old == cells, check
        if expect.action and (not expect.action_checks or check in expect.action_checks):
            new = q[(q.CHECK == check) & pd.Series(list(zip(q.FILE, q.ROW, q.COLUMN))).isin(cells).to_numpy()]
            assert new.ACTION.str.contains(expect.action, regex=False).all(), new.ACTION.tolist()
    others = Counter(q.CHECK[~q.CHECK.isin(list(expect.new))])
    assert others == Counter(q0.CHECK[~q0.CHECK.isin(list(expect.new))])
    # nothing silently dropped: every raw row kept or rejected by a query, as a person counts rows
    recon = clean.reconciliation.set_index("FILE")
    for f in recon.index:
        assert recon.loc[f, "RECORDS_IN"] == data_rows(folder, f), f
    assert (d.reconciliation.RECONCILES == "yes").all()
    if expect.delta is None:          # the analysis changes; the query says why (checked above)
        return
    want = {k: v + expect.delta.get(k, 0) for k, v in base.fp.items()}
    assert fingerprint(d) == want


def test_blank_line_keeps_the_file_line_numbers(base, tmp_path):
    folder = tmp_path / "raw"
    shutil.copytree(ROOT / "data" / "raw", folder)
    lines = (folder / "adverse_events.csv").read_text(encoding="utf-8").splitlines()
    at = len(lines) // 2
    lines.insert(at, "")
    (folder / "adverse_events.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    clean = clean_extract(folder)
    before = base.clean.tables["adverse_events"].SRC_ROW.to_numpy()
    after = clean.tables["adverse_events"].SRC_ROW.to_numpy()
    assert list(after) == [r + (r >= at) for r in before]
