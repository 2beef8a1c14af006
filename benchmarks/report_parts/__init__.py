"""The parts of ``benchmarks/report.py``, one concept a module.

``report.py`` runs as a file, so its folder is first on ``sys.path`` and this package imports
as ``report_parts`` there — in the project venv and in the Evidently worker's venv alike:

- :mod:`.data`: the synthetic features, their named drifts, the reference and windows;
- :mod:`.driftwatch_side`: the daemon's own code on those rows, timed per stage;
- :mod:`.evidently_side`: Evidently's ``DataDriftPreset`` in a worker process, and its launcher;
- :mod:`.printing`: the figures and decisions of both sides, as the report prints them.

Nothing here imports Driftwatch at import time: the worker's venv has no Driftwatch installed.
"""
