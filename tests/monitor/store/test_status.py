"""The ``driftwatch status`` outputs: the ``--json`` contract (the committed JSON Schema, and
real output of the command on a Redis filled by the store writers decoding into the structs that
define it, with ISO times and rounded numbers), and the table for people."""

from __future__ import annotations

import json
import math
import re
import time
from pathlib import Path

import jsonschema
import msgspec
import pytest
import redis

from monitor import config
from monitor.cli.status import estimate_lines, table_lines
from monitor.store.checkpoint import Checkpoint
from monitor.store.evaluations import EvaluationStore
from monitor.store.keys import Keys
from monitor.store.lease import Lease
from monitor.store.query import ModelStatus
from monitor.store.status import StatusDocument, encode, model_status_doc, schema_text
from monitor.times import iso_utc, parse_ts
from monitor.vocab.counts import IngestCounts
from monitor.vocab.deadletter import UNKNOWN_MODEL
from monitor.vocab.effects import (
    DEAD,
    DEAD_PREFIX,
    JOINED,
    LAST_EVENT_TS,
    OUTCOMES,
    PREDICTIONS,
    Effects,
    window_id,
)
from monitor.vocab.verdicts import (
    ESTIMATED,
    MODEL,
    FeatureQuality,
    Health,
    Severity,
    Status,
    Verdict,
    WindowEvaluation,
)
from tests.support import ROOT, cli

SCHEMA = ROOT / "docs" / "schemas" / "status.v1.json"
WINDOW = 3600
T0 = 1_800_000_000
#: Every key of a model's part of the document, in the order scripts may rely on.
ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
MODEL_KEYS = [
    "model", "owner", "task", "health", "reasons", "since", "predictions", "outcomes", "joined",
    "label_coverage", "mean_label_delay_seconds", "expired_predictions", "orphan_outcomes",
    "dead_letters", "dead_by_reason", "last_event_ts", "change_points", "latest_window", "rolling",
]  # fmt: skip


def verdict(
    feature: str,
    status: Status,
    value: float = 0.4,
    *,
    statistic: str = "psi",
    threshold: float = 0.1,
    p_value: float | None = 0.001,
    reasons: tuple[str, ...] = (),
) -> Verdict:
    severity: Severity = "critical" if status in ("drift", "degraded") else "ok"
    return Verdict(
        model="churn", feature=feature, statistic=statistic, value=value, threshold=threshold,
        p_value=p_value, n=900, status=status, severity=severity, window_start=T0,
        reference_version="r1", expected_false_alarm_rate=0.01, reasons=reasons,
    )  # fmt: skip


def evaluation() -> WindowEvaluation:
    """A window with every part the document shows, NaN where a statistic was not computable."""
    return WindowEvaluation(
        model="churn", window_start=T0, version="v1", reference="r1", n=900, n_labelled=30,
        evaluated_at=T0 + 7200,
        verdicts=[
            verdict("spend", "drift", 0.123456789, reasons=("PSI 0.12 > 0.10",)),
            verdict("plan", "ok", 0.01),
            verdict(MODEL, "drift", 0.5, statistic="drift_share"),
        ],
        performance_verdicts=[
            verdict("auc", "degraded", 0.61, statistic="auc"),
            verdict("brier", "insufficient", math.nan, threshold=math.nan, p_value=None),
        ],
        quality_verdicts=[
            verdict("plan", "degraded", 0.2, statistic="unseen_rate", reasons=("unseen 20%",)),
            verdict("spend", "ok", 0.0, statistic="missing_rate"),
        ],
        quality={
            "spend": FeatureQuality(0.0, 0.0, out_of_range_rate=0.01, mean=42.0),
            "plan": FeatureQuality(0.0, 0.0, unseen_rate=0.2, unseen_categories={"gold": 3}),
        },
        performance={"auc": 0.61, "brier": math.nan},
        reference_performance={"auc": 0.8412345678, "brier": 0.12},
        estimated_performance={"auc": 0.6312345678},
        estimated_bands={"auc": (0.6, 0.66)},
        estimated_verdicts=[verdict(ESTIMATED, "degraded", 0.63, statistic="auc")],
    )  # fmt: skip


@pytest.fixture
def config_path(tmp_path: Path, redis_url: str, key_prefix: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(
        f'[redis]\nurl = "{redis_url}"\nkey_prefix = "{key_prefix}"\n'
        '[[models]]\nname = "churn"\nowner = "churn@example.com"\ntask = "binary"\n'
        'features = { spend = "numeric", plan = "categorical" }\n'
        '[[models]]\nname = "eta"\nowner = "eta@example.com"\ntask = "regression"\n'
        'features = { km = "numeric" }\n'
    )
    return path


@pytest.fixture
def change_point_ts(config_path: Path, redis_client: redis.Redis) -> float:
    """Fill the store as the daemon would: churn counted, evaluated, WARN, one recent change
    point; eta never evaluated; dead letters without a model. Returns the change point's time."""
    settings = config.load(config_path)
    keys = Keys(settings.redis.key_prefix)
    checkpoint = Checkpoint(redis_client, keys, settings.kafka.group_id)
    effects = Effects()
    effects.counters["churn"].update({PREDICTIONS: 900, OUTCOMES: 40, JOINED: 30})
    effects.counters["churn"].update({DEAD: 2, DEAD_PREFIX + "bad_json": 2})
    effects.maximum("churn", LAST_EVENT_TS, T0 + 3599.5)
    effects.counters[UNKNOWN_MODEL].update({DEAD: 1, DEAD_PREFIX + "unknown_model": 1})
    recent = round(time.time() - 60.0, 3)
    effects.change_points.append(("churn", "error", recent))
    effects.change_points.append(("churn", "error", T0 - 10**7))  # long before the span
    checkpoint.apply(checkpoint.claim("t", 0), 0, 1, effects, T0 * 1000, fresh=True)
    store = EvaluationStore(redis_client, keys, retention_ms=10**12)
    fence = Lease(redis_client, keys.evaluator_lease, keys.evaluator_fence, "t", 60_000).hold()
    assert fence is not None
    store.save(fence, evaluation(), window_id(T0, "v1", "r1"), "", 0.0)
    store.save_rolling(fence, evaluation())
    store.save_health(fence, Health("churn", "WARN", ["spend drifted"], T0, T0 + 7200, T0))
    return recent


def test_the_committed_schema_is_the_generated_one() -> None:
    assert SCHEMA.read_text() == schema_text(), (
        "the status document changed: if on purpose, run "
        "`python -m monitor.store.status > docs/schemas/status.v1.json`"
    )


def test_status_json_decodes_into_the_structs_and_validates_against_the_schema(
    config_path: Path, change_point_ts: float
) -> None:
    out = cli("status", "--config", str(config_path), "--json")
    doc = msgspec.json.decode(out, type=StatusDocument)
    plain = json.loads(out)
    assert msgspec.to_builtins(doc) == plain  # nothing dropped or renamed by the structs
    jsonschema.Draft202012Validator(json.loads(SCHEMA.read_text())).validate(plain)

    assert list(plain) == ["generated_at", "models", "unknown_model_dead_letters"]
    assert abs(parse_ts(plain["generated_at"]) - time.time()) < 60
    churn, eta = plain["models"]
    assert list(churn) == list(eta) == MODEL_KEYS
    assert (churn["health"], churn["reasons"], churn["since"]) == (
        "WARN", ["spend drifted"], "2027-01-15T08:00:00Z"
    )  # fmt: skip
    assert churn["last_event_ts"] == iso_utc(T0 + 3599.5)
    assert (churn["predictions"], churn["joined"], churn["dead_by_reason"]) == (
        900, 30, {"bad_json": 2}
    )  # fmt: skip
    assert churn["change_points"] == [{"stream": "error", "ts": iso_utc(change_point_ts)}]
    latest = churn["latest_window"]
    assert (latest["window_start"], latest["window_end"]) == (iso_utc(T0), iso_utc(T0 + WINDOW))
    assert (latest["version"], latest["reference"]) == ("v1", "r1")
    assert [d["feature"] for d in latest["drifted"]] == ["spend"]  # not the model verdict
    assert latest["drifted"][0]["value"] == 0.123457  # 6 significant digits
    assert [v["feature"] for v in latest["quality_raised"]] == ["plan"]
    assert latest["performance"] == {"auc": 0.61, "brier": None}  # NaN is null in JSON
    assert latest["reference_performance"] == {"auc": 0.841235, "brier": 0.12}
    assert latest["performance_verdicts"][1]["value"] is None
    assert latest["quality"]["plan"]["unseen_categories"] == {"gold": 3}
    assert latest["estimated_performance"] == {"auc": 0.631235}
    assert latest["estimated_bands"] == {"auc": [0.6, 0.66]}
    assert latest["estimated_verdicts"][0]["status"] == "degraded"
    assert latest["estimation_refused"] is None
    assert churn["rolling"] == {
        "since": iso_utc(T0), "n": 900, "n_labelled": 30, "drifted": ["spend"],
        "performance": {"auc": 0.61, "brier": None},
    }  # fmt: skip
    assert eta["health"] is eta["latest_window"] is eta["rolling"] is None
    assert eta["since"] is eta["last_event_ts"] is None
    assert eta["reasons"] == eta["change_points"] == []
    assert plain["unknown_model_dead_letters"] == {"unknown_model": 1}
    times = [plain["generated_at"], churn["since"], churn["last_event_ts"], latest["window_end"]]
    assert all(ISO.match(t) for t in times), times


def test_every_time_in_the_schema_is_an_iso_string() -> None:
    """No field of the contract is a Unix time any more: each names the date-time format."""
    text = SCHEMA.read_text()
    assert "Unix" not in text
    # generated_at; a model's since, last_event_ts; a change point's ts; window start, end; rolling
    assert text.count('"format": "date-time"') == 7


def test_encode_rounds_every_number_and_nulls_what_is_not_finite() -> None:
    doc = msgspec.json.decode(
        encode(
            StatusDocument(
                generated_at=iso_utc(T0), models=[], unknown_model_dead_letters={"bad_json": 3}
            )
        )
    )
    assert doc == {
        "generated_at": "2027-01-15T08:00:00Z", "models": [],
        "unknown_model_dead_letters": {"bad_json": 3},
    }  # fmt: skip
    ev = msgspec.structs.replace(
        evaluation(), reference="", version="", performance={"auc": math.inf, "mae": 1234567.891}
    )
    model = config.ModelSettings(name="churn", owner="o", task="binary", features={})
    row = model_status_doc(ModelStatus(model, IngestCounts(), None, ev, None), [], WINDOW)
    out = json.loads(encode(StatusDocument(iso_utc(T0), [row], {})))
    latest = out["models"][0]["latest_window"]
    assert latest["reference"] is None and latest["version"] is None  # never ""
    assert latest["performance"] == {"auc": None, "mae": 1234570.0}


def test_a_model_never_seen_is_all_zeros_and_nulls() -> None:
    model = config.ModelSettings(name="m", owner="o", task="multiclass", features={})
    doc = model_status_doc(ModelStatus(model, IngestCounts(), None, None, None), [], WINDOW)
    assert msgspec.to_builtins(doc) == {
        "model": "m", "owner": "o", "task": "multiclass", "health": None, "reasons": [],
        "since": None, "predictions": 0, "outcomes": 0, "joined": 0, "label_coverage": None,
        "mean_label_delay_seconds": None, "expired_predictions": 0, "orphan_outcomes": 0,
        "dead_letters": 0, "dead_by_reason": {}, "last_event_ts": None, "change_points": [],
        "latest_window": None, "rolling": None,
    }  # fmt: skip


def test_status_table_shows_since_the_window_and_the_totals(
    config_path: Path, change_point_ts: float
) -> None:
    out = cli("status", "--config", str(config_path)).splitlines()
    churn = out.index(next(line for line in out if line.startswith("churn")))
    assert out[churn].split()[:3] == ["churn", "WARN", "900"]
    assert out[churn + 1].startswith("  WARN since 2027-01-15 08:00Z (")
    assert out[churn + 2] == (
        "  window 2027-01-15 08:00Z - 09:00Z: 900 predictions, 30 labelled, reference r1"
    )
    assert out[churn + 3].startswith("  estimated from scores: auc 0.631 (95 % band 0.6-0.66")
    assert out[churn + 4] == "  - spend drifted"
    assert any(line.startswith("eta") and "NOT EVALUATED" in line for line in out)
    assert out[-1] == "dead letters without a model (unreadable or unknown model): unknown_model 1"


def test_status_table_says_plain_names_and_the_correction_once() -> None:
    """Internal output names read as people say them; the Benjamini–Hochberg clause each drift
    reason carries is a ``*`` and one note under the table."""
    bh = "significant after Benjamini–Hochberg over 12 tests at fdr 0.05"
    reasons = [
        f"spend: psi 0.3 > threshold 0.1 at n=900 (p=1e-05, {bh})",
        f"__prediction__: psi 0.5 > threshold 0.1 at n=900 (p=1e-06, {bh})",
        "auc 0.61 worse by 0.23 vs reference",
    ]
    health = Health("churn", "CRITICAL", reasons, T0, T0 + 7200, T0 - 86400 + 60)
    model = config.ModelSettings(name="churn", owner="o", task="binary", features={})
    row = ModelStatus(model, IngestCounts(predictions=1234), health, evaluation(), None)
    lines = table_lines([row], {}, 86400, now=T0 + 7200)
    assert lines[1:] == [
        "churn                CRITICAL                  1,234          0         -       0",
        "  CRITICAL since 2027-01-14 08:01Z (1 d 1 h ago)",
        "  window 2027-01-15 08:00Z - 2027-01-16 08:00Z: 900 predictions, 30 labelled, "
        "reference r1",
        "  estimated from scores: auc 0.631 (95 % band 0.6-0.66, realized 0.61)",
        "  - spend: psi 0.3 > threshold 0.1 at n=900 (p=1e-05) *",
        "  - prediction: psi 0.5 > threshold 0.1 at n=900 (p=1e-06) *",
        "  - auc 0.61 worse by 0.23 vs reference",
        "* significant after Benjamini–Hochberg over 12 tests at fdr 0.05: among the features a "
        "window calls drifted, at most that share are expected to be false alarms",
    ]


def test_the_estimate_line_shows_a_realized_value_only_once_labels_judged_it() -> None:
    judged = evaluation()
    assert estimate_lines(judged) == [
        "estimated from scores: auc 0.631 (95 % band 0.6-0.66, realized 0.61)"
    ]
    few_labels = msgspec.structs.replace(
        judged, performance_verdicts=[verdict("auc", "insufficient", 0.61, statistic="auc")]
    )
    assert estimate_lines(few_labels) == ["estimated from scores: auc 0.631 (95 % band 0.6-0.66)"]
    refused = msgspec.structs.replace(judged, estimation_refused="too few labels")
    assert estimate_lines(refused) == ["no performance estimate: too few labels"]
