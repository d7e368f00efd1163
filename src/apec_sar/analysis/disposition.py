"""Disposition (DST01 layout): treatment status at the data cut-off with the reasons treatment
ended, survival status at the cut-off and subsequent anticancer therapy, for the safety set (all
treated patients) and the eligible (analysis) set.

Rules: a patient is on treatment at the cut-off when the last course has no end-of-treatment
reason (``TRTONGFL``); otherwise the reason recorded on the last course is the reason treatment
ended (``EOTREAS``). Survival status: dead when a death date is known by the cut-off, otherwise
alive (censored at the last date known alive, ``SURVSTAT``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..ard import ARD
from .summary import describe

EOT_REASONS = ["Progressive disease", "Toxicity", "Death", "Withdrawal of consent", "Lost to follow-up",
               "Physician decision", "Other"]
POPULATIONS = {"Safety set": "SAFFL", "Analysis set": "EFFFL"}


def disposition_frame(adsl: pd.DataFrame) -> pd.DataFrame:
    """ADSL with the display variables: TRTSTAT, EOTREAS (ended treatment only), SURVSTAT."""
    a = adsl.copy()
    a["TRTSTAT"] = np.where(a.TRTSDT.isna(), "Not treated",
                            np.where(a.TRTONGFL == "Y", "On treatment at the data cut-off", "Treatment ended"))
    a["EOTRSN"] = a.EOTREAS.where(a.TRTSTAT == "Treatment ended")
    return a


def disposition(adsl: pd.DataFrame, output_id: str) -> ARD:
    """ARD rows per population (``Safety set``: SAFFL, ``Analysis set``: EFFFL)."""
    a = disposition_frame(adsl)
    reasons = EOT_REASONS + sorted(set(a.EOTRSN.dropna()) - set(EOT_REASONS))
    ard = ARD()
    for pop, flag in POPULATIONS.items():
        p = a[a[flag] == "Y"]
        ended = p[p.TRTSTAT == "Treatment ended"]
        ard.extend(describe(p, [("TRTSTAT", "Study treatment", ["On treatment at the data cut-off", "Treatment ended"])],
                            output_id, "disposition: treatment", pop))
        part = describe(ended, [("EOTRSN", "Reason treatment ended", [r for r in reasons if (a.EOTRSN == r).any()])],
                        output_id, "disposition: reason treatment ended", pop)
        ard.extend(part)
        ard.extend(describe(p, [("SURVSTAT", "Survival status at the data cut-off", ["Alive (censored)", "Dead"]),
                                ("NACTFL", "Subsequent anticancer therapy by the cut-off", ["Y", "N"])],
                            output_id, "disposition: survival", pop))
    return ard


FIGURE_SIDE_STEPS = {"Duplicate patient records removed": None, "Patients excluded": "Excluded: ",
                     "Treatment ended by the data cut-off": "Ended: "}
FIGURE_LABELS = {
    "Records screened": "Screening-log records",
    "Duplicate patient records removed": "Duplicate records of the same patient removed",
    "Patients screened": "Patients assessed for eligibility",
    "Patients excluded": "Excluded, by the first criterion not met",
    "Eligible and treated": "Eligible, received anlotinib and a PD-1 inhibitor",
    "Treatment ended by the data cut-off": "Treatment ended by the data cut-off",
    "Response-evaluable": "Analysed: the analysis set (every eligible patient); response-evaluable",
}


def consort_figure_table(consort: pd.DataFrame, adsl: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, str]]:
    """The CONSORT flow carried through treatment end, as the figure's input (STEP, CRITERION,
    N) with its box labels: the derivation's screening and eligibility steps (the exclusion box
    says how many excluded patients were treated, i.e. are in the safety set), then the eligible
    treated patients, the patients whose treatment ended by the cut-off with the reasons (side
    box), and the analysis populations. Counts come from ``consort`` and ADSL."""
    steps = list(consort.STEP)
    head = consort.iloc[: steps.index("Patients excluded") + 1][["STEP", "CRITERION", "N"]]
    a = disposition_frame(adsl[adsl.EFFFL == "Y"])
    ended = a[a.TRTSTAT == "Treatment ended"]
    counts = ended.EOTRSN.fillna("Not recorded").value_counts()
    order = [r for r in EOT_REASONS if r in counts.index] + sorted(set(counts.index) - set(EOT_REASONS))
    rows = [("Eligible and treated", "", int((a.TRTSTAT != "Not treated").sum()))]
    rows += [(f"Ended: {r}", "", int(counts[r])) for r in order]
    rows += [("Treatment ended by the data cut-off", "", len(ended)),
             ("Response-evaluable", "", int((a.RSEVALFL == "Y").sum()))]
    tail = pd.DataFrame(rows, columns=["STEP", "CRITERION", "N"])
    excluded = adsl[adsl.EFFFL != "Y"]
    treated = int((excluded.SAFFL == "Y").sum())
    labels = {**FIGURE_LABELS, "Patients excluded": FIGURE_LABELS["Patients excluded"]
              + f"; {treated} of them treated (safety set)"}
    return pd.concat([head, tail], ignore_index=True), labels


def consort_ard(consort: pd.DataFrame, populations: pd.DataFrame, output_ids: tuple[str, str]) -> ARD:
    """The CONSORT counts (``consort``: STEP, CRITERION, N; output ``output_ids[0]``) and the
    population sizes (``populations``: POPULATION, N; ``output_ids[1]``) as ARD rows: PARAMETER is
    the step (the population), GROUP the criterion id ("IN2", "PUB1", ...) for an exclusion,
    else "All"."""
    ard = ARD()
    for r in consort.itertuples():
        crit = r.CRITERION if isinstance(r.CRITERION, str) and r.STEP.startswith("Excluded: ") else ""
        ard.add(output_ids[0], "CONSORT", "Screened", r.STEP.strip(), crit.split(" ")[0] if crit else "All", "N", int(r.N))
    for r in populations.itertuples():
        ard.add(output_ids[1], "populations", r.POPULATION, r.POPULATION, "All", "N", int(r.N))
    return ard
