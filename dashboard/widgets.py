"""Streamlit pieces every page shares: deep-linked pickers, the viewer's zone, page links, text.

Deep links are query parameters (``?model=…&feature=…&window=…``): a picker starts from its
parameter and writes its choice back, so the address bar always holds a link to what is on
screen and an alert can point straight at the evidence.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from datetime import tzinfo
from typing import Any, TypeVar

import pandas as pd
import streamlit as st

from dashboard import data
from dashboard.figures import common
from monitor.config import ModelSettings

T = TypeVar("T")

MODEL_PAGE = "app_pages/model.py"
FEATURE_PAGE = "app_pages/feature.py"
#: Session key of the sidebar's "windows shown" choice.
WINDOWS_SHOWN = "windows_shown"
DEFAULT_WINDOWS_SHOWN = 168
OLDER_WINDOW_HINT = "An older window may lie beyond 'Windows shown' in the sidebar: widen it."
#: Width of one of :func:`counts`: two side by side on a 390 px phone, four in a row on a desktop.
COUNT_PX = 160


def auth_configured() -> bool:
    """OIDC login is on when ``.streamlit/secrets.toml`` has an ``[auth]`` section."""
    try:
        return st.secrets.load_if_toml_exists() and "auth" in st.secrets
    except FileNotFoundError:
        return False


def signed_in_user() -> str | None:
    """Who is signed in: the OIDC login's email (or name), else, without ``[auth]``, the person
    the header ``[dashboard] proxy_user_header`` names — only when that option is set, since
    anyone who reaches the port directly could send any header; None when nobody is
    (docs/dashboard.md, Access)."""
    if auth_configured():
        if not st.user.is_logged_in:
            return None
        return str(st.user.get("email") or st.user.get("name") or st.user.get("sub"))
    header = data.settings().dashboard.proxy_user_header
    return (st.context.headers.get(header) or None) if header else None


def editor() -> str | None:
    """Who may change state here, and is named as its author: the signed-in user, when the config
    makes the dashboard writable; None (read-only) otherwise, so an anonymous viewer never
    writes."""
    return signed_in_user() if data.writable() else None


def viewer_zone() -> tzinfo:
    """The browser's time zone (UTC when the browser did not say)."""
    return common.zone(st.context.timezone)


def windows_shown() -> int:
    """How many of a model's newest windows to read: the sidebar's choice, shared by the pages."""
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
            f"The link asks for {param} “{common.md(raw)}”, which is not among the choices. "
            + missing_hint
        )
    choice: T = st.selectbox(label, options, key=key, format_func=format_func)
    st.query_params[param] = st.session_state[applied] = to_param(choice)
    return choice


def pick_model(*, key: str) -> ModelSettings:
    """The model picker a model's pages open with (``?model=…``); stops the page when the config
    names no model, since nothing below it has anything to show."""
    settings = data.settings()
    name = pick("Model", [m.name for m in settings.models], "model", key=key)
    model = settings.model(name or "")
    if model is None:
        st.stop()
    return model


def pick_window(
    starts: Sequence[int], *, key: str, default: int | None, format_func: Callable[[int], str]
) -> int | None:
    """The window picker (``?window=…``): a link may name a window by its start or by any moment
    inside it, and one older than the windows shown says how to reach it."""
    size = data.settings().windows.size_seconds
    return pick(
        "Window",
        starts,
        "window",
        key=key,
        default=default,
        from_param=lambda text: common.parse_window(text, starts, size),
        format_func=format_func,
        missing_hint=OLDER_WINDOW_HINT,
    )


def frame(rows: Sequence[Any]) -> pd.DataFrame:
    """A table of info dataclasses, one column per field."""
    return pd.DataFrame([dataclasses.asdict(r) for r in rows])


def counts(shown: Mapping[str, int]) -> None:
    """Counts side by side (label → number) that wrap onto a second line on a phone, where
    columns would stack them into a screen of their own."""
    with st.container(horizontal=True):
        for label, value in shown.items():
            st.metric(label, value, width=COUNT_PX)


def number_text(value: float | None, spec: str, unit: str = "") -> str:
    """A metric's text, with a dash where there is no value yet (no labels, no p-value)."""
    return "–" if value is None else f"{value:{spec}}{unit}"


def coloured(
    table: pd.DataFrame,
    column: str,
    colour_of: Callable[[str], str],
    text_of: Callable[[str], str] | None = None,
) -> Any:
    """The table with its ``column`` cells (a health, a severity, a state) written as
    ``text_of`` says (a glyph and the word, so the colour is never the only cue; as they are
    without it) and coloured by ``colour_of`` the stored value, their text dark or white,
    whichever reads better."""
    colours = [colour_of(value) for value in table[column]]
    shown = table.assign(**{column: table[column].map(text_of)}) if text_of else table
    css = [f"background-color: {c}; color: {ink_on(c)}; font-weight: 600" for c in colours]
    return shown.style.apply(lambda _: css, subset=[column])


def ink_on(background: str) -> str:
    """Black or white text on a ``#rrggbb`` background, whichever contrasts more (WCAG 2
    relative luminance): white on amber or light grey is hard to read."""
    channels = [int(background[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    r, g, b = (c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels)
    luminance = 0.2126 * r + 0.7152 * g + 0.0722 * b
    # contrast with black (L + 0.05) / 0.05 against with white 1.05 / (L + 0.05)
    return "black" if (luminance + 0.05) ** 2 > 0.0525 else "white"


def severity_badge(severity: str, text: str) -> str:
    """Markdown for a badge: the severity's glyph and ``text`` (escaped), on the scheme's hue
    (Streamlit's named colours: blue ok, orange warning, red only for critical)."""
    colour = {"critical": "red", "warning": "orange", "ok": "blue"}.get(severity, "gray")
    glyph = common.severity_glyph(severity)
    return f":{colour}-badge[{glyph + ' ' if glyph else ''}{common.md(text)}]"


def feature_link(model: str, feature: str, window: int | None, label: str) -> None:
    """A link to a feature's evidence: the second click from the overview to a drifting feature."""
    params = {"model": model, "feature": feature}
    if window is not None:
        params["window"] = str(window)
    st.page_link(
        FEATURE_PAGE, label=common.md(label), query_params=params, icon=":material/query_stats:"
    )


def no_reference(model: str) -> None:
    """Without a reference nothing can drift: say how to make one, from files or from the stream."""
    st.warning(
        f"**{common.md(model)}** has no reference profile, so no drift can be judged. Compute one "
        f"from the training data:\n\n`{common.baseline_hint(model)}`\n\n(one column per feature, "
        "plus `prediction`; add `--label-column` and `--score-column` for reference performance), "
        f"or from a period of the stream when the model was good:\n\n`driftwatch baseline set "
        f"--model {model} --from-stream --start now-2h --end now-1h`"
    )
