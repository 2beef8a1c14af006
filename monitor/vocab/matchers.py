"""Label matchers in Alertmanager's syntax: ``severity="critical"``, ``model=~"fraud-.*"``.

Routes, inhibition rules and silences all select alerts with them, and operators already write
them for Alertmanager, so the syntax and the semantics are Alertmanager's
(``pkg/labels/matcher.go`` and ``parse.go``):

- the operators are ``=``, ``!=``, ``=~`` and ``!~``; the value may be quoted (``"…"``, with
  ``\\"``, ``\\\\`` and ``\\n`` escapes) or not;
- a regex must match the *whole* value (Alertmanager wraps it in ``^(?:…)$``);
- a missing label has the value ``""``: ``feature=""`` matches an alert without ``feature``, and
  ``feature!=""`` requires one.

>>> Matcher.parse('model=~"fraud-.*"').matches({"model": "fraud-detector"})
True
>>> Matcher.parse('feature=""').matches({"model": "fraud-detector"})
True
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal

Op = Literal["=", "!=", "=~", "!~"]
#: Longest first, so that ``=~`` is not read as ``=`` followed by a value starting with ``~``.
OPS: tuple[Op, ...] = ("=~", "!=", "!~", "=")

#: A label name, as in Prometheus (without the colon, which only recording rules use).
LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")

#: The expected form, shown by every parse error.
FORM = 'name="value", name!="value", name=~"regex" or name!~"regex"'

_QUOTED = re.compile(r'"((?:[^"\\]|\\.)*)"', re.DOTALL)
#: Unquoted values: no quote, and no comma (``a=b,c=d`` is two matchers: one per list entry).
_UNQUOTED = re.compile(r'(?:[^"\\,]|\\.)*', re.DOTALL)
_ESCAPE = re.compile(r"\\(.)", re.DOTALL)
_UNESCAPED = {"n": "\n", '"': '"', "\\": "\\"}


@dataclass(frozen=True, slots=True)
class Matcher:
    """One condition on one label; a regex is compiled once, when the matcher is made."""

    name: str
    op: Op
    value: str
    _regex: re.Pattern[str] | None = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.op not in OPS:
            raise ValueError(f"unknown operator {self.op!r}: use =, !=, =~ or !~")
        regex = None
        if self.op.endswith("~"):
            try:
                regex = re.compile(self.value)
            except re.error as exc:
                raise ValueError(f"invalid regular expression {self.value!r}: {exc}") from None
        object.__setattr__(self, "_regex", regex)

    @classmethod
    def parse(cls, text: str) -> Matcher:
        """Read one matcher; :class:`ValueError` says what is wrong and shows the expected form.

        >>> Matcher.parse('  severity = "critical" ')
        Matcher(name='severity', op='=', value='critical')
        """
        try:
            return cls(*_split(text))
        except ValueError as exc:
            raise ValueError(f"{text!r} is not a matcher: {exc}; expected {FORM}") from None

    def matches(self, labels: Mapping[str, str]) -> bool:
        """Whether the alert's labels satisfy this matcher; a missing label counts as ``""``."""
        value = labels.get(self.name, "")
        if self._regex is None:
            equal = value == self.value
        else:
            # fullmatch, not "^(?:…)$": Python's "$" also matches before a trailing newline.
            equal = self._regex.fullmatch(value) is not None
        return equal != self.op.startswith("!")

    def __str__(self) -> str:
        """The matcher as it would be written (``parse`` reads it back to an equal matcher)."""
        return f"{self.name}{self.op}{_quote(self.value)}"


def matches_all(matchers: Iterable[Matcher], labels: Mapping[str, str]) -> bool:
    """Whether every matcher matches: matchers of a route or silence combine with AND."""
    return all(m.matches(labels) for m in matchers)


def format_labels(labels: Mapping[str, str]) -> str:
    """A label set as Alertmanager writes it, sorted by name: ``{model="m",severity="warning"}``.

    >>> format_labels({"severity": "warning", "model": "churn"})
    '{model="churn",severity="warning"}'
    """
    return "{" + ",".join(f"{name}={_quote(labels[name])}" for name in sorted(labels)) + "}"


def _split(text: str) -> tuple[str, Op, str]:
    """Name, operator and unescaped value; :class:`ValueError` names the part that is wrong."""
    text = text.strip()
    name = LABEL_NAME.match(text)
    if name is None:
        raise ValueError(
            "it does not start with a label name (a letter or _, then letters, digits, _)"
        )
    rest = text[name.end() :].lstrip()
    op = next((op for op in OPS if rest.startswith(op)), None)
    if op is None:
        raise ValueError(f"no operator (=, !=, =~ or !~) after the label name {name[0]!r}")
    raw = rest[len(op) :].lstrip()
    quoted = _QUOTED.fullmatch(raw) if raw.startswith('"') else None
    body = quoted[1] if quoted else raw if _UNQUOTED.fullmatch(raw) else None
    if body is None:
        raise ValueError(
            "the value has an unescaped or unclosed double quote, a comma outside quotes or a "
            "lone trailing backslash"
        )
    return name[0], op, _ESCAPE.sub(_unescape, body)


def _quote(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


def _unescape(escape: re.Match[str]) -> str:
    """``\\n``, ``\\"`` and ``\\\\`` are escapes; any other backslash is literal (Alertmanager)."""
    return _UNESCAPED.get(escape[1], escape[0])
