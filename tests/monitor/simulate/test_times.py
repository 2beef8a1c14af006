"""Command-line times: ``--start`` values."""

from __future__ import annotations

import pytest

from monitor.simulate import parse_start
from tests.monitor.simulate.support import START


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("now", START),
        ("now-3d", START - 3 * 86400),
        ("now+90m", START + 5400),
        ("2027-01-15T08:00:00Z", START),
        ("2027-01-15T09:00:00+01:00", START),
        ("2027-01-15 08:00:00", START),
    ],
)
def test_parse_start(text: str, expected: float) -> None:
    assert parse_start(text, START) == expected


def test_parse_start_rejects_garbage() -> None:
    with pytest.raises(ValueError):
        parse_start("yesterday", START)
