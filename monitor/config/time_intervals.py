"""Named time intervals (``[[alerting.time_intervals]]``) that routes mute notifications in.

Alertmanager's ``time_intervals``, reduced to what on-call schedules use: days of the week and
times of day, in a time zone. A route's ``mute_time_intervals`` names them; while one is active
the route notifies nobody (the alerts go on changing, and are in the next notification after).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from monitor.config._parse import Report
from monitor.errors import ConfigError

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_TIME_RANGE = re.compile(r"^(\d{2}):(\d{2})-(\d{2}):(\d{2})$")


@dataclass(frozen=True, slots=True)
class TimeIntervalSettings:
    """Active when the day is one of ``weekdays`` (all if empty) and the time of day in one of
    ``times`` (all day if empty), both in ``location``."""

    name: str
    #: ``"monday"``, or a range ``"monday:friday"`` (inclusive).
    weekdays: tuple[str, ...] = ()
    #: ``"HH:MM-HH:MM"``, start inclusive, end exclusive; ``"24:00"`` ends at midnight.
    times: tuple[str, ...] = ()
    #: An IANA time zone, e.g. ``"Europe/Berlin"``.
    location: str = "UTC"

    def validate(self, key: str, errors: list[ConfigError] | None = None) -> None:
        report = Report(errors)
        if not self.name.strip():
            report(f"{key}.name", "a time interval needs a name", 'add name = "nights"')
        for i, text in enumerate(self.weekdays):
            if not all(day in WEEKDAYS for day in text.split(":", 1)):
                report(
                    f"{key}.weekdays[{i}]",
                    f"{text!r} is no weekday or range",
                    'write a weekday ("monday") or a range ("monday:friday")',
                )
        for i, text in enumerate(self.times):
            if _minutes(text) is None:
                report(
                    f"{key}.times[{i}]",
                    f"{text!r} is no time range",
                    'write "HH:MM-HH:MM" with the start before the end, e.g. "22:00-24:00"',
                )
        try:
            ZoneInfo(self.location)
        except (ZoneInfoNotFoundError, ValueError):
            report(
                f"{key}.location",
                f"{self.location!r} is no time zone",
                'use an IANA name such as "UTC" or "Europe/Berlin"',
            )

    def active(self, now: float) -> bool:
        """Whether Unix time ``now`` lies in the interval."""
        moment = datetime.fromtimestamp(now, ZoneInfo(self.location))
        day = moment.weekday()
        if self.weekdays and not any(day in _days(text) for text in self.weekdays):
            return False
        minute = moment.hour * 60 + moment.minute
        spans = [_minutes(text) for text in self.times]
        return not spans or any(s is not None and s[0] <= minute < s[1] for s in spans)


def _days(text: str) -> range:
    first, _, last = text.partition(":")
    return range(WEEKDAYS.index(first), WEEKDAYS.index(last or first) + 1)


def _minutes(text: str) -> tuple[int, int] | None:
    """``"HH:MM-HH:MM"`` as minutes of the day, or None if it is not a forward range."""
    found = _TIME_RANGE.match(text)
    if found is None:
        return None
    h1, m1, h2, m2 = map(int, found.groups())
    start, end = h1 * 60 + m1, h2 * 60 + m2
    if m1 > 59 or m2 > 59 or start >= end or end > 24 * 60:
        return None
    return start, end
