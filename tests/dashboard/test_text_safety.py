"""Hostile text and a colour-blind-safe palette (issue 17, items 9 and 2).

Versions, reasons, comments, ids and signed-in names come from events, people and proxies. The
pure tests pin the escaping helpers; the page tests store hostile values with the daemon's own
writers and check that every piece of Markdown the pages send shows them literally: no link, no
image, no HTML, no Streamlit directive or LaTeX. The palette test simulates protanopia,
deuteranopia and tritanopia (Machado, Oliveira and Fernandes 2009, severity 1) and asserts that
ok, warning and critical stay apart in CIELAB.
"""

from __future__ import annotations

import itertools
import json
import re
import string
import time
from pathlib import Path
from typing import Any

import pytest
import redis
from streamlit.testing.v1 import AppTest

from dashboard.figures import common, distribution, verdicts
from monitor.store.evaluations import EvaluationStore
from monitor.store.keys import Keys
from monitor.store.lease import Lease
from monitor.store.query import Query
from monitor.store.retrain import Change, RetrainStore
from monitor.vocab.profile import CategoricalProfile
from monitor.vocab.retrain import RetrainRequest
from monitor.vocab.silences import Silence
from monitor.vocab.verdicts import FeatureQuality, Verdict, WindowEvaluation
from tests.dashboard.conftest import Deployment, base_doc, write_config

LINK = "[Click to re-authenticate](https://evil.example/login)"
IMAGE = "![t](http://attacker.example/track.png)"
HTML = "<img src=x onerror=alert(1)>"
HOSTILE = f"{LINK} {IMAGE} {HTML} :red[x] :material/bolt: $x^2$ `code` **b** http://evil.example"
SAMPLES = [
    LINK,
    IMAGE,
    HTML,
    ":red[x]",
    ":red-badge[fake]",
    ":material/warning:",
    "$x$",
    "$$\\int$$",
    "`x`",
    "```\nblock\n```",
    "# heading\n- item",
    "a\\[b](c)",
    "<https://evil.example>",
    "www.evil.example",
    HOSTILE,
]
WINDOW_START = 1_795_449_600


def unescaped(source: str) -> str:
    """What Markdown would interpret: ``source`` with every backslash-escaped pair removed."""
    return re.sub(r"\\.", "", source, flags=re.DOTALL)


def literal(source: str) -> str:
    """The text a reader sees of escaped ``source``: each escaped pair as its character, the
    invisible word joiners that break autolinks left out."""
    return re.sub(r"\\(.)", r"\1", source, flags=re.DOTALL).replace(common.WORD_JOINER, "")


# --- the helpers ----------------------------------------------------------------------------------


@pytest.mark.parametrize("value", SAMPLES)
def test_md_leaves_nothing_to_interpret_and_shows_the_text(value: str) -> None:
    out = common.md(value)
    assert not set(unescaped(out)) & set(string.punctuation), out
    assert "\n" not in out  # no block (heading, list, fence) can start inside a sentence
    assert literal(out) == " ".join(value.splitlines())


@pytest.mark.parametrize(
    "value", ["https://evil.example/x", "HTTP://evil.example", "www.evil.example", "a@evil.example"]
)
def test_md_breaks_what_the_renderer_would_autolink(value: str) -> None:
    """Bare URLs and addresses are linked after escapes are undone: a word joiner breaks them
    (``test_browser_hostile.py`` checks the rendered page in Chromium)."""
    out = common.md(value)
    assert common.WORD_JOINER in out and literal(out) == value


def test_md_keeps_plain_words_and_non_ascii_as_they_are() -> None:
    assert common.md("fraud detector 2") == "fraud detector 2"
    assert common.md("größe ✓") == "größe ✓"
    assert common.md(3) == "3"


def test_plain_escapes_plotly_html() -> None:
    assert common.plain(HTML) == "&lt;img src=x onerror=alert(1)&gt;"
    assert common.plain("<a href='x'>a & b</a>") == "&lt;a href='x'&gt;a &amp; b&lt;/a&gt;"


def test_figures_escape_stored_names() -> None:
    verdict = Verdict("m", "amount", "psi", 0.3, 0.2, None, 400, "drift", "critical",
                      WINDOW_START, HTML, 0.01)  # fmt: skip
    ev = WindowEvaluation("m", WINDOW_START, HTML, HTML, 400, 0, 0.0, [verdict])
    info = verdicts.heatmap_info([ev], ["amount", HTML], common.zone(None))
    heat = verdicts.verdicts_heatmap(info)
    shown = heat.to_json()
    assert "<img" not in shown and "&lt;img" in shown
    assert common.plain(HTML) in heat.data[0].y  # the row of a feature named in HTML
    (critical,) = [t for t in heat.data if t.name == "critical"]  # amount's cell, marked
    assert list(critical.y) == ["amount"]
    assert critical.marker.symbol == verdicts.MARKS["critical"][0]
    profile = CategoricalProfile([HTML], [HTML], [5, 0, 0, 0], 5, 0)
    info = distribution.distribution_info("plan", profile, [(f"reference {HTML}", [5, 0, 0, 0])])
    shown = distribution.distribution_bars(info).to_json()
    assert "<img" not in shown and "&lt;img" in shown


# --- the palette ----------------------------------------------------------------------------------

#: Machado et al. (2009), severity 1.0, applied to linear RGB.
CVD = {
    "protanopia": ((0.152286, 1.052583, -0.204868), (0.114503, 0.786281, 0.099216),
                   (-0.003882, -0.048116, 1.051998)),
    "deuteranopia": ((0.367322, 0.860646, -0.227968), (0.280085, 0.672501, 0.047413),
                     (-0.011820, 0.042940, 0.968881)),
    "tritanopia": ((1.255528, -0.076749, -0.178779), (-0.078411, 0.930809, 0.147602),
                   (0.004733, 0.691367, 0.303900)),
    "typical": ((1, 0, 0), (0, 1, 0), (0, 0, 1)),
}  # fmt: skip
#: CIELAB ΔE (CIE76) the verdict colours keep under every simulation; about 2 is a just
#: noticeable difference, and the old green/red pair fell to 27 under deuteranopia.
MIN_DELTA_E = 40
#: The greys (no verdict, too few rows) against the verdict colours: they also differ in glyph.
MIN_DELTA_E_GREY = 30


def _linear(hex_colour: str) -> list[float]:
    channels = [int(hex_colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    return [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]


def _lab(rgb: list[float]) -> tuple[float, float, float]:
    """Linear sRGB → CIELAB (D65)."""
    m = ((0.4124, 0.3576, 0.1805), (0.2126, 0.7152, 0.0722), (0.0193, 0.1192, 0.9505))
    white = [sum(row) for row in m]
    x, y, z = (sum(a * c for a, c in zip(row, rgb, strict=True)) / w
               for row, w in zip(m, white, strict=True))  # fmt: skip

    def f(t: float) -> float:
        return t ** (1 / 3) if t > (6 / 29) ** 3 else t / (3 * (6 / 29) ** 2) + 4 / 29

    return 116 * f(y) - 16, 500 * (f(x) - f(y)), 200 * (f(y) - f(z))


def simulated_lab(hex_colour: str, matrix: Any) -> tuple[float, float, float]:
    rgb = _linear(hex_colour)
    seen = [min(1.0, max(0.0, sum(a * c for a, c in zip(row, rgb, strict=True)))) for row in matrix]
    return _lab(seen)


def delta_e(a: str, b: str, matrix: Any) -> float:
    la, lb = simulated_lab(a, matrix), simulated_lab(b, matrix)
    return sum((p - q) ** 2 for p, q in zip(la, lb, strict=True)) ** 0.5


@pytest.mark.parametrize("vision", list(CVD))
def test_severity_colours_stay_apart_under_colour_blindness(vision: str) -> None:
    colours = common.SEVERITY_COLORS
    for a, b in itertools.combinations(("ok", "warning", "critical"), 2):
        d = delta_e(colours[a], colours[b], CVD[vision])
        assert d >= MIN_DELTA_E, f"{a}/{b} under {vision}: ΔE {d:.0f}"
    for a in ("ok", "warning", "critical"):
        d = delta_e(colours[a], colours["insufficient"], CVD[vision])
        assert d >= MIN_DELTA_E_GREY, f"{a}/insufficient under {vision}: ΔE {d:.0f}"


def test_the_check_rejects_the_old_green_and_red() -> None:
    assert delta_e("#2e9e5b", "#d62728", CVD["deuteranopia"]) < MIN_DELTA_E


def test_every_severity_has_a_glyph_and_red_means_critical() -> None:
    assert all(common.SEVERITY_GLYPHS[s] for s in common.SEVERITIES if s != "none")
    assert len(set(common.SEVERITY_GLYPHS.values())) == len(common.SEVERITIES)
    r, g, b = (int(common.SEVERITY_COLORS["critical"][i : i + 2], 16) for i in (1, 3, 5))
    assert r > 2 * max(g, b)
    for severity in ("none", "insufficient", "ok", "warning"):
        r, g, b = (int(common.SEVERITY_COLORS[severity][i : i + 2], 16) for i in (1, 3, 5))
        assert not r > 2 * max(g, b), severity


# --- the pages ------------------------------------------------------------------------------------

#: Elements whose value Streamlit renders as Markdown.
MARKDOWN_KINDS = (
    "title",
    "subheader",
    "markdown",
    "caption",
    "info",
    "warning",
    "error",
    "success",
)


@pytest.fixture
def hostile(
    tmp_path: Path, redis_url: str, key_prefix: str, redis_client: redis.Redis
) -> Deployment:
    """fraud-detector's newest window under a hostile model version and reference, with a
    hostile verdict reason and unseen category; a retraining request with a hostile reason; a
    silence with a hostile comment. Written by the daemon's own store writers."""
    doc = base_doc("127.0.0.1:9", redis_url, key_prefix, ["p", "o", "d"])
    doc["alerting"] = {"enabled": True, "route": {"receiver": "ops"},
                       "receivers": [{"name": "ops"}]}  # fmt: skip
    doc["retraining"] = {
        "enabled": True,
        "allowed_hosts": ["hooks.example.com"],
        "targets": [{"name": "hook", "kind": "webhook", "url": "https://hooks.example.com/dw"}],
        "policies": [{"name": "critical", "target": "hook", "approval": "required"}],
    }
    doc["dashboard"] = {"writable": True}
    path = tmp_path / "config.toml"
    dep = Deployment(path, write_config(path, doc), redis_url)
    keys = Keys(key_prefix)
    now = time.time()
    fence = Lease(redis_client, keys.evaluator_lease, keys.evaluator_fence, "test", 10_000).hold()
    assert fence is not None
    verdict = Verdict("fraud-detector", "amount", "psi", 0.4, 0.2, 0.001, 400, "drift",
                      "critical", WINDOW_START, HOSTILE, 0.01, (f"unseen {HOSTILE}",))  # fmt: skip
    quality = {"merchant": FeatureQuality(0.0, 0.0, None, 0.1, None, {HOSTILE: 40})}
    ev = WindowEvaluation("fraud-detector", WINDOW_START, HOSTILE, HOSTILE, 400, 0, now,
                          [verdict], quality=quality)  # fmt: skip
    EvaluationStore(redis_client, keys, 86_400_000).save(fence, ev, str(WINDOW_START), "", 0.0)
    request = RetrainRequest(
        id=f"retrain:fraud-detector:{int(now)}",
        model="fraud-detector",
        policy="critical",
        target="hook",
        state="awaiting_approval",
        created_at=now - 60,
        requested_by=HOSTILE,
        reason=HOSTILE,
        payload=json.dumps({"reason": HOSTILE}),
    )
    assert RetrainStore(redis_client, keys).open(request) is Change.DONE
    silences = Query(redis_client, dep.settings).silence_store()
    silences.add(Silence.new(['model="fraud-detector"'], 3600, HOSTILE, HOSTILE, now - 60))
    return dep


def markdown_sources(at: AppTest) -> list[str]:
    """Everything the page sends to be rendered as Markdown: prose, badges, labels of metrics,
    page links and tabs."""
    sources = [str(e.value) for kind in MARKDOWN_KINDS for e in at.get(kind)]
    sources += [m.label for m in at.metric]
    sources += [link.proto.label for link in at.get("page_link")]
    sources += [t.label for t in at.tabs]
    return sources


def assert_literal(at: AppTest, expect: str) -> None:
    """No Markdown source interprets hostile text, and ``expect`` is shown (escaped) somewhere."""
    assert not at.exception, at.exception
    sources = markdown_sources(at)
    for source in sources:
        inert = unescaped(source)
        for marker in ("](", "<img", "<a ", ":red[", ":material/bolt", "$x^2$", "http://evil"):
            assert marker not in inert, source
    assert any(common.md(expect) in s for s in sources), sources


def test_the_model_page_shows_a_hostile_version_as_text(
    hostile: Deployment, app_factory: Any
) -> None:
    at = app_factory(hostile, "model", model="fraud-detector")
    assert_literal(at, HOSTILE)
    caption = next(c.value for c in at.caption if "version" in c.value)
    assert f"version {HOSTILE} · reference none" in literal(caption)  # as written


def test_the_feature_page_shows_hostile_references_and_reasons_as_text(
    hostile: Deployment, app_factory: Any
) -> None:
    at = app_factory(hostile, "feature", model="fraud-detector", feature="amount",
                     window=str(WINDOW_START))  # fmt: skip
    assert_literal(at, f"unseen {HOSTILE}")
    assert any(HOSTILE in literal(m.value) for m in at.markdown)  # the reason, as written


def test_the_retraining_and_alerts_pages_show_hostile_text_as_text(
    hostile: Deployment, app_factory: Any
) -> None:
    at = app_factory(hostile, "retraining")
    assert not at.exception
    assert HOSTILE in set(
        next(d.value for d in at.dataframe if "reason" in d.value.columns)["reason"]
    )
    for source in markdown_sources(at):
        assert "](" not in unescaped(source), source

    at = app_factory(hostile, "alerts", signed_in=HOSTILE)  # a hostile login name or header
    assert_literal(at, HOSTILE)
    assert f"Author: {HOSTILE}" in [literal(c.value) for c in at.caption]
    silences = next(d.value for d in at.dataframe if "comment" in d.value.columns)
    assert list(silences["comment"]) == [HOSTILE]
