"""Safety summaries (AET01 / AET02 / AET04 layouts) into the ARD."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..ard import ARD

GRADE_GROUPS = {"Any grade": [1, 2, 3, 4, 5], "Grade 1-2": [1, 2], "Grade 3-4": [3, 4], "Grade 5": [5]}


def overview(adae: pd.DataFrame, adsl: pd.DataFrame, output_id: str, flag: str = "SAFFL",
             population: str = "Safety set") -> ARD:
    """AET01: patients with at least one event of each kind (the safety set; ``flag`` EFFFL:
    the eligible patients, the publication's safety population). Immune-related AEs are counted
    in their own window (AEIRFL: first PD-1 dose to 90 days after the last), as in the irAE
    table, not only among TEAEs."""
    ard = ARD()
    saf = adsl[adsl[flag] == "Y"]
    n = len(saf)
    te = adae[(adae.TRTEMFL == "Y") & adae.USUBJID.isin(saf.USUBJID)]
    rel = te[te.AREL == "Y"]
    items = {
        "Any TEAE": te, "Treatment-related AE": rel,
        "Grade 3-4 TEAE": te[te.AETOXGR.isin([3, 4])], "Grade 3-4 treatment-related AE": rel[rel.AETOXGR.isin([3, 4])],
        # an irAE has its own window (first PD-1 dose to 90 days after the last), not the TEAE one
        "Serious TEAE": te[te.AESER == "Y"],
        "Immune-related AE": adae[(adae.AEIRFL == "Y") & adae.USUBJID.isin(saf.USUBJID)],
        "AE leading to dose reduction": te[te.AEACN == "Dose reduced"],
        "AE leading to interruption": te[te.AEACN == "Drug interrupted"],
        "AE leading to withdrawal": te[te.AEACN == "Drug withdrawn"],
        "Grade 5 (fatal) AE": te[te.AETOXGR == 5], "Treatment-related death": rel[rel.AETOXGR == 5],
        "TEAE with a missing attribution (counted as related)": te[te.AERELIFL == "Y"],
    }
    ard.add(output_id, "AE overview", population, "ALL", "All", "N", n)
    for label, d in items.items():
        k = d.USUBJID.nunique()
        ard.add(output_id, "AE overview", population, label, "All", "n", k)
        ard.add(output_id, "AE overview", population, label, "All", "pct", 100 * k / n if n else np.nan)
    deaths = saf[saf.DTHFL == "Y"]
    ard.add(output_id, "deaths", population, "Deaths", "All", "n", len(deaths))
    for cause, k in deaths.DTHCAUS.value_counts().sort_index().items():
        ard.add(output_id, "deaths", population, "Deaths", cause, "n", int(k))
    return ard


def by_term_grade(adae: pd.DataFrame, adsl: pd.DataFrame, output_id: str, related_only: bool = True,
                  by: str = "AEDECOD") -> ARD:
    """AET04-style: patients by term (or SOC) and maximum grade, counted once per term at
    their worst grade."""
    ard = ARD()
    saf = adsl[adsl.SAFFL == "Y"]
    n = len(saf)
    te = adae[(adae.TRTEMFL == "Y") & adae.USUBJID.isin(saf.USUBJID)]
    if related_only:
        te = te[te.AREL == "Y"]
    what = "treatment-related AE" if related_only else "TEAE"
    worst = te.groupby([by, "USUBJID"]).AETOXGR.max().reset_index()
    ard.add(output_id, f"{what} by {by} and maximum grade", "Safety set", "ALL", "All", "N", n)
    for term, g in worst.groupby(by, sort=True):
        for label, grades in GRADE_GROUPS.items():
            k = int(g.AETOXGR.isin(grades).sum())
            ard.add(output_id, f"{what} by {by} and maximum grade", "Safety set", term, label, "n", k)
            ard.add(output_id, f"{what} by {by} and maximum grade", "Safety set", term, label, "pct",
                    100 * k / n if n else np.nan)
    return ard


def term_grade_table(ard: pd.DataFrame, min_pct: float = 0.0) -> pd.DataFrame:
    """Rows: terms by descending any-grade frequency (then name); columns: n (%) per grade group."""
    from ..stats.rounding import fmt
    a = ard[ard.PARAMETER != "ALL"]
    if a.empty:
        return pd.DataFrame({"Term": ["No events"], **{g: [""] for g in GRADE_GROUPS}})
    wide = a.pivot_table(index=["PARAMETER", "GROUP"], columns="STAT", values="VALUE").reset_index()
    anyg = wide[wide.GROUP == "Any grade"].set_index("PARAMETER")["n"]
    order = sorted(anyg.index, key=lambda t: (-anyg[t], t))
    rows = []
    for t in order:
        if 100 * anyg[t] / max(int(ard[ard.STAT == "N"].VALUE.iloc[0]), 1) < min_pct:
            continue
        r = {"Term": t}
        for gname in GRADE_GROUPS:
            w = wide[(wide.PARAMETER == t) & (wide.GROUP == gname)].iloc[0]
            r[gname] = f"{int(w['n'])} ({fmt(w['pct'], 1)})"
        rows.append(r)
    return pd.DataFrame(rows)


def grade_counts(adae: pd.DataFrame, adsl: pd.DataFrame, top: int = 12) -> pd.DataFrame:
    """Patients by worst grade per treatment-related term (the numbers behind the AE chart)."""
    saf = adsl[adsl.SAFFL == "Y"]
    te = adae[(adae.TRTEMFL == "Y") & (adae.AREL == "Y") & adae.USUBJID.isin(saf.USUBJID)]
    worst = te.groupby(["AEDECOD", "USUBJID"]).AETOXGR.max().reset_index()
    t = worst.pivot_table(index="AEDECOD", columns="AETOXGR", values="USUBJID", aggfunc="count", fill_value=0)
    t.columns = [f"G{c}" for c in t.columns]
    t["ANY"] = t.sum(axis=1)
    return t.sort_values(["ANY"], ascending=False, kind="stable").head(top)


def overview_table(ard: pd.DataFrame) -> pd.DataFrame:
    """AET01 rows from :func:`overview` ARD rows: patients with at least one event, n (%)."""
    from ..stats.rounding import fmt
    o = ard[(ard.ANALYSIS == "AE overview") & (ard.PARAMETER != "ALL")]
    n = int(ard[(ard.ANALYSIS == "AE overview") & (ard.STAT == "N")].VALUE.iloc[0])
    rows = o.pivot(index="PARAMETER", columns="STAT", values="VALUE").reindex(o.PARAMETER.unique())
    return pd.DataFrame({"Patients with at least one": rows.index,
                         f"n (%), N = {n}": [f"{int(r.n)} ({fmt(r.pct, 1)})" for r in rows.itertuples()]})


def overview_by_population_table(ard: pd.DataFrame, populations: dict[str, str]) -> pd.DataFrame:
    """AET01 with one column per population: ``populations`` {POPULATION: column label}; each
    column is headed with its N. Rows from :func:`overview` ARD rows."""
    from ..stats.rounding import fmt
    o = ard[ard.ANALYSIS == "AE overview"]
    order = list(dict.fromkeys(o.PARAMETER[o.PARAMETER != "ALL"]))
    cols = {}
    for pop, label in populations.items():
        a = o[o.POPULATION == pop]
        n = int(a[a.STAT == "N"].VALUE.iloc[0])
        st = {(r.PARAMETER, r.STAT): r.VALUE for r in a.itertuples()}
        cols[f"{label} (N = {n})"] = [f"{int(st[(p, 'n')])} ({fmt(st[(p, 'pct')], 1)})" for p in order]
    return pd.DataFrame({"Patients with at least one": order, **cols})


def _teae(adae: pd.DataFrame, adsl: pd.DataFrame, flag: str = "SAFFL") -> tuple[pd.DataFrame, int]:
    saf = adsl[adsl[flag] == "Y"]
    return adae[(adae.TRTEMFL == "Y") & adae.USUBJID.isin(saf.USUBJID)], len(saf)


SOC_GRADES = {"Any grade": [1, 2, 3, 4, 5], "Grade 3-4": [3, 4], "Grade 5": [5]}


def by_soc_and_term(adae: pd.DataFrame, adsl: pd.DataFrame, output_id: str, related_only: bool = False,
                    population: str = "Safety set") -> ARD:
    """AET02: patients with a treatment-emergent AE (all causalities unless ``related_only``) by
    system organ class and, within it, preferred (CTCAE) term; any grade, grade 3-4 and grade 5,
    each patient counted once per SOC and once per term at the worst grade. PARAMETER is the SOC,
    or "SOC | term" for a term row; "Any TEAE" heads the table."""
    ard = ARD()
    te, n = _teae(adae, adsl)
    if related_only:
        te = te[te.AREL == "Y"]
    what = "treatment-related AE" if related_only else "TEAE"
    analysis = f"{what} by SOC and term"

    def counts(param: str, g: pd.DataFrame) -> None:
        worst = g.groupby("USUBJID").AETOXGR.max()
        for label, grades in SOC_GRADES.items():
            k = int(worst.isin(grades).sum())
            ard.add(output_id, analysis, population, param, label, "n", k)
            ard.add(output_id, analysis, population, param, label, "pct", 100 * k / n if n else np.nan)

    ard.add(output_id, analysis, population, "ALL", "All", "N", n)
    counts(f"Any {what}", te)
    for soc, g in te.groupby("AESOC", sort=True):
        counts(soc, g)
        for term, h in g.groupby("AEDECOD", sort=True):
            counts(f"{soc} | {term}", h)
    return ard


def soc_term_table(ard: pd.DataFrame) -> pd.DataFrame:
    """AET02 rows: SOCs by descending any-grade frequency (then name), each followed by its terms
    (indented, same order rule); n (%) per grade column. A null report without events."""
    from ..stats.rounding import fmt
    a = ard[ard.PARAMETER != "ALL"]
    n_any = {p: v for p, g, s, v in zip(a.PARAMETER, a.GROUP, a.STAT, a.VALUE) if g == "Any grade" and s == "n"}
    st = {(p, g, s): v for p, g, s, v in zip(a.PARAMETER, a.GROUP, a.STAT, a.VALUE)}

    def row(param, label):
        return {"System organ class / CTCAE term": label,
                **{g: f"{int(st[(param, g, 'n')])} ({fmt(st[(param, g, 'pct')], 1)})" for g in SOC_GRADES}}

    head = [p for p in n_any if p.startswith("Any ")]
    rows = [row(p, p) for p in head]
    if head and n_any[head[0]] == 0:
        return pd.DataFrame(rows)
    socs = [p for p in n_any if " | " not in p and p not in head]
    for soc in sorted(socs, key=lambda s: (-n_any[s], s)):
        rows.append(row(soc, soc))
        terms = [p for p in n_any if p.startswith(soc + " | ")]
        for t in sorted(terms, key=lambda t: (-n_any[t], t)):
            rows.append(row(t, "  " + t.split(" | ", 1)[1]))
    return pd.DataFrame(rows)


AE_SUBSETS = {
    "serious": ("Serious TEAE", lambda te: te.AESER == "Y"),
    "reduced": ("TEAE leading to dose reduction", lambda te: te.AEACN == "Dose reduced"),
    "interrupted": ("TEAE leading to interruption", lambda te: te.AEACN == "Drug interrupted"),
    "withdrawn": ("TEAE leading to withdrawal", lambda te: te.AEACN == "Drug withdrawn"),
}


def by_term_in_subsets(adae: pd.DataFrame, adsl: pd.DataFrame, output_id: str, subsets: list[str],
                       population: str = "Safety set") -> ARD:
    """Patients with a treatment-emergent AE of each subset (:data:`AE_SUBSETS`: serious; leading
    to dose reduction, interruption or withdrawal of a study drug) by CTCAE term: any grade and
    grade >= 3, counted once per term at the worst grade. Every subset gets its total row ("Any")
    even when it has no event (a null report)."""
    ard = ARD()
    te, n = _teae(adae, adsl)
    ard.add(output_id, "TEAE subsets by term", population, "ALL", "All", "N", n)
    for key in subsets:
        label, rule = AE_SUBSETS[key]
        x = te[rule(te)]
        for term, g in [("Any", x)] + list(x.groupby("AEDECOD", sort=True)):
            worst = g.groupby("USUBJID").AETOXGR.max()
            for grp, k in (("Any grade", len(worst)), ("Grade >=3", int((worst >= 3).sum()))):
                ard.add(output_id, "TEAE subsets by term", population, f"{label} | {term}", grp, "n", k)
                ard.add(output_id, "TEAE subsets by term", population, f"{label} | {term}", grp, "pct",
                        100 * k / n if n else np.nan)
    return ard


def subsets_table(ard: pd.DataFrame) -> pd.DataFrame:
    """Rows of :func:`by_term_in_subsets`: a heading row per subset with its total, then its terms
    by descending frequency (then name); "none" where a subset has no event."""
    from ..stats.rounding import fmt
    a = ard[ard.PARAMETER != "ALL"]
    st = {(p, g, s): v for p, g, s, v in zip(a.PARAMETER, a.GROUP, a.STAT, a.VALUE)}
    cell = lambda p, g: f"{int(st[(p, g, 'n')])} ({fmt(st[(p, g, 'pct')], 1)})"  # noqa: E731
    rows = []
    for label in dict.fromkeys(p.split(" | ")[0] for p in a.PARAMETER):
        total = f"{label} | Any"
        rows.append({"Patients with": label, "Any grade": cell(total, "Any grade"), "Grade 3 or higher": cell(total, "Grade >=3")})
        terms = [p for p in dict.fromkeys(a.PARAMETER) if p.startswith(label + " | ") and p != total]
        if not terms:
            rows.append({"Patients with": "  (no event)", "Any grade": "", "Grade 3 or higher": ""})
        for t in sorted(terms, key=lambda t: (-st[(t, "Any grade", "n")], t)):
            rows.append({"Patients with": "  " + t.split(" | ", 1)[1], "Any grade": cell(t, "Any grade"),
                         "Grade 3 or higher": cell(t, "Grade >=3")})
    return pd.DataFrame(rows)


DEATH_CAUSES = ["Progressive disease", "Adverse event", "Other / unknown"]   # DTHT01 categories, always shown


def deaths_summary(adsl: pd.DataFrame, adae: pd.DataFrame, output_id: str, flag: str = "SAFFL",
                   population: str = "Safety set") -> ARD:
    """DTHT01: deaths by the data cut-off, by primary cause; deaths within 30 days of the last dose
    (DTHDT - TRTEDT <= 30) and within 60 days of the first dose (DTHDT - TRTSDT + 1 <= 60);
    deaths with a grade 5 treatment-emergent AE and with a treatment-related one."""
    ard = ARD()
    saf = adsl[adsl[flag] == "Y"]
    n = len(saf)
    dead = saf[saf.DTHFL == "Y"]
    te = adae[(adae.TRTEMFL == "Y") & adae.USUBJID.isin(dead.USUBJID) & (adae.AETOXGR == 5)]
    add = lambda group, k: (ard.add(output_id, "deaths", population, "DEATHS", group, "n", k),  # noqa: E731
                            ard.add(output_id, "deaths", population, "DEATHS", group, "pct", 100 * k / n if n else np.nan))
    ard.add(output_id, "deaths", population, "ALL", "All", "N", n)
    add("All deaths", len(dead))
    cause = dead.DTHCAUS.fillna("Not recorded")
    causes = DEATH_CAUSES + sorted(set(cause) - set(DEATH_CAUSES))
    for c in causes:
        add(f"Primary cause: {c}", int((cause == c).sum()))
    early = (dead.DTHDT - dead.TRTEDT).dt.days <= 30
    add("Within 30 days of the last dose", int(early.sum()))
    for c in causes:
        add(f"Within 30 days, cause: {c}", int((early & (cause == c)).sum()))
    add("Within 60 days of the first dose", int(((dead.DTHDT - dead.TRTSDT).dt.days + 1 <= 60).sum()))
    add("With a grade 5 TEAE", te.USUBJID.nunique())
    add("With a treatment-related grade 5 AE", te[te.AREL == "Y"].USUBJID.nunique())
    return ard


def deaths_table(ard: pd.DataFrame, populations: dict[str, str]) -> pd.DataFrame:
    """Rows of :func:`deaths_summary`, one column per population ({POPULATION: label})."""
    from ..stats.rounding import fmt
    d = ard[ard.ANALYSIS == "deaths"]
    order = list(dict.fromkeys(d.GROUP[d.PARAMETER == "DEATHS"]))
    cols = {}
    for pop, label in populations.items():
        a = d[d.POPULATION == pop]
        n = int(a[a.STAT == "N"].VALUE.iloc[0])
        st = {(g, s): v for g, s, v in zip(a.GROUP, a.STAT, a.VALUE)}
        cols[f"{label} (N = {n})"] = [f"{int(st[(g, 'n')])} ({fmt(st[(g, 'pct')], 1)})" if (g, "n") in st else "0"
                                      for g in order]
    label = lambda g: ("  " + g.split(": ", 1)[1]) if g.startswith(("Primary cause", "Within 30 days, cause")) else g  # noqa: E731
    return pd.DataFrame({"Deaths": [label(g) for g in order], **cols})


def related_by_drug(adae: pd.DataFrame, adsl: pd.DataFrame, output_id: str, population: str = "Safety set") -> ARD:
    """Treatment-related TEAEs by CTCAE term and the drug they are attributed to: related (or
    possibly related) to anlotinib (ARELANL), to the PD-1 inhibitor (ARELPD1), to either (AREL);
    patients counted once per term and column, any grade and grade >= 3. Each column's
    percentages are of the patients of the safety set who received that drug (first dose date of
    the drug present: anlotinib from ADSL RECEIVED_ANLOTINIB, the PD-1 inhibitor from PD1SDT; either:
    the whole safety set). An event can be attributed to both drugs, so the first two columns need
    not add up to the third."""
    ard = ARD()
    te, n_all = _teae(adae, adsl)
    saf = adsl[adsl.SAFFL == "Y"]
    denominators = {"Anlotinib": int(saf.RECEIVED_ANLOTINIB.fillna(False).astype(bool).sum()),
                    "PD-1 inhibitor": int(saf.PD1SDT.notna().sum()),
                    "Either drug": n_all}
    ard.add(output_id, "treatment-related AE by drug", population, "ALL", "All", "N", n_all)
    for label, n in denominators.items():
        ard.add(output_id, "treatment-related AE by drug", population, "ALL", label, "N", n)
    cols = {"ARELANL": "Anlotinib", "ARELPD1": "PD-1 inhibitor", "AREL": "Either drug"}
    rel = te[te.AREL == "Y"]
    for term, g in [("Any treatment-related AE", rel)] + list(rel.groupby("AEDECOD", sort=True)):
        for col, label in cols.items():
            x = g[g[col] == "Y"]
            n = denominators[label]
            for grp, k in (("Any grade", x.USUBJID.nunique()), ("Grade >=3", x[x.AETOXGR >= 3].USUBJID.nunique())):
                ard.add(output_id, "treatment-related AE by drug", population, term, f"{label} | {grp}", "n", int(k))
                ard.add(output_id, "treatment-related AE by drug", population, term, f"{label} | {grp}", "pct",
                        100 * k / n if n else np.nan)
    return ard


def related_by_drug_table(ard: pd.DataFrame) -> pd.DataFrame:
    """Rows of :func:`related_by_drug`: "Any" first, then terms by descending frequency (either
    drug, any grade); n (%) of any grade per attributed drug (its N in the header) and, for either
    drug, grade >= 3."""
    from ..stats.rounding import fmt
    a = ard[ard.PARAMETER != "ALL"]
    n = {g: int(v) for g, v in zip(ard.GROUP[(ard.PARAMETER == "ALL") & (ard.GROUP != "All")],
                                   ard.VALUE[(ard.PARAMETER == "ALL") & (ard.GROUP != "All")])}
    st = {(p, g, s_): v for p, g, s_, v in zip(a.PARAMETER, a.GROUP, a.STAT, a.VALUE)}
    cell = lambda p, g: f"{int(st[(p, g, 'n')])} ({fmt(st[(p, g, 'pct')], 1)})"  # noqa: E731
    terms = [t for t in dict.fromkeys(a.PARAMETER) if t != "Any treatment-related AE"]
    terms.sort(key=lambda t: (-st[(t, "Either drug | Any grade", "n")], t))
    rows = []
    for t in ["Any treatment-related AE"] + terms:
        rows.append({"CTCAE term": t, f"Anlotinib (N = {n['Anlotinib']})": cell(t, "Anlotinib | Any grade"),
                     f"PD-1 inhibitor (N = {n['PD-1 inhibitor']})": cell(t, "PD-1 inhibitor | Any grade"),
                     f"Either drug (N = {n['Either drug']})": cell(t, "Either drug | Any grade"),
                     "Either drug, grade ≥3": cell(t, "Either drug | Grade >=3")})
    return pd.DataFrame(rows)


# Adverse events of special interest of anlotinib, a VEGFR tyrosine-kinase inhibitor (its label and
# the ALTER trials: hypertension, hand-foot skin reaction, haemorrhage, proteinuria, hypothyroidism,
# hepatotoxicity), by CTCAE v5.0 term; a term of the extract not listed here is not an AESI
ANLOTINIB_AESI = {
    "Hypertension": "Hypertension",
    "Palmar-plantar erythrodysesthesia syndrome": "Hand-foot skin reaction",
    "Epistaxis": "Haemorrhage", "Hemoptysis": "Haemorrhage", "Gastrointestinal hemorrhage": "Haemorrhage",
    "Upper gastrointestinal hemorrhage": "Haemorrhage", "Lower gastrointestinal hemorrhage": "Haemorrhage",
    "Proteinuria": "Proteinuria",
    "Hypothyroidism": "Hypothyroidism",
    "Alanine aminotransferase increased": "Hepatotoxicity", "Aspartate aminotransferase increased": "Hepatotoxicity",
    "Blood bilirubin increased": "Hepatotoxicity",
}
AESI_CATEGORIES = ["Hypertension", "Hand-foot skin reaction", "Haemorrhage", "Proteinuria", "Hypothyroidism",
                   "Hepatotoxicity"]


def aesi_summary(adae: pd.DataFrame, adsl: pd.DataFrame, output_id: str, population: str = "Safety set") -> ARD:
    """Patients with a treatment-emergent AE of special interest of anlotinib (:data:`ANLOTINIB_AESI`),
    all causalities, by category and CTCAE term: any grade and grade >= 3, once per patient at the
    worst grade. Every category has its row, with 0 where no patient had one (a null report)."""
    ard = ARD()
    te, n = _teae(adae, adsl)
    te = te.assign(AESICAT=te.AEDECOD.map(ANLOTINIB_AESI))
    ard.add(output_id, "AESI of anlotinib", population, "ALL", "All", "N", n)
    for cat in AESI_CATEGORIES:
        g = te[te.AESICAT == cat]
        for term, h in [("Any", g)] + list(g.groupby("AEDECOD", sort=True)):
            worst = h.groupby("USUBJID").AETOXGR.max()
            for grp, k in (("Any grade", len(worst)), ("Grade >=3", int((worst >= 3).sum()))):
                ard.add(output_id, "AESI of anlotinib", population, f"{cat} | {term}", grp, "n", k)
                ard.add(output_id, "AESI of anlotinib", population, f"{cat} | {term}", grp, "pct", 100 * k / n if n else np.nan)
    return ard
