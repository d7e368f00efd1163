"""The registry of data checks: one entry per rule, with what it looks for and what happens.

Every query-log entry and every :class:`~apec_sar.clean.errors.DataError` names a rule of this
registry (the query log's ``RULE`` column holds the rule name, ``CHECK`` its id), so the SAR's
data-handling appendix can list the checks and group the queries by rule. A rule that is not
registered cannot be logged (``check_of`` raises), which keeps the registry complete.

Outcomes: ``stop`` (the run stops with a DataError naming file, row, column, rule, the value and
what to do: no honest analysis can continue), ``query`` (a query-log entry; the action says
what was done to the data), ``harmonise`` (a site convention converted to the canonical form,
counted in the harmonisation summary; no value's meaning changes).
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

RELOCK = "re-export the file, replace it in data/raw and re-lock the extract (make relock)"
RELOCK_ONLY = "re-lock the extract (make relock)"


@dataclass(frozen=True)
class Check:
    id: str
    rule: str
    cls: str
    looks_for: str
    outcome: str
    action: str
    todo: str = ""


CHECKS: tuple[Check, ...] = (
    # -- files and CSV structure ---------------------------------------------------------------
    Check("F01", "file present", "File", "every file of the data dictionary exists in data/raw", "stop",
          "", "put the domain's export in data/raw under the name the data dictionary gives, then " + RELOCK_ONLY),
    Check("F02", "encoding", "File",
          "UTF-8 text. A UTF-8 byte-order mark is harmless and removed (noted); any other encoding (GB18030/GBK, "
          "UTF-16) stops the run: an encoding is never guessed, because a legacy file can be partly valid UTF-8 and "
          "a guess would change values silently", "stop",
          "stop, naming the row and column of the first undecodable byte and the encodings tried",
          "re-export the file as UTF-8 (Excel: Save As 'CSV UTF-8'; or iconv -f GB18030 -t UTF-8), replace it in "
          "data/raw and re-lock the extract (make relock)"),
    Check("F03", "CSV dialect", "File", "comma-separated fields (a header split by ';', tab or '|' instead)", "stop",
          "", "re-export with ',' as the field separator and '.' as the decimal point, then re-lock (make relock)"),
    Check("F04", "field count", "File",
          "every row has as many fields as the header (an unquoted decimal comma such as 56,6 adds one)", "stop",
          "stop, naming the row and, for a decimal comma, the column",
          "write decimals with a point (56.6) or quote the field; " + RELOCK),
    Check("F05", "not empty", "File", "a header line and at least one data row", "stop", "", RELOCK),
    Check("F06", "required column", "File",
          "every dictionary column in the header (names compared after removing quotes and surrounding spaces)",
          "stop", "stop, naming the column and any near match in the header",
          "rename the column as the data dictionary spells it; " + RELOCK),
    Check("F07", "unique column names", "File", "a column name that appears twice in the header", "stop", "",
          "remove or rename the second column; " + RELOCK),
    Check("F08", "unknown column", "File", "columns not in the data dictionary", "query",
          "column ignored (not in the data dictionary)"),
    Check("F09", "CSV conventions", "File",
          "a UTF-8 byte-order mark, quoted or space-padded column names, blank lines", "harmonise",
          "removed; counted in the harmonisation summary (row numbers stay the file's line numbers)"),
    Check("F10", "CSV structure", "File",
          "a record over several lines (a quoted value holding a line break: row numbers are the file's line "
          "numbers), a carriage return inside a row or ending the lines alone, or any other CSV parse failure",
          "stop", "stop, naming the row and column where the parser can tell", RELOCK),
    # -- schema (data dictionary) ----------------------------------------------------------------
    Check("S01", "required value", "Schema", "an empty field in a column that must never be empty", "stop", "",
          "complete the value at the site; " + RELOCK),
    Check("S02", "code in the dictionary", "Schema", "a code outside the dictionary's site codes", "stop", "",
          "correct the code at the site, or add the site's code to data/data_dictionary.yml if it is valid"),
    Check("S03", "integer", "Schema", "an integer column holding something else, or more than 9 digits", "stop", "",
          "correct the value at the site; " + RELOCK),
    Check("S04", "allowed value", "Schema", "an integer outside the dictionary's allowed values (ECOG, grade, site)",
          "stop", "", "correct the value at the site; " + RELOCK),
    Check("S05", "number", "Schema", "a decimal column holding something else, or more than 15 digits before the point", "stop", "",
          "correct the value at the site; " + RELOCK),
    Check("S06", "date in a site format", "Schema", "a date column holding something that is not a date", "stop",
          "", "correct the date at the site; " + RELOCK),
    Check("S07", "id pattern", "Schema", "a subject id not of the form S<site>-<serial>", "stop", "",
          "correct the id at the site; " + RELOCK),
    Check("S08", "valid date", "Schema", "a date that does not exist in the calendar (2021-02-30)", "stop", "",
          "correct the date at the site; " + RELOCK),
    Check("S09", "complete date", "Schema", "a partial study-drug, assessment, screening, lab or contact date",
          "stop", "", "complete the date at the site; " + RELOCK),
    Check("S10", "response at post-baseline visit", "Schema", "a post-baseline assessment without an overall response",
          "stop", "", "complete the investigator response at the site; " + RELOCK),
    Check("S11", "death date on DEAD row", "Schema", "a DEAD contact without a death date", "stop", "",
          "complete the death date at the site (a partial date is accepted); " + RELOCK),
    Check("S12", "death date on DEAD row only", "Schema", "a death date on an ALIVE or LOST contact", "stop", "",
          "correct the status or remove the death date at the site; " + RELOCK),
    Check("S13", "study drug", "Schema", "an exposure row whose drug is not anlotinib or a PD-1/PD-L1 inhibitor",
          "stop",
          "", "correct the drug at the site; " + RELOCK),
    Check("S14", "end on/after start", "Schema", "a study-drug course ending before it starts", "stop", "",
          "correct the dates at the site; " + RELOCK),
    # -- mappings --------------------------------------------------------------------------------
    Check("M01", "code mapping", "Mapping", "a site code with no entry in data/mappings/codes.csv", "stop", "",
          "add the code to data/mappings/codes.csv if it is valid, else correct it at the site"),
    Check("M02", "drug name mapping", "Mapping", "a drug name with no entry in data/mappings/drug_names.csv", "stop",
          "", "add the name to data/mappings/drug_names.csv if it is valid, else correct it at the site"),
    Check("M03", "AE term mapping", "Mapping", "a verbatim AE term with no entry in data/mappings/ae_terms.csv", "stop",
          "", "add the term to data/mappings/ae_terms.csv with its CTCAE v5 term, else correct it at the site"),
    Check("M04", "lab unit", "Mapping", "a lab unit with no conversion in data/mappings/lab_units.csv", "stop", "",
          "add the unit and its factor to data/mappings/lab_units.csv if it is valid"),
    # -- identity ----------------------------------------------------------------------------------
    Check("I01", "identifier normalised", "Identity",
          "subject ids and ID-card numbers written in full-width characters, lower case or with spaces", "harmonise",
          "normalised (NFKC, no whitespace, upper case) before any comparison; counted in the harmonisation summary"),
    Check("I02", "subject in screening log", "Identity", "a row whose subject id is not in the screening log", "stop",
          "", "correct the subject id at the site, or add the patient to the screening log; " + RELOCK),
    Check("I03", "ID-card number missing", "Identity",
          "a screening record without an ID-card number (records are never linked on an empty key)", "query",
          "kept as a patient of its own (not linked to any other record); site to confirm the identity"),
    Check("I04", "duplicate patient", "Identity",
          "two screening records with the same normalised ID-card number (a patient referred between sites)", "query",
          "the record screened first is kept (the patient's original enrolment); every row of the later record is "
          "rejected, one query per row"),
    Check("I05", "conflicting linked records", "Identity",
          "an attribute (birth date, sex, history, name) that differs between the linked records of one patient",
          "query", "the value of the record kept (screened first) is used; the other value is listed; site to "
          "confirm (names are compared but never shown)"),
    Check("I06", "rows only in the rejected record", "Identity",
          "a row of the rejected record with no identical row (after harmonisation) under the kept record", "query",
          "rejected with its record; site to confirm that no data are lost"),
    Check("I08", "possible duplicate patient", "Identity",
          "two records with different ID-card numbers but the same name, birth date and sex (a mistyped number?)",
          "query", "kept as two patients (the records are linked only by the ID-card number); site to confirm"),
    Check("I07", "one row per subject", "Identity", "a screened patient without a demographics or disease row", "stop",
          "", "add the patient's row at the site; " + RELOCK),
    # -- duplicates by the dictionary's keys ---------------------------------------------------------
    Check("K01", "duplicate record", "Duplicates",
          "a row identical to an earlier row of the same file (as sent, or after harmonisation)", "query",
          "the later copy is rejected, so the record counts once"),
    Check("K02", "unique key", "Duplicates",
          "rows sharing the data dictionary's key (every file) but differing in content", "stop",
          "stop, listing the rows and the columns that differ",
          "keep one row per key at the site (merge or correct the key); " + RELOCK),
    # -- dates -------------------------------------------------------------------------------------
    Check("D01", "partial date", "Dates", "a date with the day (or day and month) unknown", "query",
          "imputed by the stated rule (admiral derive_vars_dt), flagged in <COL>_F"),
    Check("D02", "date after the extract", "Dates",
          "a date after the extract date declared in the data dictionary (extract.date): no record can be dated "
          "after the extract was taken", "stop/query",
          "stop for screening, birth, study-drug, assessment and death dates (the timeline of every endpoint); "
          "an ALIVE or LOST contact is rejected; any other date is set to missing",
          "correct the date at the site; " + RELOCK),
    Check("D03", "date before birth", "Dates", "any dated record before the patient's birth date", "stop", "",
          "check both dates at the site (the event date or the birth date is wrong); " + RELOCK),
    Check("D04", "impossible sequence", "Dates",
          "an AE ending before it starts; an ALIVE contact after the date of death", "query",
          "AE end set to missing; the contact row rejected"),
    Check("D05", "death on/after first dose", "Dates", "a death dated before the first study dose", "stop", "",
          "correct the death date or the study-drug dates at the site; " + RELOCK),
    # -- plausibility --------------------------------------------------------------------------------
    Check("P01", "out of range", "Plausibility", "a value outside the data dictionary's range", "query",
          "set to missing; site to confirm"),
    Check("P06", "height in metres", "Plausibility",
          "a height below the cm range that is a plausible height in metres (the cm range divided by 100, e.g. 1.64)",
          "query", "read as metres and converted to cm (counted in the harmonisation summary); site to confirm"),
    Check("P02", "implausible age", "Plausibility",
          "age at the first dose (else at screening) outside 18-100 years", "query",
          "kept as collected and shown in ADSL (under 18 fails inclusion 1 in the CONSORT flow); site to confirm the "
          "birth date"),
    Check("P03", "outlier in the patient's series", "Plausibility",
          "a target-lesion sum at least 5 times (or at most a fifth of) each neighbouring value of the patient's own "
          "series (3 or more assessments; a shifted decimal)", "query",
          "set to missing (ADTR change not computed for it; the investigator response is kept); site to confirm"),
    Check("P04", "dose outside the prescribed range", "Plausibility",
          "a study-drug dose outside half the lowest to 1.5 times the highest prescribed dose of that drug "
          "(data dictionary: exposure.prescribed_dose_mg)", "query",
          "set to missing (the course counts in days on drug, not in the cumulative dose); site to confirm"),
    Check("P05", "missing value", "Plausibility", "an empty baseline value expected present (smoking, alcohol, height, "
          "weight)", "query", "kept missing; site to complete"),
    # -- cross-domain consistency --------------------------------------------------------------------
    Check("C01", "one death per subject", "Consistency", "two DEAD contacts for one patient", "stop", "",
          "keep one death record at the site; " + RELOCK),
    Check("C02", "fatal AE without a death", "Consistency",
          "a grade 5 or fatal AE for a patient with no death in the follow-up log", "stop", "",
          "correct the grade/outcome, or add the death to the follow-up log; " + RELOCK),
    Check("C03", "fatal AE coding", "Consistency",
          "a grade 5 AE whose outcome is not Fatal, or a Fatal AE below grade 5",
          "query", "kept as collected (grade 5 counts as a fatal AE); site to confirm"),
    Check("C04", "AE death without a fatal AE", "Consistency",
          "death cause 'Adverse event' with no grade 5 or fatal AE", "query", "kept as collected; site to add the AE"),
    Check("C18", "unexplained death after treatment", "Consistency",
          "a death within 30 days of the last study dose, cause not progression, with no grade 5 or fatal AE",
          "query", "kept as collected; site to confirm the cause (a fatal AE would be reported as one)"),
    Check("C05", "record after death", "Consistency",
          "a study-drug administration or tumour assessment after the date of death; an AE starting after it",
          "stop/query", "stop for study drug and assessments; an AE is kept with a query",
          "correct the date or the death date at the site; " + RELOCK),
    Check("C06", "AE dose reduction not in exposure", "Consistency",
          "an AE with action 'Dose reduced' and no reduced administration from its onset to 30 days after it ends",
          "query", "kept as collected; safety and exposure tables disagree until the site confirms"),
    Check("C07", "dose reduction without an AE", "Consistency",
          "an administration marked 'Reduced' with no AE 'Dose reduced' ongoing or ended within 30 days before it",
          "query", "kept as collected; site to confirm the reason"),
    Check("C19", "AE interruption not in exposure", "Consistency",
          "an AE with action 'Drug interrupted' and no interrupted course from its onset to 30 days after it ends",
          "query", "kept as collected; safety and exposure tables disagree until the site confirms"),
    Check("C20", "interruption without an AE", "Consistency",
          "a course flagged 'Interrupted' with no AE 'Drug interrupted' ongoing or ended within 30 days before it",
          "query", "kept as collected; site to confirm the reason"),
    Check("C08", "dose change flag", "Consistency",
          "an anlotinib dose lower than the previous course without 'Reduced', or 'Reduced' without a lower dose",
          "query", "kept as collected; site to confirm"),
    Check("C09", "EOT toxicity without an AE", "Consistency",
          "end-of-treatment reason 'Toxicity' with no AE leading to withdrawal ('Drug withdrawn')", "query",
          "kept as collected; site to add the AE or correct the reason"),
    Check("C10", "EOT death without a death", "Consistency",
          "end-of-treatment reason 'Death' with no death in the follow-up log", "query",
          "kept as collected (OS uses the follow-up log); site to add the death or correct the reason"),
    Check("C11", "EOT progression without a PD assessment", "Consistency",
          "end-of-treatment reason 'Progressive disease' with no RECIST PD assessment", "query",
          "kept as collected (PFS uses RECIST assessments only); site to confirm (clinical progression?)"),
    Check("C12", "AE withdrawal while dosing continues", "Consistency",
          "an AE with action 'Drug withdrawn' followed by administrations starting more than 30 days after its "
          "onset", "query", "kept as collected; site to confirm"),
    Check("C13", "progression before treatment", "Consistency",
          "a post-baseline PD dated before the first dose or the baseline scan", "stop", "",
          "correct the assessment date (or the first-dose date) at the site; " + RELOCK),
    Check("C14", "assessment before treatment", "Consistency",
          "a post-baseline assessment (not PD) dated before the first dose or the baseline scan; a baseline scan "
          "after the first dose", "query",
          "kept; a post-baseline one before the first dose is not used for response or PFS (ANL01FL not set)"),
    Check("C15", "new therapy during study treatment", "Consistency",
          "a subsequent anticancer therapy starting on or before the last study dose", "query",
          "kept (it censors PFSNACT and stops BOR at its start); site to confirm"),
    Check("C16", "study drug before diagnosis", "Consistency", "a study-drug administration before the diagnosis date",
          "stop", "", "correct the study-drug or diagnosis date at the site; " + RELOCK),
    Check("C17", "more than one baseline scan", "Consistency", "a patient with two or more baseline assessments",
          "query",
          "kept; the latest baseline scan is the baseline of the change in tumour size (ADTR); site to confirm"),
    # -- completeness ----------------------------------------------------------------------------------
    Check("X01", "no study-drug records", "Completeness", "a screened patient with no exposure row", "query",
          "kept: not treated, so inclusion 5 fails (CONSORT) and the patient is outside the safety set"),
    Check("X02", "no tumour assessment", "Completeness",
          "a treated patient with no post-baseline tumour assessment, or with no baseline scan", "query",
          "kept: BOR MISSING and PFS censored at day 1 (no post-baseline); no % change (no baseline)"),
)

BY_RULE: dict[str, Check] = {c.rule: c for c in CHECKS}
assert len(BY_RULE) == len(CHECKS) and len({c.id for c in CHECKS}) == len(CHECKS)


def check_of(rule: str) -> Check:
    """The registered check of a rule name (KeyError for an unregistered rule)."""
    return BY_RULE[rule]


def checks_table() -> pd.DataFrame:
    """The registry as a table for the SAR's data-handling appendix."""
    return pd.DataFrame([{"CHECK": c.id, "CLASS": c.cls, "RULE": c.rule, "LOOKS FOR": c.looks_for,
                          "OUTCOME": c.outcome, "ACTION": action(c)} for c in CHECKS])


def action(c: Check) -> str:
    """What the rule does: its query action, or for a stop rule the stop and what to do."""
    if c.outcome == "stop":
        return f"{c.action or 'the run stops'}; to fix: {c.todo}"
    return c.action
