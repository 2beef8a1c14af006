"""The dashboard's figures, one module per family, laid out like optuna's ``visualization``.

Each family module holds the info object its figures need (a small frozen dataclass computed from
``Query`` results) and the functions drawing it with Plotly: ``signals`` (the model page's cards
of what is failing), ``verdicts`` (its heatmap and verdict table), ``findings`` (the feature
page's), ``drift``, ``performance``, ``quality``, ``distribution``, ``ingest`` (labels, dead
letters), ``health`` (the overview), ``comparison``, ``retraining`` (requests, incidents, the
audit trail) and ``alerts``, whose info objects fill tables (the Alerts page links to the other
families' charts). ``common`` holds what they share: severities and their colours, row names,
time zones, window selection, deep links and the chart layout.

Nothing here imports Streamlit or reads Redis, so every number a page shows is tested without a
browser (``tests/dashboard/test_figures.py``); the pages (``dashboard/app_pages/``) and the model
page's sections (``dashboard/sections.py``) read through ``dashboard/data.py`` and import the
families directly.
"""
