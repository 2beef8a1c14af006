"""Retraining: a place in the navigation for the retraining capability, which is not built yet.

When it lands, ``Query`` gains read methods for retraining requests and webhook deliveries;
``dashboard/data.py`` caches them, and this page shows each request's state and delivery log.
"""

from __future__ import annotations

import streamlit as st

st.title("Retraining")
st.info(
    "Retraining requests arrive with Driftwatch's retraining capability (signed webhooks to "
    "GitHub, Airflow or Kubeflow, with cooldowns and optional approval). The dashboard stays "
    "read-only: approvals will happen where the webhook lands.",
    icon=":material/autorenew:",
)
