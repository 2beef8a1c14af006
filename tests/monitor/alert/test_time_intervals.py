"""Mute time intervals: weekdays and times of day in a time zone; a muted route tells nobody."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from monitor.alert.pipeline import groups, plan
from monitor.alert.route import routing_tree
from monitor.config import (
    DEFAULT_INHIBIT_RULES,
    ReceiverSettings,
    RouteSettings,
    TimeIntervalSettings,
    validate_routing,
)
from monitor.errors import ConfigError
from monitor.vocab.alerts import Alert

BERLIN = ZoneInfo("Europe/Berlin")


def at(text: str) -> float:
    """Unix time of a Berlin wall-clock time."""
    return datetime.fromisoformat(text).replace(tzinfo=BERLIN).timestamp()


NIGHTS = TimeIntervalSettings(
    "nights",
    weekdays=("monday:friday",),
    times=("22:00-24:00", "00:00-06:00"),
    location="Europe/Berlin",
)
WEEKENDS = TimeIntervalSettings("weekends", weekdays=("saturday", "sunday"))


@pytest.mark.parametrize(
    ("when", "expected"),
    [("2026-12-07 23:30", True),  # Monday night
     ("2026-12-08 05:59", True),
     ("2026-12-08 06:00", False),  # the end is exclusive
     ("2026-12-08 12:00", False),
     ("2026-12-12 23:30", False)],  # Saturday: not a weekday of the interval
)  # fmt: skip
def test_an_interval_is_active_on_its_days_and_times_in_its_zone(when: str, expected: bool) -> None:
    assert NIGHTS.active(at(when)) is expected


def test_mistakes_name_the_key_and_the_fix() -> None:
    for interval, key in [
        (TimeIntervalSettings("x", weekdays=("mon",)), "t.weekdays[0]"),
        (TimeIntervalSettings("x", times=("18:00-08:00",)), "t.times[0]"),
        (TimeIntervalSettings("x", times=("8:00-9:00",)), "t.times[0]"),
        (TimeIntervalSettings("x", location="Mars/Olympus"), "t.location"),
        (TimeIntervalSettings(" "), "t.name"),
    ]:
        with pytest.raises(ConfigError) as err:
            interval.validate("t")
        assert err.value.key == key


def test_a_muted_route_tells_nobody_until_the_interval_ends() -> None:
    tree = routing_tree(RouteSettings(receiver="ops", routes=(
        RouteSettings(receiver="team", matchers=('owner="o"',), mute_time_intervals=("weekends",)),
    )))  # fmt: skip
    labels = {"alertname": "FeatureDrift", "model": "m", "severity": "critical", "owner": "o"}
    saturday = datetime(2026, 12, 12, 12, tzinfo=ZoneInfo("UTC")).timestamp()
    alert = Alert(labels, {}, "firing", saturday - 3600, saturday - 3600, saturday - 3600)
    (group,) = groups(tree, [alert])
    intervals = {"weekends": WEEKENDS}

    def due(now: float) -> object:
        return plan(group, None, send_resolved=True, firing_elsewhere=[alert],
                    inhibit_rules=DEFAULT_INHIBIT_RULES, silences=(), now=now,
                    time_intervals=intervals)  # fmt: skip

    assert due(saturday) is None
    assert due(saturday + 2 * 86_400) is not None  # Monday


def test_a_route_muted_by_an_unknown_interval_is_a_config_error() -> None:
    route = RouteSettings(receiver="ops", mute_time_intervals=("weekend",))
    with pytest.raises(ConfigError) as err:
        validate_routing("alerting", route, [ReceiverSettings("ops")], [WEEKENDS])
    assert err.value.key == "alerting.route.mute_time_intervals[0]"
    validate_routing("alerting", RouteSettings(receiver="ops", mute_time_intervals=("weekends",)),
                     [ReceiverSettings("ops")], [WEEKENDS])  # fmt: skip
