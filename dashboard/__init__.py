"""Driftwatch's Streamlit dashboard: read-only views over ``monitor.store.query.Query``.

Start it with ``driftwatch dashboard --config config.toml``; the app is ``streamlit_app.py``.
This module stays free of Streamlit imports so the CLI can locate the app cheaply.
"""

#: Environment variable naming the config file the dashboard reads.
ENV_CONFIG = "DRIFTWATCH_CONFIG"
