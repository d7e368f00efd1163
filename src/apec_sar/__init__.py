"""APEC statistical analysis report (NCT04984096): the project's importable package.

Modules are named by domain: ``paths`` (project layout), ``config`` (the one version /
cut-off file), ``datalock`` (raw-data hash manifest), ``dictionary`` (raw data dictionary)
and ``synth`` (the calibrated synthetic extract generator).
"""

__version__ = "0.1.0"
