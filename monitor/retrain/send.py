"""One delivery attempt of a retraining request, its outcome classified, and the wait before
the next: the scheduler (which keeps the outbox) decides whether there is a next.

- :func:`attempt` contacts only hosts in ``retraining.allowed_hosts`` (checked here, before any
  I/O, with the same rule as the configuration: ``monitor.config.host_allowed``), follows no
  redirect (urllib would re-send the POST elsewhere, as a GET), and never raises for what the
  network or the target does: it returns an :class:`Outcome`.
- Outcomes, after design.md §7: 2xx and 409 (the target already has this event id) are
  *delivered*; 408, 429, 5xx, timeouts and connection errors are worth a *retry*; any other
  answer, a redirect or a host not allow-listed is *rejected* — retrying cannot help, so the
  request is dead-lettered and its owner told. GitHub's rate limits answer 403 (or 429) with
  ``Retry-After`` or ``x-ratelimit-remaining: 0``: that 403 is a retry too.
- :func:`next_delay` is exponential backoff with full jitter, as alert delivery's
  (``monitor/alert/delivery.py``), but never shorter than the target's ``Retry-After``.

Texts an outcome carries (its error, an excerpt of the answer) name the host and path, never a
query, and pass through :meth:`HttpRequest.redact`, so a credential echoed by a server does not
reach the audit trail or a log.
"""

from __future__ import annotations

import http.client
import logging
import random
import re
import time
import urllib.error
import urllib.request
from collections.abc import Iterable
from dataclasses import dataclass
from email.message import Message
from email.utils import parsedate_to_datetime
from typing import Literal
from urllib.parse import urlsplit

from monitor.config import host_allowed, host_entry
from monitor.retrain.targets import HttpRequest
from monitor.times import full_jitter

log = logging.getLogger(__name__)

Result = Literal["delivered", "retry", "rejected"]

#: A ``Retry-After`` longer than this is read as this: a target cannot park a request for weeks.
MAX_RETRY_AFTER_SECONDS = 86_400.0
#: How much of an answer's body an outcome keeps, for the audit trail.
BODY_EXCERPT_BYTES = 500
_SECONDS = re.compile(r"\d+(?:\.\d+)?")


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one attempt came to."""

    result: Result
    #: The HTTP status, or None when no answer came (refused before sending, network error).
    status: int | None
    #: Why it was not delivered ("" if it was): method, host and path, never a credential.
    error: str = ""
    #: Seconds the target asked to wait (``Retry-After``), capped at a day; retries only.
    retry_after: float | None = None
    #: The first :data:`BODY_EXCERPT_BYTES` of the answer, decoded with replacement.
    body: str = ""
    #: How long the attempt took.
    seconds: float = 0.0

    @property
    def delivered(self) -> bool:
        return self.result == "delivered"

    @property
    def retryable(self) -> bool:
        return self.result == "retry"


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A 3xx reaches :func:`attempt` as an answer: the request is never re-sent elsewhere."""

    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


_OPENER = urllib.request.build_opener(_NoRedirect)


def attempt(request: HttpRequest, *, allowed_hosts: Iterable[str], timeout: float) -> Outcome:
    """Send ``request`` once, if its host is allowed; ``timeout`` bounds the connect and each
    read (not the whole exchange: a server dripping bytes can stretch it)."""
    where = f"{request.method} {_where(request.url)}"
    if not host_allowed(request.url, allowed_hosts):
        return _done(
            request,
            Outcome(
                "rejected",
                None,
                f"{where}: {host_entry(request.url)} is not in retraining.allowed_hosts, so "
                "nothing was sent; add it there if this target is meant",
            ),
        )
    broken = [name for name, value in request.headers.items() if not value.isprintable()]
    if broken:  # http.client would raise with the value, a credential maybe, in its message
        return _done(
            request,
            Outcome("rejected", None, f"{where}: header(s) {broken} hold a control character"),
        )
    sent = urllib.request.Request(
        request.url, data=request.body, headers=request.headers, method=request.method
    )
    start = time.monotonic()
    try:
        with _OPENER.open(sent, timeout=timeout) as response:
            status, headers, body = response.status, response.headers, _excerpt(response)
    except urllib.error.HTTPError as exc:  # every status but 2xx, 3xx included (no redirects)
        status, headers, body = exc.code, exc.headers, _excerpt(exc)
    except (OSError, http.client.HTTPException) as exc:  # refused, reset, timed out, garbled
        cause: BaseException = exc
        if isinstance(exc, urllib.error.URLError) and isinstance(exc.reason, BaseException):
            cause = exc.reason
        if isinstance(cause, TimeoutError):
            reason = f"no answer within {timeout:g} s"
        else:
            reason = f"{type(cause).__name__}: {cause}"
        error = request.redact(f"{where}: {reason}")
        return _done(request, Outcome("retry", None, error, seconds=time.monotonic() - start))
    seconds = time.monotonic() - start
    result, error, retry_after = _classify(status, headers, time.time())
    outcome = Outcome(
        result,
        status,
        request.redact(f"{where}: {error}") if error else "",
        retry_after,
        request.redact(body),
        seconds,
    )
    return _done(request, outcome)


def _classify(status: int, headers: Message, now: float) -> tuple[Result, str, float | None]:
    """An answer's result, the error it stands for ("" if delivered) and, for a retry, the
    wait the target asked for."""
    if 200 <= status < 300:
        return "delivered", "", None
    if status == 409:
        return "delivered", "", None  # the target has this event id already: delivered before
    retry_after = retry_after_seconds(headers.get("Retry-After"), now)
    if status in (408, 429) or 500 <= status < 600:
        return "retry", f"HTTP {status}", retry_after
    exhausted = (headers.get("x-ratelimit-remaining") or "").strip() == "0"
    if status == 403 and (retry_after is not None or exhausted):
        if retry_after is None:
            retry_after = _rate_limit_reset(headers.get("x-ratelimit-reset"), now)
        return "retry", f"HTTP {status} (rate limited)", retry_after
    if 300 <= status < 400:
        location = headers.get("Location")
        to = f" (to {_where(location)})" if location else ""
        return (
            "rejected",
            f"HTTP {status}{to}: redirects are not followed; point the target at the final URL",
            None,
        )
    return "rejected", f"HTTP {status}", None


def retry_after_seconds(value: str | None, now: float) -> float | None:
    """Seconds to wait from a ``Retry-After`` header: delay-seconds or an HTTP-date (``now``:
    epoch seconds), within 0 and :data:`MAX_RETRY_AFTER_SECONDS`; None if absent or unreadable.

    >>> retry_after_seconds("120", 0.0), retry_after_seconds("Thu, 01 Jan 1970 00:01:00 GMT", 0.0)
    (120.0, 60.0)
    """
    if value is None:
        return None
    text = value.strip()
    if _SECONDS.fullmatch(text):
        seconds = float(text)
    else:
        try:
            when = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError, OverflowError):
            return None
        seconds = when.timestamp() - now  # a date without a zone is read as UTC
    return min(max(seconds, 0.0), MAX_RETRY_AFTER_SECONDS)


def _rate_limit_reset(value: str | None, now: float) -> float | None:
    """GitHub's ``x-ratelimit-reset`` (epoch seconds of the reset) as a wait from ``now``."""
    if value is None or not value.strip().isdigit():
        return None
    return min(max(float(value) - now, 0.0), MAX_RETRY_AFTER_SECONDS)


def next_delay(
    attempt: int, *, base: float, cap: float, retry_after: float | None, rng: random.Random
) -> float:
    """Seconds to wait after failed attempt number ``attempt`` (1 for the first): uniform in
    ``[0, min(cap, base·2^(attempt-1))]`` (full jitter, so targets recovering from an outage are
    not hit by every sender at once), but at least ``retry_after`` — the target's own word
    wins over the cap, up to :data:`MAX_RETRY_AFTER_SECONDS`."""
    if attempt < 1:
        raise ValueError(f"attempts count from 1, got {attempt}")
    delay = full_jitter(attempt, base, cap, rng)
    if retry_after is not None:
        delay = max(delay, min(retry_after, MAX_RETRY_AFTER_SECONDS))
    return delay


def _excerpt(response: http.client.HTTPResponse | urllib.error.HTTPError) -> str:
    """The start of an answer's body; what cannot be read (a read timeout, a cut connection)
    is left out: the status already says what happened."""
    try:
        return response.read(BODY_EXCERPT_BYTES).decode(errors="replace")
    except (OSError, http.client.HTTPException):
        return ""


def _where(url: str) -> str:
    """Host and path of ``url``: what errors may name (a query may hold a token)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "(unreadable URL)"
    return f"{parts.netloc.rpartition('@')[2]}{parts.path or '/'}"


def _done(request: HttpRequest, outcome: Outcome) -> Outcome:
    log.debug(
        "retraining request %s %s: %s (status %s) %s",
        request.headers.get("Idempotency-Key", "?"),
        _where(request.url),
        outcome.result,
        outcome.status,
        outcome.error,
    )
    return outcome
