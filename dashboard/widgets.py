"""Streamlit pieces every page shares: deep-linked pickers, the viewer's zone, page links.

Deep links are query parameters (``?model=…&feature=…&window=…``): a picker starts from its
parameter and writes its choice back, so the address bar always holds a link to what is on
screen and an alert can point straight at the evidence.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from datetime import tzinfo
from typing import Any, TypeVar

import pandas as pd
import streamlit as st

from dashboard import figures, info

T = TypeVar("T")

OVERVIEW_PAGE = "app_pages/overview.py"
MODEL_PAGE = "app_pages/model.py"
FEATURE_PAGE = "app_pages/feature.py"
#: Session key of the sidebar's "windows shown" choice.
WINDOWS_SHOWN = "windows_shown"
DEFAULT_WINDOWS_SHOWN = 168
OLDER_WINDOW_HINT = "An older window may lie beyond 'Windows shown' in the sidebar: widen it."


def viewer_zone() -> tzinfo:
    """The browser's time zone (UTC when the browser did not say)."""
    return info.zone(st.context.timezone)


def windows_shown() -> int:
    return int(st.session_state.get(WINDOWS_SHOWN, DEFAULT_WINDOWS_SHOWN))


def pick(
    label: str,
    options: Sequence[T],
    param: str,
    *,
    key: str,
    default: T | None = None,
    to_param: Callable[[T], str] = str,
    from_param: Callable[[str], T | None] | None = None,
    format_func: Callable[[T], str] = str,
    missing_hint: str = "",
) -> T | None:
    """A selectbox bound to query parameter ``param``.

    A parameter that changed since this picker last wrote it (a deep link, a page link) wins over
    the widget's remembered value; otherwise the user's choice stands and is written back. A
    parameter naming no option is reported, and ``default`` (else the first option) shown.
    """
    if not options:
        return None
    raw = st.query_params.get(param)
    wanted = (from_param(raw) if from_param else raw) if raw is not None else None
    applied = f"{key}__applied"
    fresh = raw is not None and raw != st.session_state.get(applied)
    if fresh and wanted in options:
        st.session_state[key] = wanted
    elif st.session_state.get(key) not in options or fresh:
        st.session_state[key] = default if default in options else options[0]
    if fresh and wanted not in options:
        st.warning(
            f"The link asks for {param} `{raw}`, which is not among the choices. {missing_hint}"
        )
    choice: T = st.selectbox(label, options, key=key, format_func=format_func)
    st.query_params[param] = st.session_state[applied] = to_param(choice)
    return choice


def frame(rows: Sequence[Any]) -> pd.DataFrame:
    """A table of info dataclasses, one column per field."""
    return pd.DataFrame([dataclasses.asdict(r) for r in rows])


def health_styled(table: pd.DataFrame) -> Any:
    """The table with its ``health`` cells coloured by the one severity scheme."""

    def colour(status: str) -> str:
        fill = figures.SEVERITY_COLORS[info.HEALTH_SEVERITY.get(status, "none")]
        return f"background-color: {fill}; color: white; font-weight: 600"

    return table.style.map(colour, subset=["health"])


QUALITY_FORMATS = {
    "mean": st.column_config.NumberColumn("mean", format="%.4g"),
    "reference_mean": st.column_config.NumberColumn("reference mean", format="%.4g"),
} | {
    name: st.column_config.NumberColumn(name.replace("_", " "), format="percent")
    for name in (
        "missing_rate",
        "type_error_rate",
        "out_of_range_rate",
        "unseen_rate",
        "reference_missing_rate",
    )
}


def severity_badge(severity: str, text: str) -> str:
    """Markdown for a coloured badge; colours follow the severity scheme's hues."""
    colour = {"critical": "red", "warning": "orange", "ok": "green"}.get(severity, "gray")
    return f":{colour}-badge[{text}]"


def feature_link(model: str, feature: str, window: int | None, label: str) -> None:
    params = {"model": model, "feature": feature}
    if window is not None:
        params["window"] = str(window)
    st.page_link(FEATURE_PAGE, label=label, query_params=params, icon=":material/query_stats:")


def no_reference(model: str) -> None:
    st.warning(
        f"**{model}** has no reference profile, so no drift can be judged. Compute one from the "
        f"training data:\n\n`{info.baseline_hint(model)}`\n\n(one column per feature, plus "
        "`prediction`; add `--label-column` and `--score-column` for reference performance), or "
        f"from a period of the stream when the model was good:\n\n`driftwatch baseline set "
        f"--model {model} --from-stream --start now-2h --end now-1h`"
    )
