"""The reviewer's-guide map (report/outputs.yml): every output of the SAR is registered with the
SAP section that plans it (or "post hoc"), every planned output exists in the SAR, every output's
ARD ids have rows in the ARD, and every analysis-dataset variable it names exists."""

from __future__ import annotations

import re

from apec_sar.ard import load_ard
from apec_sar.outputs import load_outputs, sap_sections, traceability

from .conftest import ROOT
from .test_report import embeds


def test_every_output_names_a_sap_section_or_post_hoc_and_a_shell():
    sections = sap_sections(ROOT)
    for o in load_outputs():
        assert o.post_hoc or o.sap in sections, f"{o.label}: sap {o.sap!r} is not a section of the SAP"
        assert o.shell, f"{o.label}: no shell"
        assert o.caption.endswith("[post hoc]") == o.post_hoc


def test_every_planned_output_exists_in_the_sar_and_every_sar_output_is_mapped():
    embedded = {label for _, _, label in embeds() if label.split("-")[0] in ("tbl", "fig")}
    registered = {o.label for o in load_outputs()}
    assert embedded == registered
    sap = (ROOT / "report" / "a0-sap.qmd").read_text(encoding="utf-8")
    assert "12_traceability.ipynb#tbl-sap-outputs" in sap       # the SAP lists the planned outputs


def test_post_hoc_outputs_are_not_in_the_plan(built):
    trace = traceability(load_ard(built / "data" / "ard"), root=ROOT)
    assert set(trace.label[trace.sap_section == "post hoc"]) == {o.label for o in load_outputs() if o.post_hoc}


def test_every_ard_id_of_an_output_has_rows(built):
    ard = load_ard(built / "data" / "ard")
    ids = set(ard.OUTPUT_ID.astype(str))
    for o in load_outputs():
        for a in o.ard:
            assert a in ids, f"{o.label}: ARD OUTPUT_ID {a!r} has no rows"
    # every statistic of the ARD belongs to a registered output
    assert ids <= {a for o in load_outputs() for a in o.ard}, ids - {a for o in load_outputs() for a in o.ard}


def test_every_dataset_variable_exists(derived):
    cols = {name.upper(): set(df.columns) for name, df in derived.datasets.items()}
    for o in load_outputs():
        for ds, variables in o.data:
            assert ds in cols, f"{o.label}: no dataset {ds}"
            missing = set(variables) - cols[ds]
            assert not missing, f"{o.label}: {ds} has no {sorted(missing)}"


def test_traceability_rows_name_the_cell_that_makes_each_output(built):
    trace = traceability(load_ard(built / "data" / "ard"), root=ROOT)
    assert len(trace) == len(load_outputs())
    for r in trace.itertuples():
        stem, label = r.cell.split("#")
        nb = ROOT / "notebooks" / f"{stem}.ipynb"
        assert nb.is_file()
        assert re.search(rf"#\|\s*label:\s*{re.escape(label)}\b", nb.read_text(encoding="utf-8")), r.cell
