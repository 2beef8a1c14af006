"""Receivers: where a notification goes — any apprise service, or PagerDuty's Events API v2.

A receiver sends one notification once and says how that went: it returns, or raises
:class:`DeliveryError` telling whether trying again can help (``monitor/alert/delivery.py``
decides when, and when to give up). It never retries itself.

Destination URLs and routing keys hold credentials, so they never leave the receiver: not in its
``repr``, not in an exception, not in a log line. A destination is named by its receiver's name
and index (``team-fraud[1]``), and the records apprise and urllib3 log while sending (apprise logs
the full request URL, tokens included, at DEBUG) pass through a filter that masks every part of
every configured URL.
"""

from __future__ import annotations

import http.client
import json
import logging
import re
import threading
import urllib.error
import urllib.request
from collections.abc import Sequence
from typing import Protocol
from urllib.parse import unquote

import apprise

from monitor.alert.message import worst_severity
from monitor.alert.notification import Notification
from monitor.errors import ConfigError, DriftwatchError

log = logging.getLogger(__name__)

PAGERDUTY_EVENTS_URL = "https://events.pagerduty.com/v2/enqueue"
#: Loggers that see a destination's URL while apprise sends (apprise's own and its HTTP client's).
_SENDING_LOGGERS = ("apprise", "urllib3.connectionpool")
#: URL parts shorter than this are not masked (``to``, ``cto``: never a credential), nor ports.
_MIN_SECRET = 4
_PORT = re.compile(r"\d{1,5}")
MASK = "***"


class DeliveryError(DriftwatchError):
    """A send failed; ``retryable`` says whether the same send may succeed later (a timeout, a
    refused connection, HTTP 429 or 5xx) or never will (HTTP 400: the event itself is wrong).
    The message names the destination by receiver and index and holds no credential."""

    def __init__(self, message: str, *, retryable: bool) -> None:
        super().__init__(message)
        self.retryable = retryable


class Receiver(Protocol):
    """Where a notification goes: one configured receiver, possibly several destinations."""

    @property
    def name(self) -> str: ...

    def send(self, notification: Notification, title: str, body: str) -> None:
        """Deliver once or raise :class:`DeliveryError`."""
        ...


class _Masker(logging.Filter):
    """Masks credentials in log records and error texts.

    A filter on the loggers apprise sends through, so even apprise's DEBUG lines (the request URL
    with its tokens, the payload it posted to a URL built from them) reach handlers masked.
    """

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()
        self._secrets: tuple[str, ...] = ()

    def add(self, secrets: set[str]) -> None:
        with self._lock:  # longest first, so a token is masked whole before any part of it
            self._secrets = tuple(sorted(set(self._secrets) | secrets, key=len, reverse=True))

    def mask(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, MASK)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        text = record.getMessage()
        masked = self.mask(text)
        if masked != text:
            record.msg, record.args = masked, None
        if record.exc_info:
            record.exc_text = self.mask(logging.Formatter().formatException(record.exc_info))
        return True


_MASKER = _Masker()


def _url_secrets(url: str) -> set[str]:
    """Every part of an apprise URL that may be a credential, raw and percent-decoded.

    apprise's URL forms differ per service (``slack://TokenA/TokenB/TokenC``, ``json://user:pass@
    host/path``, ``mailto://…?pass=…``), so any host, user, password, path segment or argument
    value but a port number counts; masking a host name in a log line costs little.
    """
    rest = url.split("://", 1)[-1]
    location, _, query = rest.partition("?")
    parts = re.split(r"[/:@#]", location)
    parts += [pair.partition("=")[2] for pair in query.split("&")]
    found = {url, rest}
    for part in parts:
        found |= {p for p in (part, unquote(part)) if len(p) >= _MIN_SECRET}
    return {p for p in found if not _PORT.fullmatch(p)}


class AppriseReceiver:
    """Any service apprise knows, one ``apprise.Apprise`` object per destination URL.

    ``Apprise.notify()`` answers one bool for all the URLs it holds, so one object per URL tells
    which destination failed. Each URL gets connect and read timeouts (apprise's ``cto`` / ``rto``
    URL arguments; they replace any the URL sets). A retry after one destination failed reaches
    only those still missing the message: the receiver remembers, per group, which destinations
    took the notification being sent (one send per receiver and group is in flight, see
    ``Dispatcher``), so the others do not get it twice.
    """

    def __init__(
        self,
        name: str,
        urls: Sequence[str],
        *,
        config_key: str = "",
        connect_timeout: float = 5.0,
        read_timeout: float = 10.0,
    ) -> None:
        """``config_key``: where the URLs are configured, named by errors (never the URLs)."""
        key = config_key or f"receivers.{name}.urls"
        if not urls:
            raise ConfigError(key, "no destination URL", "list at least one apprise URL")
        self._name = name
        self._destinations: list[apprise.Apprise] = []
        for logger in _SENDING_LOGGERS:
            logging.getLogger(logger).addFilter(_MASKER)  # once: addFilter skips a duplicate
        for index, url in enumerate(urls):
            _MASKER.add(_url_secrets(url))
            destination = apprise.Apprise()
            sep = "&" if "?" in url else "?"
            if not destination.add(f"{url}{sep}cto={connect_timeout:g}&rto={read_timeout:g}"):
                raise ConfigError(
                    f"{key}[{index}]",
                    "apprise cannot load this URL (unknown service or missing token)",
                    "check it against apprise's service list (the URL itself is not shown)",
                )
            self._destinations.append(destination)
        self._lock = threading.Lock()
        #: group key → the notification being delivered, its words, the destinations that have it.
        self._delivered: dict[str, tuple[Notification, tuple[str, str], set[int]]] = {}

    @property
    def name(self) -> str:
        return self._name

    def __repr__(self) -> str:
        return f"AppriseReceiver(name={self._name!r}, destinations={len(self._destinations)})"

    def send(self, notification: Notification, title: str, body: str) -> None:
        message = (title, body)
        with self._lock:
            previous = self._delivered.get(notification.group_key)
        # A retry of this very notification skips the destinations that took it; a new one (even
        # with the same words: a repeat after repeat_interval) goes to all.
        retry = previous is not None and previous[0] is notification and previous[1] == message
        done = previous[2] if previous is not None and retry else set()
        failed = []
        for index, destination in enumerate(self._destinations):
            if index in done:
                continue
            if self._notify(destination, notification, title, body):
                done.add(index)
            else:
                failed.append(f"{self._name}[{index}]")
        with self._lock:
            if failed:
                self._delivered[notification.group_key] = (notification, message, done)
            else:
                self._delivered.pop(notification.group_key, None)
        if failed:
            raise DeliveryError(
                f"apprise could not deliver to {', '.join(failed)} "
                f"of {len(self._destinations)} destination(s) (see apprise's warnings)",
                retryable=True,
            )

    @staticmethod
    def _notify(
        destination: apprise.Apprise, notification: Notification, title: str, body: str
    ) -> bool:
        """One destination's verdict; apprise reports failures by value, but a plugin may raise."""
        try:
            return bool(
                destination.notify(
                    body=body,
                    title=title,
                    notify_type=_notify_type(notification),
                    body_format=apprise.NotifyFormat.TEXT,
                )
            )
        except Exception as exc:  # a plugin's bug must not kill the sender; its text is masked
            log.warning("apprise raised %s: %s", type(exc).__name__, _MASKER.mask(str(exc)))
            return False


def _notify_type(notification: Notification) -> apprise.NotifyType:
    """apprise's colour and icon: red for critical, amber for warning, green for resolved."""
    if notification.test:
        return apprise.NotifyType.INFO
    if not notification.firing:
        return apprise.NotifyType.SUCCESS
    if worst_severity(notification.firing) == "critical":
        return apprise.NotifyType.FAILURE
    return apprise.NotifyType.WARNING


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """An event is never re-sent elsewhere: urllib would turn a redirected POST into a GET."""

    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


class PagerDutyReceiver:
    """PagerDuty's Events API v2, natively: apprise's PagerDuty plugin can trigger but not
    resolve. The group key is the ``dedup_key``, so every notification of a group updates one
    incident and the group's resolve closes it."""

    def __init__(
        self,
        name: str,
        routing_key: str,
        *,
        url: str = PAGERDUTY_EVENTS_URL,
        timeout: float = 10.0,
        source: str = "driftwatch",
        config_key: str = "",
    ) -> None:
        if not routing_key:
            raise ConfigError(
                config_key or f"receivers.{name}.routing_key",
                "the PagerDuty routing key is empty",
                "set the environment variable or file it is read from",
            )
        self._name = name
        self._routing_key = routing_key
        self._url = url
        self._timeout = timeout
        self._source = source
        self._opener = urllib.request.build_opener(_NoRedirect)

    @property
    def name(self) -> str:
        return self._name

    def __repr__(self) -> str:
        return f"PagerDutyReceiver(name={self._name!r}, url={self._url!r})"

    def _event(self, notification: Notification, title: str, body: str) -> dict[str, object]:
        """The Events v2 document for ``notification`` (routing key included: never log it)."""
        alerts = notification.firing or notification.resolved
        return {
            "routing_key": self._routing_key,
            "event_action": "trigger" if notification.firing else "resolve",
            "dedup_key": notification.group_key,
            "payload": {
                "summary": title[:1024],  # PagerDuty's limit
                "source": self._source,
                "severity": worst_severity(alerts) or "info",
                "custom_details": {
                    "body": body,
                    "group": notification.group_labels,
                    "firing": len(notification.firing),
                    "resolved": len(notification.resolved),
                },
            },
        }

    def send(self, notification: Notification, title: str, body: str) -> None:
        document = json.dumps(self._event(notification, title, body)).encode()
        request = urllib.request.Request(
            self._url, data=document, headers={"Content-Type": "application/json"}, method="POST"
        )
        try:
            with self._opener.open(request, timeout=self._timeout) as response:
                status, answer = response.status, response.read(2048)
        except urllib.error.HTTPError as exc:
            status, answer = exc.code, exc.read(2048)
        except (OSError, http.client.HTTPException) as exc:  # refused, reset, timed out, garbled
            cause = exc.reason if isinstance(exc, urllib.error.URLError) else exc  # unwrap
            cause = cause if isinstance(cause, BaseException) else exc
            reason = f"{type(cause).__name__}: {cause}"
            raise DeliveryError(self._failed(reason), retryable=True) from None
        if status == 202:
            return
        text = answer.decode(errors="replace")
        raise DeliveryError(
            self._failed(f"HTTP {status}: {text}"), retryable=status == 429 or status >= 500
        )

    def _failed(self, reason: str) -> str:
        return f"PagerDuty receiver {self._name}: {reason.replace(self._routing_key, MASK)}"
