"""Label matchers read and match as Alertmanager's do: anchored regexes, a missing label is ""."""

from __future__ import annotations

import re
from typing import Any

import pytest

from monitor.vocab.matchers import FORM, Matcher, format_labels, matches_all


@pytest.mark.parametrize(
    ("text", "name", "op", "value"),
    [
        ('severity="critical"', "severity", "=", "critical"),
        ("severity=critical", "severity", "=", "critical"),
        ('  model != "churn"  ', "model", "!=", "churn"),
        ('model=~"fraud-.*"', "model", "=~", "fraud-.*"),
        ("model!~fraud-.*", "model", "!~", "fraud-.*"),
        ('feature=""', "feature", "=", ""),
        ("feature=", "feature", "=", ""),
        ('summary="a, b \\"c\\" \\\\ d\\ne"', "summary", "=", 'a, b "c" \\ d\ne'),
        ('path=~"C:\\d"', "path", "=~", "C:\\d"),  # not an escape: the backslash stays
        ("_x=~~", "_x", "=~", "~"),
    ],
)
def test_parse_reads_alertmanagers_syntax(text: str, name: str, op: Any, value: str) -> None:
    assert Matcher.parse(text) == Matcher(name, op, value)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", "label name"),
        ('1model="x"', "label name"),
        ('"model"="x"', "label name"),
        ('model "x"', "no operator"),
        ("model", "no operator"),
        ('model=="x"', "double quote"),
        ('model="x', "double quote"),
        ('model="a"b"', "double quote"),
        ("owner=fraud,severity=critical", "comma"),
        ('model=~"fraud-("', "invalid regular expression"),
    ],
)
def test_parse_errors_say_what_is_wrong_and_show_the_form(text: str, problem: str) -> None:
    with pytest.raises(ValueError) as info:
        Matcher.parse(text)
    message = str(info.value)
    assert problem in message
    assert repr(text) in message
    assert message.endswith(f"expected {FORM}")


def test_a_matcher_made_directly_is_checked_too() -> None:
    bad_op: Any = "=="
    with pytest.raises(ValueError, match="unknown operator"):
        Matcher("model", bad_op, "x")
    with pytest.raises(ValueError, match="invalid regular expression"):
        Matcher("model", "!~", "[")


@pytest.mark.parametrize(
    ("text", "value", "expected"),
    [
        ('model=~"fraud"', "fraud", True),
        ('model=~"fraud"', "fraud-detector", False),  # anchored at the end ...
        ('model=~"detector"', "fraud-detector", False),  # ... and at the start
        ('model=~"fraud|churn"', "xfraud", False),  # an alternation is anchored as a whole
        ('model=~"fraud|churn"', "churnx", False),
        ('model=~"fraud|churn"', "churn", True),
        ('model=~"a"', "a\n", False),  # unlike Python's "$", the end is the end
        ('model=~"fraud-.*"', "fraud-detector", True),
        ('model!~"fraud-.*"', "fraud-detector", False),
        ('model!~"fraud"', "fraud-detector", True),
        ('model="fraud"', "fraud", True),
        ('model="fraud"', "Fraud", False),
        ('model!="fraud"', "fraud", False),
        ('model!="fraud"', "churn", True),
    ],
)
def test_regexes_match_the_whole_value(text: str, value: str, expected: bool) -> None:
    assert Matcher.parse(text).matches({"model": value}) is expected


@pytest.mark.parametrize(
    ("text", "when_missing", "when_set"),
    [
        ('feature=""', True, False),
        ('feature!=""', False, True),
        ('feature=~".*"', True, True),
        ('feature=~".+"', False, True),
        ('feature!~".+"', True, False),
        ('feature="amount"', False, True),
        ('feature!="amount"', True, False),
    ],
)
def test_a_missing_label_matches_as_the_empty_string(
    text: str, when_missing: bool, when_set: bool
) -> None:
    matcher = Matcher.parse(text)
    assert matcher.matches({"model": "churn"}) is when_missing
    assert matcher.matches({"model": "churn", "feature": "amount"}) is when_set


def test_matches_all_is_an_and_and_no_matchers_match_everything() -> None:
    owner, critical = Matcher.parse("owner=fraud"), Matcher.parse("severity=critical")
    both = {"owner": "fraud", "severity": "critical"}
    assert matches_all([owner, critical], both)
    assert not matches_all([owner, critical], {**both, "severity": "warning"})
    assert not matches_all([owner, critical], {**both, "owner": "churn"})
    assert matches_all([], {})


def test_the_regex_is_compiled_once(monkeypatch: pytest.MonkeyPatch) -> None:
    matcher = Matcher.parse('model=~"fraud-.*"')

    def no_compiling(*args: object, **kwargs: object) -> re.Pattern[str]:
        raise AssertionError("compiled while matching")

    monkeypatch.setattr(re, "compile", no_compiling)
    monkeypatch.setattr(re, "fullmatch", no_compiling)
    assert matcher.matches({"model": "fraud-detector"})


@pytest.mark.parametrize(
    "matcher",
    [
        Matcher("severity", "=", "critical"),
        Matcher("feature", "!=", ""),
        Matcher("model", "=~", "fraud-.*|churn"),
        Matcher("summary", "!~", 'a, "b" \\ c\nd'),
    ],
)
def test_str_writes_what_parse_reads_back(matcher: Matcher) -> None:
    assert Matcher.parse(str(matcher)) == matcher
    assert hash(Matcher.parse(str(matcher))) == hash(matcher)


def test_format_labels_sorts_and_quotes() -> None:
    assert format_labels({"severity": "warning", "model": 'say "hi"'}) == (
        '{model="say \\"hi\\"",severity="warning"}'
    )
    assert format_labels({}) == "{}"
