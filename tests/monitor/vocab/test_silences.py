"""A silence mutes what all its matchers select, only while active, and refuses to mute all."""

from __future__ import annotations

import re

import msgspec
import pytest

from monitor.vocab.silences import Silence

FRAUD = {"alertname": "FeatureDrift", "model": "fraud", "severity": "critical", "feature": "a"}


def silence(*matchers: str, start: float = 100.0, duration: float = 60.0) -> Silence:
    return Silence.new(list(matchers), duration, "ana", "retraining", now=start)


def test_new_starts_now_keeps_matchers_as_they_print_and_trims_people_s_words() -> None:
    s = Silence.new(["model=fraud", ' severity = "critical"'], 7200, " ana ", " why\n", now=5.0)
    assert re.fullmatch(r"[0-9a-f]{32}", s.id) and s.id != silence("model=fraud").id
    assert s.matchers == ['model="fraud"', 'severity="critical"']
    assert (s.starts_at, s.ends_at, s.created_by, s.comment) == (5.0, 7205.0, "ana", "why")


def test_active_from_its_start_until_just_before_its_end() -> None:
    s = silence("model=fraud", start=100.0, duration=60.0)
    assert [s.state(t) for t in (99.9, 100.0, 159.9, 160.0)] == [
        "pending", "active", "active", "expired"
    ]  # fmt: skip
    assert [s.active(t) for t in (99.9, 100.0, 159.9, 160.0)] == [False, True, True, False]
    pending = msgspec.structs.replace(s, starts_at=130.0)
    assert not pending.silences(FRAUD, 120.0) and pending.silences(FRAUD, 130.0)


def test_it_silences_only_alerts_every_matcher_selects_while_active() -> None:
    s = silence('model="fraud"', 'severity=~"crit.*"', 'feature!=""')
    assert s.silences(FRAUD, 120.0)
    assert not s.silences({**FRAUD, "severity": "warning"}, 120.0)
    assert not s.silences({**FRAUD, "model": "churn"}, 120.0)
    assert not s.silences({k: v for k, v in FRAUD.items() if k != "feature"}, 120.0)
    assert not s.silences(FRAUD, 160.0)


def test_a_stored_silence_reads_back_equal_and_still_matches() -> None:
    s = silence('model=~"fr.*"')
    assert s.silences(FRAUD, 120.0)  # parses (and caches) its matchers before encoding
    back = msgspec.msgpack.decode(msgspec.msgpack.encode(s), type=Silence)
    assert back == s and back.silences(FRAUD, 120.0)
    assert set(msgspec.to_builtins(s)) == {
        "id", "matchers", "starts_at", "ends_at", "created_by", "comment"
    }  # fmt: skip


@pytest.mark.parametrize(
    ("matchers", "duration", "author", "comment", "says"),
    [
        ([], 60, "ana", "why", "at least one matcher"),
        (['model=~".*"'], 60, "ana", "why", "would mute every alert"),
        (['feature=""', 'model!="churn"'], 60, "ana", "why", "at least one matcher"),
        (["model"], 60, "ana", "why", "'model' is not a matcher"),
        (['model=~"("'], 60, "ana", "why", "invalid regular expression"),
        (["model=fraud"], 0, "ana", "why", "the duration must be positive, such as 2h"),
        (["model=fraud"], -60, "ana", "why", "must be positive"),
        (["model=fraud"], float("inf"), "ana", "why", "must be positive"),
        (["model=fraud"], float("nan"), "ana", "why", "must be positive"),
        (["model=fraud"], 60, " ", "why", "say who creates the silence"),
        (["model=fraud"], 60, "ana", "", "say why alerts are silenced"),
    ],
)
def test_new_refuses_what_would_mute_too_much_or_say_nothing(
    matchers: list[str], duration: float, author: str, comment: str, says: str
) -> None:
    with pytest.raises(ValueError, match=re.escape(says)):
        Silence.new(matchers, duration, author, comment, now=0.0)
