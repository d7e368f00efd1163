"""Results text whose numbers come from the ARD, never from a keyboard.

The prose of each results chapter lives in a Markdown template, ``report/text/<name>.md``, that a
statistician edits like any text. Every number in it is a Jinja2 expression that looks the value
up in the analysis results dataset (ARD) at render time, formatted by the SAR's rounding rules::

    Median PFS was {{ est("PFS", "MEDIAN", output="tbl-ttet01") }} months.
    {{ npct("Treatment-related AE", output="tbl-aet01", population="Safety set") }} patients ...

Notebook ``11_text`` renders every template from the current ARD and displays it as a labelled
Markdown output (``txt-<name>``) that the chapters embed, so after a new data cut-off
(``python -m apec_sar.release cut``) the text is right without edits. A lookup that matches no ARD
row, or several rows with different values, stops the rendering with the template, the
expression's filter and what to add (``output=``, ``population=`` ...).

Inside a template:

- ``value(parameter, stat, group="All", output=, analysis=, population=)``: the number (float);
- ``n(...)`` a count; ``num(..., d=1)`` a number with ``d`` decimals; ``pct(...)`` a percentage
  with one decimal; ``npct(parameter, n="n", pct="pct", ...)`` "9 (31.0%)";
  ``est(parameter, stat, ci=("LCL stat", "UCL stat"), d=2, unit="", ...)`` "5.55 (95% CI 4.34 to
  5.78)", with ``unit=" months"`` "5.55 months (95% CI ...)", with ``unit="%"`` "31.0% (95% CI 15.3% to 50.8%)";
  ``p(...)`` a p-value (3 decimals, "<0.001");
- ``estimable(...)``: whether the statistic is a number (not NE); ``plural(count, one, many)``;
- ``rows(**filters)``: the matching ARD rows as a list of dicts (for loops over terms, factors);
- ``prev``: the same functions on the previous release's ARD snapshot (None for a first release),
  ``history``: the release records, ``previous``: the previous release's record, ``changes``: the
  numbers of statistics moved / added / removed since it (:func:`apec_sar.release.changes`),
  ``changes_note``: the changes of method listed under ``sar.changes`` in ``_variables.yml``,
  ``datalock``: this extract's data-lock hash;
- ``version``, ``status``, ``cutoff``, ``synthetic`` (the data are the synthetic extract), ``publication_cutoff``, ``fmt``, ``fmt_p``, ``months``,
  ``factor_label(term)`` (a model term in words), ``alpha`` (the nominal level named in the text),
  ``rules`` (derivation constants: ``rules.sd_days`` ...).

A lookup matching several rows is accepted when they all hold the same value (one statistic shown
in two outputs, e.g. the primary PFS in the TTET01 table and in the sensitivity table).

tests/test_narrative.py checks that the stored text equals a fresh rendering from the ARD, that no
template holds a typed number outside an expression, and that every template renders against the
ARD of another data cut-off.

Jinja2 (already installed with nbconvert) is used rather than a home-made placeholder syntax:
it is maintained, documented, and statisticians know it from other tools.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path

import jinja2
import numpy as np
import pandas as pd

from .paths import project_root
from .stats.rounding import fmt, fmt_p

TEMPLATES = ["synopsis", "populations", "response", "survival", "cox", "sensitivity", "safety", "concordance",
             "changes"]


class TextError(ValueError):
    """A template asks for an ARD value that does not exist or is ambiguous."""


def text_dir(root: Path | None = None) -> Path:
    return (root or project_root()) / "report" / "text"


@dataclass
class ArdLookup:
    """Functions available inside the templates, bound to one ARD."""
    ard: pd.DataFrame
    template: str = ""
    what: str = "ARD"

    def _hits(self, parameter, stat, group="All", output=None, analysis=None, population=None) -> pd.DataFrame:
        a = self.ard
        m = (a.PARAMETER.astype(str) == str(parameter)) & (a.STAT == stat)
        if group is not None:
            m &= a.GROUP.astype(str) == str(group)
        for col, v in (("OUTPUT_ID", output), ("ANALYSIS", analysis), ("POPULATION", population)):
            if v is not None:
                m &= a[col].astype(str) == str(v)
        return a[m]

    def value(self, parameter, stat, group="All", output=None, analysis=None, population=None,
              default=None) -> float:
        """The statistic; ``default`` (e.g. 0 for a count of queries a rule did not raise) when no
        row matches, else no match is an error."""
        hits = self._hits(parameter, stat, group, output, analysis, population)
        values = hits.VALUE.astype(float).to_numpy()
        if len(hits) == 1 or (len(hits) > 1 and np.allclose(values, values[0], rtol=0, atol=1e-12, equal_nan=True)):
            return float(values[0])
        if not len(hits) and default is not None:
            return float(default)
        where = dict(parameter=parameter, stat=stat, group=group, output=output, analysis=analysis,
                     population=population)
        where = {k: v for k, v in where.items() if v is not None}
        if len(hits):
            choices = sorted({f"output={o!r}, population={p!r}" for o, p in zip(hits.OUTPUT_ID, hits.POPULATION)})
            raise TextError(f"report/text/{self.template}.md: {self.what} lookup {where} matched {len(hits)} rows with "
                            f"different values; add one of: {'; '.join(choices)}")
        raise TextError(f"report/text/{self.template}.md: {self.what} lookup {where} matched no row")

    # -- formatting helpers the templates call ---------------------------------------------
    def num(self, parameter, stat, d: int = 1, **kw) -> str:
        """A number with ``d`` decimals (half away from zero); NE when not estimable."""
        return fmt(self.value(parameter, stat, **kw), d)

    def n(self, parameter, stat="n", **kw) -> str:
        """A count."""
        v = self.value(parameter, stat, **kw)
        return "NE" if math.isnan(v) else str(int(round(v)))

    def pct(self, parameter, stat="pct", d: int = 1, **kw) -> str:
        """A percentage with ``d`` decimals and the % sign."""
        return fmt(self.value(parameter, stat, **kw), d) + "%"

    def npct(self, parameter, n: str = "n", pct: str = "pct", d: int = 1, **kw) -> str:
        """A count with its percentage: "9 (31.0%)"."""
        return f"{self.n(parameter, n, **kw)} ({self.pct(parameter, pct, d, **kw)})"

    def est(self, parameter, stat, ci: tuple[str, str] | None = None, d: int = 2, unit: str = "", **kw) -> str:
        """An estimate with its 95% CI: "5.59 months (95% CI 4.17 to 7.39)" (``unit=" months"``),
        "31.0% (95% CI 15.3% to 50.8%)" (``unit="%"``: every number carries it)."""
        text = fmt(self.value(parameter, stat, **kw), d) + unit
        if ci:
            each = unit if unit == "%" else ""
            lo, hi = (fmt(self.value(parameter, s, **kw), d) + each for s in ci)
            text += f" (95% CI {lo} to {hi})"
        return text

    def p(self, parameter, stat, **kw) -> str:
        """A p-value: 3 decimals, "<0.001" below."""
        return fmt_p(self.value(parameter, stat, **kw))

    def estimable(self, parameter, stat, **kw) -> bool:
        """True when the statistic is a number (not NE)."""
        return not math.isnan(self.value(parameter, stat, **kw))

    def rows(self, **filters) -> list[dict]:
        """ARD rows matching column filters (lower-case names: output, analysis, population,
        parameter, group, stat), in ARD order."""
        cols = {"output": "OUTPUT_ID", "analysis": "ANALYSIS", "population": "POPULATION", "parameter": "PARAMETER",
                "group": "GROUP", "stat": "STAT"}
        a = self.ard
        for k, v in filters.items():
            a = a[a[cols[k]].astype(str) == str(v)]
        return a.to_dict("records")

    def functions(self) -> dict:
        return {"value": self.value, "num": self.num, "n": self.n, "pct": self.pct, "npct": self.npct,
                "est": self.est, "p": self.p, "rows": self.rows, "estimable": self.estimable}


def environment() -> jinja2.Environment:
    return jinja2.Environment(undefined=jinja2.StrictUndefined, autoescape=False, keep_trailing_newline=True,
                              trim_blocks=True, lstrip_blocks=True)


def context(ard: pd.DataFrame, name: str, root: Path | None = None) -> dict:
    """Everything a template sees: the ARD functions, the previous release's, the release
    records and the version settings."""
    from .config import PUBLICATION_CUTOFF, load_config
    from .release import history, releases_dir
    base = root or project_root()
    cfg = load_config(base / "_variables.yml")
    hist = history(base)
    versions = [str(h["version"]) for h in hist]
    if cfg.version in versions:
        prev_version = hist[versions.index(cfg.version)].get("previous")
    else:
        prev_version = versions[-1] if versions else None
    previous = hist[versions.index(str(prev_version))] if prev_version in versions else None
    prev, counts = None, None
    if previous is not None:
        from .release import changes
        snap = releases_dir(base) / f"v{prev_version}" / "ard.csv"
        prev_ard = pd.read_csv(snap, keep_default_na=False, na_values=[""])
        prev = ArdLookup(prev_ard, name, f"previous release (v{prev_version}) ARD").functions()
        ch = changes(prev_ard, ard)
        counts = {k: int((ch.CHANGE == k).sum()) for k in ("moved", "added", "removed")}
    import json
    import yaml
    variables = yaml.safe_load((base / "_variables.yml").read_text(encoding="utf-8")) or {}
    datalock = json.loads((base / "data" / "datalock.json").read_text(encoding="utf-8"))["lock_hash"]
    return {**ArdLookup(ard, name).functions(), "prev": prev, "previous": previous, "history": hist,
            "changes": counts, "changes_note": (variables.get("sar") or {}).get("changes") or [], "datalock": datalock,
            "version": cfg.version, "status": cfg.status, "cutoff": cfg.data_cutoff.isoformat(),
            "synthetic": cfg.synthetic_data,
            "publication_cutoff": PUBLICATION_CUTOFF.isoformat(), "fmt": fmt, "fmt_p": fmt_p,
            "months": lambda days, d=2: fmt(float(days) / 30.4375, d), "plural": plural,
            "factor_label": factor_label, "alpha": ALPHA, "rules": rules()}


def rules() -> dict:
    """The derivation constants the text may name (taken from the code that applies them, so
    the words cannot drift from the rule): SD windows, confirmation interval, clinical-benefit
    duration, TEAE and irAE windows, irAE landmarks."""
    from .analysis.irae import LANDMARK_DAYS
    from .analysis.response import PD_THRESHOLD, PR_THRESHOLD
    from .analysis.survival import LANDMARKS_MONTHS
    from .clean.consistency import WINDOW_DAYS
    from .derive.response import CLINICAL_BENEFIT_DAYS, CONFIRM_DAYS, SD_WINDOW_DAYS, SD_WINDOW_SENSITIVITY
    from .derive.safety import IRAE_WINDOW_DAYS, TEAE_WINDOW_DAYS
    return {"sd_days": SD_WINDOW_DAYS, "sd_short": SD_WINDOW_SENSITIVITY[0], "sd_long": SD_WINDOW_SENSITIVITY[1],
            "confirm_days": CONFIRM_DAYS, "cbr_weeks": CLINICAL_BENEFIT_DAYS // 7, "teae_days": TEAE_WINDOW_DAYS,
            "irae_days": IRAE_WINDOW_DAYS, "landmarks": LANDMARK_DAYS, "pr_threshold": PR_THRESHOLD,
            "pd_threshold": PD_THRESHOLD, "rate_months": LANDMARKS_MONTHS, "query_window_days": WINDOW_DAYS}


ALPHA = 0.05     # the nominal level the text names ("a nominal p below 0.05"), never a decision rule


def factor_label(term: str) -> str:
    """A Cox/logistic term as words: "METLIVER[Y vs N]" -> "liver metastases (Y vs N)"."""
    from .analysis.cox import COVARIATES
    name, _, rest = str(term).partition("[")
    label = COVARIATES.get(name, (name, None))[0]
    label = label if label.isupper() or label[:3].isupper() else label[0].lower() + label[1:]
    from .tables import typeset
    return typeset(f"{label} ({rest[:-1]})" if rest else label)


def plural(count, one: str, many: str) -> str:
    """``one`` when ``count`` (a number or its text) is 1, else ``many``."""
    return one if str(count).strip() in ("1", "1.0") else many


def render_text(name: str, ard: pd.DataFrame, root: Path | None = None) -> str:
    """Render ``report/text/<name>.md`` from ``ard``; errors name the template."""
    path = text_dir(root) / f"{name}.md"
    try:
        return environment().from_string(path.read_text(encoding="utf-8")).render(**context(ard, name, root))
    except TextError:
        raise
    except jinja2.TemplateError as exc:
        raise TextError(f"report/text/{name}.md: {exc}") from None


def show_text(name: str, ard: pd.DataFrame):
    """Display a rendered template as Markdown (the notebook cell carries the ``txt-`` label)."""
    from IPython.display import Markdown
    return Markdown(render_text(name, ard))


EXPRESSION = re.compile(r"\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\}", re.S)
CROSS_REF = re.compile(r"@(?:tbl|fig|sec)-[\w-]+")
# technical tokens that are not results: names of standards and identifiers
ALLOWED = re.compile(r"RECIST 1\.1|CTCAE v5\.0|95% CI|NCT04984096|ICH E3|ICH E9|PD-1|PD-L1|[Gg]rade [1-5](?:-[1-5])?\b|"
                     r"ECOG performance status of [0-4]\b|± 1\.96|\b[A-Z]\d{2}\b")


def typed_numbers(text: str) -> list[str]:
    """Digits in template text outside Jinja expressions, cross-references and the allowed
    technical tokens: hand-typed numbers, which a template must not hold."""
    bare = EXPRESSION.sub(" ", text)
    bare = CROSS_REF.sub(" ", bare)
    bare = ALLOWED.sub(" ", bare)
    return re.findall(r"[^\s]*\d[^\s]*", bare)
