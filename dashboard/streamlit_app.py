"""Driftwatch dashboard: the ``st.navigation`` router and the frame every page shares.

Started by ``driftwatch dashboard --config config.toml`` (or ``streamlit run`` on this file with
``DRIFTWATCH_CONFIG`` set). The frame does what every page needs once: optional login, the
sidebar (auto-refresh, windows shown, config in use) and one error boundary, so a Redis outage or
a broken config shows what to do instead of a traceback.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import msgspec
import redis
import streamlit as st

from dashboard import data, widgets
from dashboard.figures.common import md
from monitor.errors import DriftwatchError
from monitor.store.client import refusal

REFRESH_CHOICES = (0, 5, 10, 15, 30, 60, 300)
WINDOW_CHOICES = (24, 48, 168, 336, 720)
#: Session flag set by a full run, so the refresh fragment's first (drawing) run does not rerun.
_FULL_RUN = "_refresh_full_run"
#: The tab's icon, served by the dashboard itself: a ``:material/…:`` page icon makes every
#: browser fetch it from fonts.gstatic.com, which fails (and logs an error) offline.
FAVICON = Path(__file__).with_name("favicon.svg")
#: Styles every page shares. Plotly's toolbar (zoom, pan, download) is hidden: on a phone it
#: covers the legends, and the charts are read by hovering. Page links wrap instead of being
#: cut. Wide screens get narrower side margins, so the overview's key columns fit at 1400 px.
STYLE = """<style>
.js-plotly-plot .modebar-container { display: none !important; }
[data-testid="stPageLink"] p { white-space: normal; overflow-wrap: anywhere; }
@media (min-width: 1200px) {
  [data-testid="stMainBlockContainer"] { padding-left: 1rem; padding-right: 1rem; }
}
</style>"""


def _signed_in() -> bool:
    """True when the viewer may see the app: no login configured, or logged in."""
    user = widgets.signed_in_user()
    if not widgets.auth_configured():
        if user:
            st.sidebar.caption(f"signed in as {md(user)} (reverse proxy)")
        return True
    if user:
        st.sidebar.caption(f"signed in as {md(user)}")
        st.sidebar.button("Log out", on_click=st.logout)
        return True
    st.title("Driftwatch")
    st.write("This dashboard requires signing in.")
    st.button("Log in", on_click=st.login, type="primary")
    return False


def _auto_refresh(seconds: int) -> None:
    """Rerun the whole app every ``seconds``: a timed fragment whose timed runs call st.rerun."""

    def tick() -> None:
        if st.session_state.pop(_FULL_RUN, False):
            return
        st.rerun()

    st.session_state[_FULL_RUN] = True
    st.fragment(run_every=seconds)(tick)()


def _sidebar(default_refresh: int) -> None:
    """Controls every page shares, and which config and zone the numbers come from."""
    choices = sorted({*REFRESH_CHOICES, default_refresh})
    refresh = st.sidebar.selectbox(
        "Auto-refresh",
        choices,
        index=choices.index(default_refresh),
        format_func=lambda s: "off" if s == 0 else f"every {s} s",
        key="refresh_seconds",
    )
    st.sidebar.selectbox(
        "Windows shown",
        WINDOW_CHOICES,
        index=WINDOW_CHOICES.index(widgets.DEFAULT_WINDOWS_SHOWN),
        help="How many of each model's newest evaluated windows the model and feature pages read.",
        key=widgets.WINDOWS_SHOWN,
    )
    if st.sidebar.button("Refresh now", icon=":material/refresh:"):
        st.cache_data.clear()
    zone = widgets.viewer_zone()
    access = "writable: silences" if data.writable() else "read-only"
    st.sidebar.caption(
        f"config `{data.config_path()}` · {access} · times in {zone} · "
        f"drawn {datetime.now(zone):%H:%M:%S}"
    )
    if refresh:
        _auto_refresh(refresh)


def main() -> None:
    """Route to the page, behind the login and the error boundary every page shares."""
    st.set_page_config(page_title="Driftwatch", page_icon=str(FAVICON), layout="wide")
    pages = {
        "Monitor": [
            st.Page(
                "app_pages/overview.py", title="Overview", icon=":material/dashboard:", default=True
            ),
            st.Page("app_pages/model.py", title="Model", icon=":material/model_training:"),
            st.Page("app_pages/feature.py", title="Feature", icon=":material/query_stats:"),
        ],
        "Act": [
            st.Page("app_pages/alerts.py", title="Alerts", icon=":material/notifications:"),
            st.Page("app_pages/retraining.py", title="Retraining", icon=":material/autorenew:"),
        ],
    }
    page = st.navigation(pages)
    st.html(STYLE)
    if not _signed_in():
        return
    try:
        settings = data.settings()
    except DriftwatchError as exc:
        st.error(f"The dashboard cannot read its config: {md(exc)}")
        return
    _sidebar(settings.dashboard.refresh_seconds)
    try:
        page.run()
    except redis.RedisError as exc:
        refused = refusal(exc, settings.redis)
        if refused is not None:  # a wrong or rotated password, a missing right: not an outage
            st.error(f"{md(refused)} (in `{md(data.config_path())}`)")
            return
        st.error(
            f"Redis does not answer ({type(exc).__name__}: {md(exc)}). Start it (`driftwatch "
            f"services up`) or fix `redis.url` (or `redis.sentinels`) in "
            f"`{data.config_path()}`; this page retries on refresh."
        )
    except DriftwatchError as exc:  # e.g. data a newer release migrated: its line has the fix
        st.error(md(exc))
    except msgspec.ValidationError as exc:
        st.error(
            f"Stored data does not match this dashboard's format ({md(exc)}). Run the dashboard "
            "from the same Driftwatch version as the daemon."
        )


main()
