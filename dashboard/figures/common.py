"""What every figure family and page shares: severities and their colours, row names, the viewer's
time zone, picking one evaluation per window, and the Plotly layout.

Kept in one module so that a colour, a row label or a time format means the same on every page:
the families (``drift.py``, ``performance.py``, …) build on these and never redefine them.

Times are epoch seconds in the store and UTC on the wire; info objects carry them as aware
datetimes in the viewer's zone, so every chart and table shows local time and says which zone.
"""

from __future__ import annotations

import html
import math
import re
import string
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, tzinfo
from typing import Literal, TypeVar
from urllib.parse import urlencode
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import plotly.graph_objects as go

from monitor.config import ModelSettings
from monitor.vocab.verdicts import Verdict, WindowEvaluation

K = TypeVar("K")

# --- severities and colours -----------------------------------------------------------------------

Severity = Literal["none", "insufficient", "ok", "warning", "critical"]
#: Severities from "nothing to say" to worst: heatmap codes are indices into this tuple.
SEVERITIES: tuple[Severity, ...] = ("none", "insufficient", "ok", "warning", "critical")
#: One colour per severity everywhere: a colour means the same in the overview, the heatmap and
#: every time series. Okabe–Ito blue and orange and a dark red, so that ok, warning and critical
#: stay apart under protanopia, deuteranopia and tritanopia (tests/dashboard/test_text_safety.py
#: simulates them, Machado et al. 2009, and asserts a minimum CIELAB distance); red means
#: critical and nothing else.
SEVERITY_COLORS: dict[str, str] = {
    "none": "#ececec",  # nothing evaluated: no reference, or no window
    "insufficient": "#a8a8a8",  # too few rows for a verdict
    "ok": "#0072b2",
    "warning": "#e69f00",
    "critical": "#b2182b",
}
#: A glyph per severity, drawn in heatmap cells and badges: colour is never the only cue.
SEVERITY_GLYPHS: dict[str, str] = {
    "none": "",
    "insufficient": "?",
    "ok": "✓",
    "warning": "!",
    "critical": "✕",
}
#: Series colours that never mean a severity: the reference, the window looked at, a comparison.
SERIES_COLORS = ("#7a7a7a", "#56b4e9", "#9467bd")
#: Shade of the "no change" band behind a drift statistic or a performance metric (ok's hue).
BAND_OK = "rgba(0, 114, 178, 0.12)"
#: Severities that call for action: a signal, a marker in its severity's colour.
ACTIVE_SEVERITIES: tuple[Severity, ...] = ("warning", "critical")
#: Colours of lines that stand for categories (features, rates) on one chart: Okabe–Ito's sky
#: blue and bluish green, then purples, browns and neutrals; no blue, orange, red or pink that
#: could read as a severity.
CATEGORY_COLORS = (
    "#56b4e9",
    "#009e73",
    "#9467bd",
    "#7a7a7a",
    "#000000",
    "#8c6d31",
    "#17becf",
    "#5e3c99",
)


def severity_glyph(severity: str) -> str:
    """The glyph standing beside a severity's colour (none for an unknown severity)."""
    return SEVERITY_GLYPHS.get(severity, "")


def severity_text(severity: str) -> str:
    """A severity as people read it in a table cell or a hover: its glyph and its word."""
    return f"{severity_glyph(severity)} {severity}".strip()


def worst_first(severity: str) -> int:
    """Sort key putting the worst severity first (critical, warning, ok, insufficient, none)."""
    return -SEVERITIES.index(severity) if severity in SEVERITIES else 0


# --- text from the store --------------------------------------------------------------------------

#: Every ASCII punctuation character: CommonMark lets a backslash escape each of them, which also
#: disarms Streamlit's extensions (``:red[…]`` directives, ``:material/…:`` icons, ``$…$`` LaTeX).
_MARKDOWN_SPECIALS = frozenset(string.punctuation)
#: Invisible, and breaks an autolink where it stands.
WORD_JOINER = "\u2060"
#: Where an autolink would start: ``scheme:|//``, ``www|.``, ``name@|domain``.
_AUTOLINK = re.compile(r"(?<=:)(?=//)|(?<=www)(?=\.)|(?<=@)", re.IGNORECASE)


def md(value: object) -> str:
    """``value`` as literal text inside Streamlit Markdown.

    Versions, categories, ids, reasons, comments and header-derived names come from events,
    people and proxies: shown as Markdown they could become a link, an image the viewer's
    browser fetches, or fake styling. Every punctuation character is backslash-escaped and line
    breaks become spaces, so the text shows as written and nothing in it is interpreted.
    Streamlit's renderer also turns bare URLs, ``www.`` names and e-mail addresses into links
    after escapes are undone, so an invisible word joiner (U+2060) goes where each would start
    (found by ``tests/dashboard/test_browser_hostile.py`` in Chromium).
    """
    text = _AUTOLINK.sub(WORD_JOINER, " ".join(str(value).splitlines()))
    return "".join(f"\\{c}" if c in _MARKDOWN_SPECIALS else c for c in text)


#: A run of backticks, which a code span's delimiters must outnumber.
_BACKTICKS = re.compile(r"`+")


def code(text: str) -> str:
    """``text`` as a Markdown code span: monospace, and shown exactly as written, since nothing
    inside a code span is Markdown, HTML, a directive, a formula or a link. Commands built from
    stored text (a matcher, an id) are shown so; ``st.code`` would load a syntax highlighter of
    1.5 MB into the page for them. The delimiters are one backtick longer than the longest run
    inside, and padded with the space Markdown strips, so backticks inside or at the ends stay
    text. A line break would become a space: one span per line. One change remains, harmless:
    Streamlit rewrites ``:material/`` as ``:material_`` in all Markdown, code spans too (checked
    in Chromium: links, images, HTML, directives, formulas, shortcodes stay text; long lines wrap).

    >>> code("a `b` c"), code("``")
    ('`` a `b` c ``', '``` `` ```')
    """
    fence = "`" * (max(map(len, _BACKTICKS.findall(text)), default=0) + 1)
    return f"{fence} {text} {fence}"


def plain(value: object) -> str:
    """``value`` as literal text in Plotly titles, legends and hover labels, which render a
    subset of HTML (``<a>``, ``<b>``, ``<br>``): ``&``, ``<`` and ``>`` become entities."""
    return html.escape(str(value), quote=False)


# --- rows: features and model outputs -------------------------------------------------------------

MODEL_ROW = "__model__"
PREDICTION_ROW = "__prediction__"
DECISION_ROW = "__decision__"
#: The model's outputs, shown as rows beside its features.
OUTPUT_ROWS = (PREDICTION_ROW, DECISION_ROW)
ROW_LABELS = {
    MODEL_ROW: "model (all features)",
    PREDICTION_ROW: "prediction (model output)",
    DECISION_ROW: "decision (predicted class)",
}


def feature_label(feature: str) -> str:
    """A row's readable name: the stored names of the model-level and output rows are internal."""
    return ROW_LABELS.get(feature, feature)


def rows_of(model: ModelSettings) -> list[str]:
    """What a verdict can be about: the model's features, then its outputs (the decisions only
    for a binary model, whose prediction row is its score)."""
    outputs = OUTPUT_ROWS if model.task == "binary" else (PREDICTION_ROW,)
    return [*model.features, *outputs]


#: The address paths of the model and feature pages (Streamlit names a page's path after its file).
MODEL_PATH, FEATURE_PATH = "model", "feature"


def deep_link(page: str, params: Mapping[str, str]) -> str:
    """A page's address relative to the app, its state in query parameters (docs/dashboard.md,
    Deep links): what a table's link column opens, so a row leads to its evidence."""
    return f"{page}?{urlencode(params)}"


def baseline_hint(model: str) -> str:
    """What to run when a model has no reference profile yet."""
    return f"driftwatch baseline set --model {model} --file train.csv"


# --- time -----------------------------------------------------------------------------------------

#: How a moment is written in text (hover labels, pickers, notices); axes format their own ticks.
TIME_FORMAT = "%Y-%m-%d %H:%M %Z"


def zone(name: str | None) -> tzinfo:
    """The viewer's zone from the browser's IANA name; UTC when unknown (tests, old browsers)."""
    try:
        return ZoneInfo(name) if name else ZoneInfo("UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def zone_label(tz: tzinfo) -> str:
    """The zone's IANA name, which time axes show so nobody mistakes local time for UTC."""
    return str(getattr(tz, "key", tz))


def local(ts: float, tz: tzinfo) -> datetime:
    """A stored epoch time in the viewer's zone."""
    return datetime.fromtimestamp(ts, tz)


def stamp(ts: float, tz: tzinfo) -> str:
    """A stored epoch time as text in the viewer's zone, in :data:`TIME_FORMAT`."""
    return f"{local(ts, tz):{TIME_FORMAT}}"


# --- windows and their verdicts -------------------------------------------------------------------


def windows_by_start(evaluated: Mapping[K, WindowEvaluation]) -> dict[int, K]:
    """The window id standing for each window start, oldest first: where two model versions
    share a window, the one that served more traffic (the comparison view separates versions)."""
    best: dict[int, K] = {}
    for wid, ev in evaluated.items():
        held = best.get(ev.window_start)
        if held is None or ev.n > evaluated[held].n:
            best[ev.window_start] = wid
    return {start: best[start] for start in sorted(best)}


def newest_per_window(evaluations: Iterable[WindowEvaluation]) -> list[WindowEvaluation]:
    """One evaluation per window start, oldest first, chosen as by :func:`windows_by_start`."""
    evaluated = dict(enumerate(evaluations))
    return [evaluated[i] for i in windows_by_start(evaluated).values()]


def window_times(windows: Iterable[WindowEvaluation], tz: tzinfo) -> tuple[datetime, ...]:
    """The windows' starts in the viewer's zone: the x axis of every time series."""
    return tuple(local(ev.window_start, tz) for ev in windows)


def verdict_of(ev: WindowEvaluation, feature: str) -> Verdict | None:
    """A window's verdict about one row, if it judged that row."""
    return next((v for v in ev.verdicts if v.feature == feature), None)


def parse_window(text: str | None, starts: Sequence[int], size_seconds: int) -> int | None:
    """The window a deep link names, by its start or any moment inside it: epoch seconds or
    ISO 8601 (no zone = UTC). None when absent, unreadable or not among ``starts``."""
    if not text:
        return None
    try:
        moment = float(text)
    except ValueError:
        try:
            parsed = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
        except ValueError:
            return None
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=ZoneInfo("UTC"))
        moment = parsed.timestamp()
    return next((s for s in starts if s <= moment < s + size_seconds), None)


# --- numbers --------------------------------------------------------------------------------------


def number(value: float | None) -> float:
    """Stored numbers may be null where a statistic was undefined; charts want NaN."""
    return math.nan if value is None else float(value)


def sig(value: float | None, digits: int = 3) -> str:
    """A statistic for people: ``digits`` significant digits (0.279, 0.00755, 0.0002), a dash where
    it is undefined — one precision everywhere, not whatever the float happened to print.

    >>> sig(0.0075451), sig(0.27913), sig(None), sig(float("nan")), sig(1234.5), sig(2e-7)
    ('0.00755', '0.279', '–', '–', '1,234', '2e-07')
    """
    if value is None or value != value:
        return "–"
    if abs(value) >= 10**digits:
        return f"{value:,.0f}"
    return f"{value:.{digits}g}"


def percent(value: float | None, digits: int = 3) -> str:
    """A share for people, as a percentage of ``digits`` significant digits (10.2%, 0.755%, 0%):
    the rule of :func:`sig` for rates; a dash where it is undefined.

    >>> percent(0.10234), percent(0.0075451), percent(0.0), percent(None)
    ('10.2%', '0.755%', '0%', '–')
    """
    return "–" if value is None or value != value else f"{sig(100 * value, digits)}%"


def present(values: Iterable[float]) -> list[float]:
    """The values that are not NaN: axis ranges and scales must ignore windows without a value."""
    return [v for v in values if v == v]  # NaN is the only value unequal to itself


# --- layout ---------------------------------------------------------------------------------------


#: A chart's margins before Plotly measures its labels, as wide as the usual ones need at
#: Streamlit's 12 px font (measured in Chromium at 1400 px: tick labels and axis title 65-81 px
#: on the left, a two-line date axis and its title 65-88 px below, a one-line legend 43-46 px
#: above). Plotly still widens a margin its labels do not fit (``automargin``), but by drawing the
#: whole chart again: with margins of 10 px every chart was drawn twice.
MARGINS = {"l": 82, "r": 10, "t": 48, "b": 82}
#: The top margin of a chart without a legend (a single trace).
TOP_WITHOUT_LEGEND = 30


def layout(fig: go.Figure, x_title: str, y_title: str, height: int = 320) -> go.Figure:
    """The frame every chart shares: margins that fit its labels (:data:`MARGINS`), legend on
    top, titled axes."""
    top = MARGINS["t"] if len(fig.data) > 1 else TOP_WITHOUT_LEGEND
    fig.update_layout(  # no template: st.plotly_chart applies Streamlit's theme
        height=height,
        margin=MARGINS | {"t": top},
        legend={"orientation": "h", "y": 1.02, "yanchor": "bottom", "x": 0},
        xaxis_title=x_title,
        yaxis_title=y_title,
    )
    # Tick labels fit the margins: Plotly need not measure every label against the chart's edge
    # after placing each one (its default on number and date axes, a tenth of a chart's draw).
    fig.update_xaxes(ticklabeloverflow="allow")
    fig.update_yaxes(ticklabeloverflow="allow")
    return fig


def time_axis(zone_name: str) -> str:
    """A time axis's title, naming the zone its ticks are in."""
    return f"window start ({zone_name})"
