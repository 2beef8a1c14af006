"""The words of a notification: a title that says what broke, a body that says what to do next.

The person paged at 3 a.m. reads the title on a lock screen and the body on a phone, so the title
names severity, model and what (``[CRITICAL] fraud-detector: feature drift: amount``), and the
body carries the evidence they would otherwise look up: the statistic against its threshold at its
sample size, since when, which model version against which reference, whose model it is, and a
deep link to the dashboard page showing the evidence. A resolve says how long the incident lasted.
A group of several alerts gets one summary line and one line per alert, so a digest of twenty
features stays readable.

Everything here is a pure function of the :class:`Notification` (times are printed in UTC), so
every receiver — apprise, PagerDuty, a fallback — says the same thing.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from urllib.parse import urlencode

from monitor.alert.notification import Notification
from monitor.times import duration
from monitor.vocab.alerts import ALERTNAME, FEATURE, MODEL, OWNER, SEVERITY, Alert, evidence_page
from monitor.vocab.verdicts import DECISION, PREDICTION

#: Worst first: a group's title takes the worst severity among its firing alerts.
_SEVERITY_ORDER = ("critical", "warning")
#: How the model's outputs are named to people (the verdicts name them by their counts key).
_OUTPUT_NAMES = {PREDICTION: "prediction", DECISION: "decision"}
#: Subjects (features, metrics) a grouped title names per kind before it says "+N more".
_TITLE_SUBJECTS = 3
#: Annotations printed after the value and threshold, with their short names.
_SIZE_NOTES = (("n", "n"), ("p_value", "p"))
_TEST_LINE = "This is a test message from Driftwatch: no action needed."
#: Facts a grouped notification's one-line-per-alert keeps, with the word that introduces each
#: (the single-alert body has every fact, each on a line of its own after its label).
_COMPACT = {
    "Evidence": "",
    "Since": "since ",
    "Lasted": "lasted ",
    "Version": "version ",
    "Owner": "owner ",
    "Dashboard": "",
}


def render(notification: Notification, public_url: str | None) -> tuple[str, str]:
    """Title and body of ``notification``; ``public_url`` is the dashboard's address as people
    reach it (``dashboard.public_url``), None to leave the links out."""
    return title(notification), body(notification, public_url)


def title(notification: Notification) -> str:
    """``[SEVERITY] model: what`` — one line a lock screen shows whole.

    The tag is the worst severity among firing alerts, ``[RESOLVED]`` when none fires, and a test
    message starts with ``[TEST]`` so nobody acts on it. Several alerts are named by kind with
    their features, and counted.
    """
    alerts = _alerts(notification)
    prefix = "[TEST] " if notification.test else ""
    if not alerts:
        return f"{prefix}driftwatch: test notification to receiver {notification.receiver}"
    named = notification.firing or notification.resolved
    models = sorted({a.labels.get(MODEL, "") for a in named})
    subject = models[0] if len(models) == 1 else f"{len(models)} models"
    text = f"{prefix}{_tag(notification)} {subject}: {_subjects(named)}"
    if len(alerts) > 1:
        text += f" ({_counts(notification)})"
    return text


def body(notification: Notification, public_url: str | None) -> str:
    """One alert: its facts, one per line. Several: a summary line, then one line per alert
    (firing first), each with its evidence, time, version, owner and link."""
    alerts = _alerts(notification)
    lines = [_TEST_LINE] if notification.test else []
    if len(alerts) == 1:  # the title already says what and how bad
        lines += [f"{label}: {text}" for label, text in _facts(alerts[0], public_url)]
    elif alerts:
        group = ", ".join(f"{k}={v}" for k, v in sorted(notification.group_labels.items()))
        lines.append(_counts(notification) + (f" · group {group}" if group else ""))
        lines += [_line(alert, public_url) for alert in alerts]
    return "\n".join(lines)


def fallback(title_text: str, body_text: str, primary: str, reason: str) -> tuple[str, str]:
    """Title and body for the fallback receiver: it says whose message it carries and why, so the
    reader knows the usual channel is broken as well as what the alert is."""
    return (
        f"[FALLBACK for {primary}] {title_text}",
        f"Receiver {primary} could not be reached ({reason}); this is its message.\n\n{body_text}",
    )


def evidence_link(alert: Alert, public_url: str) -> str:
    """The dashboard page with the alert's evidence (:func:`monitor.vocab.alerts.evidence_page`)
    as an absolute address under ``public_url``."""
    page, params = evidence_page(alert)
    return f"{public_url.rstrip('/')}/{page}?{urlencode(params)}"


def worst_severity(alerts: Iterable[Alert]) -> str | None:
    """The worst ``severity`` label among ``alerts`` (critical, then warning), or None."""
    present = {a.labels.get(SEVERITY) for a in alerts}
    return next((s for s in _SEVERITY_ORDER if s in present), None)


def utc(ts: float) -> str:
    """A Unix time as people on any continent read it unambiguously.

    >>> utc(1795449600)
    '2026-11-23 16:00 UTC'
    """
    return f"{datetime.fromtimestamp(ts, UTC):%Y-%m-%d %H:%M} UTC"


def _alerts(notification: Notification) -> tuple[Alert, ...]:
    return notification.firing + notification.resolved


def _tag(notification: Notification) -> str:
    if not notification.firing:
        return "[RESOLVED]"
    return f"[{(worst_severity(notification.firing) or 'firing').upper()}]"


def _status(alert: Alert) -> str:
    if alert.state == "resolved":
        return "[RESOLVED]"
    return f"[{alert.labels.get(SEVERITY, 'firing').upper()}]"


def _counts(notification: Notification) -> str:
    counts = [(len(notification.firing), "firing"), (len(notification.resolved), "resolved")]
    return ", ".join(f"{n} {word}" for n, word in counts if n)


def _kind(alert: Alert) -> str:
    """``FeatureDrift`` → ``feature drift``: the alertname in words."""
    return re.sub(r"(?<!^)(?=[A-Z])", " ", alert.labels.get(ALERTNAME, "alert")).lower()


def _subject_name(alert: Alert) -> str:
    feature = alert.labels.get(FEATURE, "")
    return _OUTPUT_NAMES.get(feature, feature)


def _what(alert: Alert) -> str:
    name = _subject_name(alert)
    return f"{_kind(alert)}: {name}" if name else _kind(alert)


def _subjects(alerts: Sequence[Alert]) -> str:
    """``feature drift: amount, age, +2 more; stale data`` — kinds in order of first appearance."""
    by_kind: dict[str, list[str]] = {}
    for alert in alerts:
        names = by_kind.setdefault(_kind(alert), [])
        name = _subject_name(alert)
        if name and name not in names:
            names.append(name)
    parts = []
    for kind, names in by_kind.items():
        shown = names[:_TITLE_SUBJECTS]
        if len(names) > len(shown):
            shown.append(f"+{len(names) - len(shown)} more")
        parts.append(f"{kind}: {', '.join(shown)}" if shown else kind)
    return "; ".join(parts)


def _line(alert: Alert, public_url: str | None) -> str:
    facts = [_COMPACT[k] + text for k, text in _facts(alert, public_url) if k in _COMPACT]
    head = f"- {_status(alert)} {alert.labels.get(MODEL, '')}: {_what(alert)}"
    return " · ".join([head, *facts])


def _facts(alert: Alert, public_url: str | None) -> list[tuple[str, str]]:
    """What a person acts on, labelled, in reading order; a fact the alert lacks is left out."""
    notes = alert.annotations
    facts = []
    evidence = _evidence(notes)
    if evidence:
        facts.append(("Evidence", evidence))
    if notes.get("description"):
        facts.append(("Why", notes["description"]))
    if alert.state == "resolved":
        facts.append(("Lasted", _lasted(alert)))
    elif alert.active_since is not None:
        facts.append(("Since", _since(alert.active_since, alert.fired_at)))
    if notes.get("version") or notes.get("reference"):
        version = notes.get("version") or "unknown"
        facts.append(("Version", f"{version}, reference {notes.get('reference') or 'none'}"))
    if alert.labels.get(OWNER):
        facts.append(("Owner", alert.labels[OWNER]))
    if public_url:
        facts.append(("Dashboard", evidence_link(alert, public_url)))
    return facts


def _evidence(notes: dict[str, str]) -> str:
    """``psi 0.31 vs threshold 0.2, n=5000, p=0.001`` (a number rule has no statistic name)."""
    if "value" not in notes:
        return ""
    parts = [f"{notes.get('statistic', 'value')} {notes['value']}"]
    if "threshold" in notes:
        parts[0] += f" vs threshold {notes['threshold']}"
    parts += [f"{short}={notes[key]}" for key, short in _SIZE_NOTES if key in notes]
    return ", ".join(parts)


def _since(began: float, fired_at: float | None) -> str:
    """When the breach began, and when it started firing if that was later (``for``)."""
    if fired_at is None or fired_at == began:
        return utc(began)
    return f"{utc(began)} (firing since {utc(fired_at)})"


def _lasted(alert: Alert) -> str:
    start, end = alert.fired_at, alert.resolved_at
    if start is None or end is None:
        return "unknown (no firing or resolve time recorded)"
    return f"{duration(end - start)} ({utc(start)} → {utc(end)})"
