"""Times on the command line: durations (``90s``, ``5m``) and start times (``now-3d``, ISO 8601)."""

from __future__ import annotations

import re
from datetime import UTC, datetime

_DURATION = re.compile(r"^(\d+(?:\.\d*)?)([smhd]?)$")
_UNIT_SECONDS = {"": 1.0, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


def parse_duration(text: str) -> float:
    """Seconds of ``300``, ``90s``, ``5m``, ``2h`` or ``1d``; raises ``ValueError``."""
    match = _DURATION.match(text.strip())
    if match is None:
        raise ValueError(f"{text!r} is not a duration like 300, 90s, 5m, 2h or 1d")
    return float(match[1]) * _UNIT_SECONDS[match[2]]


def parse_start(text: str, now: float) -> float:
    """Epoch seconds of ``now``, ``now-3d`` / ``now+1h``, or an ISO 8601 time (naive = UTC)."""
    relative = re.fullmatch(r"now(?:([+-])(.+))?", text.strip())
    if relative is not None:
        offset = parse_duration(relative[2]) if relative[2] else 0.0
        return now - offset if relative[1] == "-" else now + offset
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"{text!r} is neither an ISO time nor now-DURATION") from None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()
