"""Times as they arrive: in events (RFC 3339 or epoch seconds/milliseconds, :func:`parse_ts`)
and typed by people: durations (``90s``, ``5m``) and points in time (``now-3d``, ISO 8601);
and as outputs write them (:func:`iso_utc` for machines, :func:`duration` for people).

People's times are read by the command line (``baseline set --start/--end``, ``simulate
--start``) and the simulator's ``--fault`` schedule; they live here, outside either, so neither
depends on the other for a parser. Their errors are ``ValueError`` with a message meant for the
user: callers turn it into their own kind of error (``click.BadParameter``, ``ConfigError``).
"""

from __future__ import annotations

import math
import random
import re
from datetime import UTC, datetime
from typing import Any

import msgspec

#: Numbers above this are epoch milliseconds (as seconds they would be after the year 5000).
MILLIS_THRESHOLD = 1e11
_DURATION = re.compile(r"^(\d+(?:\.\d*)?)([smhd]?)$")
_UNIT_SECONDS = {"": 1.0, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


def parse_duration(text: str) -> float:
    """Seconds of ``300``, ``90s``, ``5m``, ``2h`` or ``1d``; raises ``ValueError``.

    >>> parse_duration("90s"), parse_duration("1.5h")
    (90.0, 5400.0)
    """
    match = _DURATION.match(text.strip())
    if match is None:
        raise ValueError(f"{text!r} is not a duration like 300, 90s, 5m, 2h or 1d")
    return float(match[1]) * _UNIT_SECONDS[match[2]]


def parse_start(text: str, now: float) -> float:
    """Epoch seconds of ``now``, ``now-3d`` / ``now+1h``, or an ISO 8601 time (naive = UTC).

    ``now`` is passed in rather than read from the clock so that a start and an end parsed
    together (``--start now-14d --end now-7d``) are relative to the same instant.
    """
    relative = re.fullmatch(r"now(?:([+-])(.+))?", text.strip())
    if relative is not None:
        offset = parse_duration(relative[2]) if relative[2] else 0.0
        return now - offset if relative[1] == "-" else now + offset
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"{text!r} is neither an ISO time nor now-DURATION") from None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


def parse_ts(raw: Any) -> float | None:
    """Epoch seconds from an RFC 3339 string with zone, or epoch seconds/milliseconds.

    An RFC 3339 string is read as msgspec reads it (lower-case ``t``/``z`` allowed, fractions
    beyond the microsecond rounded), since the decoder's fast path has msgspec parse ``ts`` in C
    and both paths must agree; other ISO 8601 forms (``20261123T170000Z``, ``+01`` offsets) are
    read by ``datetime.fromisoformat``. Strings are tested first: they are what most producers
    send, and each event pays for every test before its own."""
    if isinstance(raw, str):
        try:
            parsed = msgspec.convert(raw, datetime)
        except msgspec.ValidationError:
            try:
                parsed = datetime.fromisoformat(raw)
            except ValueError:
                return None
        return parsed.timestamp() if parsed.tzinfo is not None else None
    if isinstance(raw, bool) or not isinstance(raw, int | float):
        return None
    if not math.isfinite(raw):
        return None
    return raw / 1000.0 if raw > MILLIS_THRESHOLD else float(raw)


def iso_utc(ts: float, timespec: str = "seconds") -> str:
    """A Unix time as ISO 8601 in UTC with a ``Z``, for JSON outputs and payloads.

    >>> iso_utc(1800000000.25), iso_utc(1800000000.25, "milliseconds")
    ('2027-01-15T08:00:00Z', '2027-01-15T08:00:00.250Z')
    """
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec=timespec).replace("+00:00", "Z")


def duration(seconds: float) -> str:
    """A span in the two largest units that matter, as people read it in notifications, the
    command line and the dashboard.

    >>> duration(42), duration(754), duration(8100), duration(3 * 86400 + 4 * 3600)
    ('42 s', '12 min', '2 h 15 min', '3 d 4 h')
    """
    s = max(0, round(seconds))
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min"
    if s < 86400:
        return f"{s // 3600} h {s % 3600 // 60} min"
    return f"{s // 86400} d {s % 86400 // 3600} h"


#: Beyond 2^32 base delays every wait is the cap anyway; the bound keeps the power finite.
_MAX_DOUBLINGS = 32


def full_jitter(attempt: int, base: float, cap: float, rng: random.Random) -> float:
    """The wait after failed attempt number ``attempt`` (from 1): uniform in
    ``[0, min(cap, base·2^(attempt-1))]`` — exponential backoff with full jitter, so receivers
    recovering from an outage are not hit by every sender at once (notifications and
    retraining requests wait alike)."""
    return rng.uniform(0.0, min(cap, base * 2 ** min(attempt - 1, _MAX_DOUBLINGS)))
