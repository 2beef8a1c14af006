"""Retraining: which models were asked to retrain, where each request stands, what its target
answered, who approved or rejected it, and the evidence it carried.

Reads every request once (``data.retrain_requests``) and lays them out with
``dashboard/figures/retraining.py``: open requests first, since one awaiting approval needs a
person. The page is read-only whatever the config says: approving and rejecting are decisions
with a name attached, made with ``driftwatch retrain approve|reject --by NAME``, which the page
shows ready to paste. Deep link: ``?model=…`` filters by model.
"""

from __future__ import annotations

import streamlit as st

from dashboard import data, widgets
from dashboard.figures import retraining as info
from dashboard.figures.common import code, md
from monitor.vocab.retrain import STATES

#: Option of the model filter that keeps every model.
ALL = ""
TABLE_COLUMNS = [
    "created",
    "model",
    "state",
    "policy",
    "target",
    "attempts",
    "last_answer",
    "decision",
    "reason",
    "model_page",
    "id",
]
TABLE_FORMATS = {
    "created": st.column_config.DatetimeColumn("created", format="YYYY-MM-DD HH:mm z"),
    "state": st.column_config.TextColumn(
        "state", help="awaiting approval, queued, delivered, rejected or failed"
    ),
    "attempts": st.column_config.NumberColumn("attempts", help="deliveries tried so far"),
    "last_answer": st.column_config.TextColumn(
        "last answer", help="the target's HTTP status and error on the last attempt"
    ),
    "decision": st.column_config.TextColumn("decided by", help="who approved or rejected, why"),
    "reason": st.column_config.TextColumn("reason", width="large"),
    "model_page": st.column_config.LinkColumn("evidence", display_text="open the model"),
}


def disabled_notice() -> None:
    """Retraining is off: say what turns it on (requests made before stay listed)."""
    st.info(
        "Retraining is off (`[retraining] enabled = false` in "
        f"`{data.config_path()}`), so no policy asks for it and nothing is sent. Retraining "
        "requests arrive with Driftwatch's retraining capability once it is on: set `enabled = "
        "true`, list the hosts it may reach in `allowed_hosts`, add a `[[retraining.targets]]` "
        "(a webhook, GitHub, Airflow or Kubeflow) and a `[[retraining.policies]]` (which alerts, "
        "firing how long, approval or not); policies act on alerts, so `[alerting]` must be on "
        "too. docs/retraining.md shows how.",
        icon=":material/autorenew:",
    )


def policies_caption() -> None:
    """The configured policies in one line, so an empty list or a missing request is explained."""
    policies = data.settings().retraining.policies
    listed = "; ".join(
        f"**{md(p.name)}** → {md(p.target)}"
        + (" (approval required)" if p.approval == "required" else "")
        + (f" for {md(', '.join(p.models))}" if p.models else "")
        for p in policies
    )
    st.caption(f"Policies: {listed}. Details: docs/retraining.md.")


settings = data.settings()
tz = widgets.viewer_zone()
requests = data.retrain_requests()

st.title("Retraining")
if not settings.retraining.enabled:
    disabled_notice()
elif settings.retraining.policies:
    policies_caption()

counts = info.state_counts(requests)
widgets.counts({info.state_label(state).capitalize(): n for state, n in counts.items()})

if counts["awaiting_approval"]:
    st.warning(
        f"{counts['awaiting_approval']} request(s) await approval: nothing is sent until a "
        "person approves. This dashboard is read-only; approve or reject from the command line, "
        "naming yourself (the newest is shown; every request's ID is in the table):",
        icon=":material/pending_actions:",
    )
    waiting = next(r for r in requests if r.state == "awaiting_approval")
    hint = info.approval_hint(data.config_path(), waiting.id)
    st.markdown("\n\n".join(map(code, hint.splitlines())))

if not requests:
    if settings.retraining.enabled:
        st.info(
            "No retraining request yet. A policy opens one when its alerts have fired long "
            "enough; ask for one by hand with `driftwatch retrain trigger --model M --by NAME "
            "--reason WHY`."
        )
else:
    models = sorted({m.name for m in settings.models} | {r.model for r in requests})
    left, right = st.columns([1, 2])
    with left:
        model = widgets.pick(
            "Model",
            [ALL, *models],
            "model",
            key="retrain_model",
            format_func=lambda name: name or "all models",
        )
    with right:
        states = st.multiselect(
            "State",
            list(STATES),
            default=list(STATES),
            format_func=info.state_label,
            key="retrain_states",
        )
    rows = info.request_rows(requests, tz, model=model or None, states=states)
    st.subheader("Requests")
    if rows:
        st.dataframe(
            widgets.coloured(widgets.frame(rows), "state", info.state_color),
            hide_index=True,
            placeholder="–",
            key="retrain_requests",
            column_order=TABLE_COLUMNS,
            column_config=TABLE_FORMATS,
        )
        st.caption(
            "Open requests (awaiting approval, queued) first, then newest first. One request per "
            "model is in flight at a time; a queued one is retried with backoff until the target "
            "accepts it or its attempts run out (failed)."
        )
        st.subheader("Request")
        by_id = {r.id: r for r in requests}
        chosen = st.selectbox(
            "Request",
            [r.id for r in rows],
            format_func=lambda rid: f"{rid} · {info.state_label(by_id[rid].state)}",
            key="retrain_request",
        )
        request = by_id[chosen]
        params = info.model_page_params(request)
        at_window = " at the window it was judged in" if "window" in params else ""
        st.page_link(
            widgets.MODEL_PAGE,
            label=f"Open {md(request.model)}'s model page{at_window}",
            query_params=params,
            icon=":material/model_training:",
        )
        details = info.request_details(request, tz)
        st.dataframe(
            {"field": [name for name, _ in details], "value": [text for _, text in details]},
            hide_index=True,
            placeholder="–",
            key="retrain_request_details",
        )
        st.markdown("**Payload** (the evidence the target receives, the same bytes every attempt)")
        st.json(info.payload_of(request), expanded=2)
    else:
        st.caption("No request matches these filters.")
