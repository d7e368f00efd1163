"""Quarto pre-render step (``_quarto.yml`` -> ``project: pre-render``): write the build stamp
``_stamp.yml`` (commit, render date, data-lock hash, Quarto version) that the cover page and the
document-control table read as metadata. Quarto runs it with ``QUARTO_PYTHON`` (set by
``make report``) or the ``python3`` on PATH, which must have the ``apec_sar`` package.

``make report`` renders the HTML and the PDF at the same time, from the project and from a copy of
it; it writes the stamp once, beforehand, and sets ``APEC_SAR_STAMP_READY=1`` so that both renders
use that one stamp."""

import os
import sys

if os.environ.get("APEC_SAR_STAMP_READY") == "1":
    sys.exit(0)

try:
    from apec_sar.provenance import write_stamp
except ImportError:
    sys.exit("pre-render: the apec_sar package is not importable by this Python "
             f"({sys.executable}); run `make report`, or set QUARTO_PYTHON=.venv/bin/python")

write_stamp()
