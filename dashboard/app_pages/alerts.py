"""Alerts: what fires or waits to fire and its evidence, what resolved, what is muted, and what
each receiver was told.

Reads the alerts, silences and notification log the daemon keeps (``dashboard/data.py``) and
lays them out with ``dashboard/figures/alerts.py``; every alert links to the model or feature page
with its evidence, as its notification does. Silences are listed always, but created and expired
here only when the config makes the dashboard writable and someone is signed in
(``widgets.editor``, who is then the silence's author); otherwise the page gives the
``driftwatch silence`` commands to run instead.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence

import streamlit as st

from dashboard import data, widgets
from dashboard.figures import alerts as info
from dashboard.figures.common import code, md, severity_text
from monitor.vocab.alerts import Alert
from monitor.vocab.silences import Silence

#: Session key of the last silence write's outcome: set by a callback, shown by the run after it.
NOTICE = "alerts_notice"
#: Columns of the alert tables: what and how bad, with the link to its evidence; the rule's
#: numbers and since when; then who and whether it is muted.
ALERT_COLUMNS = ["severity", "state", "alertname", "model", "feature", "evidence"]
EVIDENCE_COLUMNS = ["statistic", "value", "threshold", "n", "since"]
CONTEXT_COLUMNS = ["silenced", "owner", "summary"]
ALERT_FORMATS = {
    "since": st.column_config.DatetimeColumn("since", format="YYYY-MM-DD HH:mm z"),
    "resolved": st.column_config.DatetimeColumn("resolved", format="YYYY-MM-DD HH:mm z"),
    "value": st.column_config.NumberColumn("value", format="%.4g"),
    "threshold": st.column_config.NumberColumn("threshold", format="%.4g"),
    "n": st.column_config.NumberColumn("n (rows)", format="localized"),
    "lasted_hours": st.column_config.NumberColumn("lasted", format="%.2f h"),
    "silenced": st.column_config.CheckboxColumn("silenced", help="muted by an active silence"),
    "evidence": st.column_config.LinkColumn("evidence", display_text="open the evidence"),
}


def alert_table(rows: Sequence[info.AlertRow], key: str, columns: list[str]) -> None:
    table = widgets.frame(rows)
    st.dataframe(
        widgets.coloured(table, "severity", info.severity_color, severity_text),
        hide_index=True,
        placeholder="–",
        key=key,
        column_order=columns,
        column_config=ALERT_FORMATS,
    )


def create_silence(author: str) -> None:
    """The create form's callback: runs before the page, so the page shows the new silence."""
    state = st.session_state
    matchers = [line.strip() for line in state["silence_matchers"].splitlines() if line.strip()]
    duration = state["silence_duration"]
    try:
        silence = Silence.new(
            matchers,
            info.SILENCE_DURATIONS[duration],
            author,
            state["silence_comment"],
            time.time(),
        )
    except ValueError as exc:
        state[NOTICE] = ("error", f"No silence created: {md(exc)}.")
        return
    data.add_silence(silence)
    state[NOTICE] = (
        "success",
        f"Silence `{silence.id}` by {md(author)} mutes its alerts for {duration}.",
    )


def expire_silence(author: str) -> None:
    """The expire button's callback: the alerts the silence muted are notified again."""
    silence_id = st.session_state["silence_to_expire"]
    ended = data.expire_silence(silence_id, time.time(), author)
    st.session_state[NOTICE] = (
        ("success", f"Silence {md(silence_id)} expired: its alerts are notified again.")
        if ended is not None
        else ("error", f"No silence has the id {md(silence_id)}.")
    )


def prefill_matchers(by_fingerprint: Mapping[str, Alert]) -> None:
    """Start the form's matchers from the chosen alert's labels (or empty them)."""
    chosen = st.session_state["silence_from"]
    matchers = info.matchers_for(by_fingerprint[chosen]) if chosen else []
    st.session_state["silence_matchers"] = "\n".join(matchers)


def alert_choice(row: info.AlertRow | None) -> str:
    if row is None:
        return "— type the matchers yourself —"
    return f"{severity_text(row.severity)} · {row.model} · {row.alertname} {row.feature}"


def silence_controls(author: str, silence_rows: Sequence[info.SilenceRow]) -> None:
    """Expire a silence that has not ended; create one, with the signed-in user as its author."""
    open_ids = [s.id for s in silence_rows if s.state != "expired"]
    described = {s.id: f"{s.matchers} · {s.comment}" for s in silence_rows}
    if open_ids:
        left, right = st.columns([4, 1], vertical_alignment="bottom")
        left.selectbox(
            "Silence to expire",
            open_ids,
            format_func=described.__getitem__,
            key="silence_to_expire",
        )
        right.button("Expire", key="silence_expire", on_click=expire_silence, args=(author,))
    with st.form("new_silence"):
        st.text_area(
            "Matchers, one per line (all must match)",
            key="silence_matchers",
            placeholder='model="fraud-detector"\nalertname=~"Feature.*"',
        )
        st.selectbox(
            "Duration",
            list(info.SILENCE_DURATIONS),
            index=list(info.SILENCE_DURATIONS).index(info.DEFAULT_SILENCE_DURATION),
            key="silence_duration",
        )
        st.text_input(
            "Why", key="silence_comment", placeholder="the incident, the ticket, the plan"
        )
        st.caption(f"Author: {md(author)}")
        st.form_submit_button(
            "Create silence", key="silence_create", on_click=create_silence, args=(author,)
        )


settings = data.settings()
tz = widgets.viewer_zone()
now = time.time()
stored = data.alerts()
silences = data.silences()
rows = info.alert_rows(stored, silences, now, tz)
active = [r for r in rows if r.state != "resolved"]
resolved = [r for r in rows if r.state == "resolved"]
silence_rows = info.silence_rows(silences, stored, now, tz)

st.title("Alerts")
if not settings.alerting.enabled:
    st.info(
        f"Alerting is disabled (`[alerting] enabled = false` in `{data.config_path()}`): no rule "
        "is evaluated and nobody is notified. docs/alerting.md shows how to switch it on."
    )
widgets.counts(
    {
        "Firing": sum(r.state == "firing" for r in active),
        "Pending": sum(r.state == "pending" for r in active),
        "Resolved (last 24 h)": len(resolved),
        "Active silences": sum(s.state == "active" for s in silence_rows),
    }
)

st.subheader("Firing and pending")
if active:
    alert_table(active, "active_alerts", [*ALERT_COLUMNS, *EVIDENCE_COLUMNS, *CONTEXT_COLUMNS])
    st.caption(
        "Pending: in breach for less than the rule's `for`. Silenced alerts keep firing, but "
        "their receivers are not told. *Evidence* opens the feature or model page."
    )
else:
    st.success("No alert fires or waits to fire.")

st.subheader("Resolved in the last 24 hours")
if resolved:
    columns = [*ALERT_COLUMNS, *EVIDENCE_COLUMNS, "resolved", "lasted_hours", *CONTEXT_COLUMNS[1:]]
    alert_table(resolved, "resolved_alerts", columns)
else:
    st.caption("No alert resolved in the last 24 hours.")

st.subheader("Silences")
notice = st.session_state.pop(NOTICE, None)
if notice is not None:
    kind, text = notice
    (st.success if kind == "success" else st.error)(text)
shown = [s for s in silence_rows if s.state != "expired" or st.session_state.get("show_expired")]
if shown:
    st.dataframe(
        widgets.frame(shown),
        hide_index=True,
        placeholder="–",
        key="silences",
        column_order=[
            "state",
            "matchers",
            "mutes",
            "ends",
            "created_by",
            "comment",
            "starts",
            "id",
        ],
        column_config={
            "mutes": st.column_config.NumberColumn("mutes now", help="firing or pending alerts"),
            "starts": st.column_config.DatetimeColumn("starts", format="YYYY-MM-DD HH:mm z"),
            "ends": st.column_config.DatetimeColumn("ends", format="YYYY-MM-DD HH:mm z"),
            "created_by": st.column_config.TextColumn("author"),
        },
    )
else:
    st.caption("No active or pending silence.")
st.toggle("Show expired silences (kept 120 h)", key="show_expired")

by_fingerprint = {fp: a for found in stored.values() for fp, a in found.items()}
by_row = {r.fingerprint: r for r in active}
start_from = st.selectbox(
    "Silence like this alert",
    ["", *by_row],
    format_func=lambda fp: alert_choice(by_row.get(fp)),
    key="silence_from",
    on_change=prefill_matchers,
    args=(by_fingerprint,),
)
author = widgets.editor()
if author is not None:
    silence_controls(author, silence_rows)
else:
    why = (
        "Sign in to create or expire silences here (docs/dashboard.md, Access)."
        if data.writable()
        else "This dashboard is read-only (the default)."
    )
    st.info(f"{why} Silence from the command line, and end a silence by its id:")
    example = info.matchers_for(by_fingerprint[start_from]) if start_from else ['model="MODEL"']
    st.markdown("\n\n".join(map(code, info.cli_hint(data.config_path(), example).splitlines())))

st.subheader("Notifications")
receivers = [r.name for r in settings.alerting.receivers]
if not receivers:
    st.info(
        "No receiver is configured (`[[alerting.receivers]]`, docs/alerting.md): nobody is "
        "notified."
    )
else:
    logs = data.notification_log()
    for receiver, tab in zip(receivers, st.tabs([md(r) for r in receivers]), strict=True):
        sent = info.notification_rows(logs.get(receiver, {}), stored, tz)
        if not sent:
            tab.caption(f"Nothing was sent to {md(receiver)} recently.")
            continue
        tab.dataframe(
            widgets.frame(sent),
            hide_index=True,
            placeholder="–",
            key=f"notifications_{receiver}",
            column_order=["sent_at", "status", "firing", "resolved", "alerts", "group"],
            column_config={
                "sent_at": st.column_config.DatetimeColumn("sent", format="YYYY-MM-DD HH:mm:ss z"),
                "alerts": st.column_config.TextColumn("what", width="large"),
            },
        )
    st.caption(
        "The last notification of each alert group per receiver, logged once the receiver accepted "
        "it (an entry is dropped after twice its route's repeat interval). Failed and retried "
        "deliveries are counted in the daemon's `/metrics` (`driftwatch_notifications_total`, "
        "by receiver and result: sent, fallback, failed) and written to its log."
    )
