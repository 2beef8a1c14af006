"""Alerts: a place in the navigation for the alerting capability, which is not built yet.

When it lands, ``Query`` gains read methods for firing and resolved alerts, silences and the
notification log; ``dashboard/data.py`` caches them like every other read, and this page lists
alerts with links to the evidence (``feature?model=…&feature=…&window=…``).
"""

from __future__ import annotations

import streamlit as st

st.title("Alerts")
st.info(
    "Alerts arrive with Driftwatch's alerting capability (owner-routed notifications with "
    "Alertmanager-style grouping, silences and inhibition). Until then, the model health on the "
    "Overview and `driftwatch status` show what would alert.",
    icon=":material/notifications:",
)
