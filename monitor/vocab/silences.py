"""Silences: a person mutes the alerts some matchers select, for a while, and says why.

Alertmanager's silences (design §6): label matchers in its syntax (``monitor/vocab/matchers.py``),
a start and an end, who made it and why. A silence mutes only notifications; the alerts keep
their states, so when it ends a still-firing alert is notified again. It is *pending* before its
start, *active* until its end and *expired* from then on (kept 120 h for the record, like
Alertmanager's retention).

>>> s = Silence.new(['model="fraud"'], 3600, "ana", "retraining", now=0.0)
>>> s.silences({"model": "fraud", "severity": "critical"}, now=10.0)
True
>>> s.silences({"model": "fraud"}, now=3600.0)
False
"""

from __future__ import annotations

import functools
import math
import uuid
from collections.abc import Mapping, Sequence
from typing import Literal

import msgspec

from monitor.vocab.matchers import Matcher, matches_all

SilenceState = Literal["pending", "active", "expired"]


class Silence(msgspec.Struct, frozen=True, dict=True):
    """One silence (times are Unix seconds). ``dict=True`` only lets the parsed matchers be
    cached on the instance: stored and compared are the fields alone."""

    id: str
    #: Matchers as Alertmanager writes them (``model="fraud"``), all of which must match.
    matchers: list[str]
    starts_at: float
    ends_at: float
    created_by: str
    comment: str

    @classmethod
    def new(
        cls,
        matchers: Sequence[str],
        duration_seconds: float,
        created_by: str,
        comment: str,
        now: float,
    ) -> Silence:
        """A silence starting ``now``; :class:`ValueError` says what to fix.

        Like Alertmanager, it refuses a silence that would mute every alert: at least one
        matcher must require something of the labels (``model=~".*"`` matches any alert, since
        a missing label counts as ``""``). The matchers are kept as they print, so equal
        matchers read the same in ``silence list`` whatever the quoting typed.
        """
        parsed = [Matcher.parse(text) for text in matchers]
        if all(m.matches({}) for m in parsed):
            raise ValueError(
                'give at least one matcher that selects alerts, such as model="fraud": '
                "without one the silence would mute every alert"
            )
        if not (math.isfinite(duration_seconds) and duration_seconds > 0):
            raise ValueError(f"the duration must be positive, such as 2h (got {duration_seconds})")
        if not created_by.strip():
            raise ValueError("say who creates the silence (the author must not be empty)")
        if not comment.strip():
            raise ValueError("say why alerts are silenced (the comment must not be empty)")
        return cls(
            id=uuid.uuid4().hex,
            matchers=[str(m) for m in parsed],
            starts_at=now,
            ends_at=now + duration_seconds,
            created_by=created_by.strip(),
            comment=comment.strip(),
        )

    def state(self, now: float) -> SilenceState:
        if now < self.starts_at:
            return "pending"
        return "active" if now < self.ends_at else "expired"

    def active(self, now: float) -> bool:
        """Whether it mutes alerts at ``now``: ``starts_at <= now < ends_at``."""
        return self.state(now) == "active"

    def silences(self, labels: Mapping[str, str], now: float) -> bool:
        """Whether it mutes an alert with these labels at ``now``."""
        return self.active(now) and matches_all(self._parsed, labels)

    @functools.cached_property
    def _parsed(self) -> list[Matcher]:
        """Parsed once per silence, not once per alert it is checked against."""
        return [Matcher.parse(text) for text in self.matchers]
