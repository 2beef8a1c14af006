"""Alert receivers and retraining targets reachable, without sending them anything.

Each destination is reduced to a host and port, then resolved (DNS), connected to (TCP) and,
for HTTPS, greeted with a TLS handshake that verifies the certificate — and closed before a
single byte of HTTP is written. What the host and port are:

- apprise URLs that post to an address of their own (``json://``, ``xml://``, ``form://`` and
  the ``s`` variants over TLS): that address;
- apprise URLs of a service (``slack://``, ``discord://``, ``tgram://``…): the service's API
  host, as apprise's plugin names it (the URL's host part is often a token there);
- ``mailto://`` / ``mailtos://``: the SMTP server apprise would use (TCP only: STARTTLS needs
  an SMTP dialogue, which would be sending);
- any other apprise plugin names no host (its URL's host part may be a token, never guessed
  at): a warning pointing to ``driftwatch alerts test``, which sends a marked test message;
- PagerDuty: ``pagerduty_url``'s host; retraining targets: their base URL's host.

Apprise URLs are secrets (tokens sit in their paths): only the scheme and the host and port
probed are shown, never the URL. Targets' URLs hold no password (the config refuses one) and are
shown through :func:`~monitor.config.masked_url` all the same.
"""

from __future__ import annotations

import socket
import ssl
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from urllib.parse import urlsplit

import apprise

from monitor.config import Settings, masked_url
from monitor.doctor.findings import Emit, Finding, fail, ok, warn

#: How long resolving, connecting and the TLS handshake may take, each; bounds the check.
TIMEOUT_SECONDS = 3.0
#: apprise schemes that post to the address in the URL itself (``s``: over TLS).
_ADDRESS_SCHEMES = frozenset({"json", "jsons", "xml", "xmls", "form", "forms"})
#: apprise plugin attributes naming a service's fixed API endpoint, most specific first.
_SERVICE_URL_ATTRIBUTES = ("notify_url", "webhook_url", "api_url", "cloud_notify_url")
_SMTP_PORTS = {True: 587, False: 25}


@dataclass(frozen=True, slots=True)
class Destination:
    """Where one notification or request would go: ``check`` names its config key, ``shown``
    is what may be printed of it (no secret)."""

    check: str
    shown: str
    host: str
    port: int
    tls: bool


def check_targets(settings: Settings, emit: Emit) -> None:
    """Emit one finding per receiver destination and retraining target, probed side by side."""
    destinations: list[Destination | Finding] = list(_destinations(settings))
    if not destinations:
        emit(ok("targets", "no alert receiver or retraining target is enabled"))
        return
    with ThreadPoolExecutor(max_workers=min(8, len(destinations))) as pool:
        for finding in pool.map(_probe_or_pass, destinations):
            emit(finding)


def _destinations(settings: Settings) -> Iterator[Destination | Finding]:
    if settings.alerting.enabled:
        for i, receiver in enumerate(settings.alerting.receivers):
            key = f"alerting.receivers[{i}] ({receiver.name})"
            for j, secret in enumerate(receiver.apprise_urls):
                yield _apprise(f"{key}.apprise_urls[{j}]", secret.reveal() or "")
            if receiver.pagerduty_routing_key:
                yield _http(f"{key}.pagerduty_url", receiver.pagerduty_url)
    if settings.retraining.enabled:
        for i, target in enumerate(settings.retraining.targets):
            yield _http(f"retraining.targets[{i}] ({target.name}).url", target.base_url)


def _http(check: str, url: str) -> Destination:
    parts = urlsplit(url)
    tls = parts.scheme == "https"
    port = parts.port or (443 if tls else 80)
    return Destination(check, masked_url(url), parts.hostname or "", port, tls)


def _apprise(check: str, url: str) -> Destination | Finding:
    """The host and port apprise would reach for ``url``, read from its plugin; a warning when
    the plugin does not say (its URL's host part may be a token: never guessed at, nor shown)."""
    scheme = url.partition("://")[0] or "(none)"
    plugin = apprise.Apprise.instantiate(url, suppress_exceptions=True)
    if plugin is None:
        return fail(
            check,
            f"apprise does not understand this {scheme}:// URL",
            "correct the URL in the secret this key names (https://appriseit.com lists the forms)",
        )
    smtp = getattr(plugin, "smtp_host", None)
    if smtp:
        port = int(getattr(plugin, "port", None) or _SMTP_PORTS[bool(plugin.secure)])
        return Destination(check, f"{scheme}:// via SMTP {smtp}:{port}", smtp, port, False)
    if scheme.lower() in _ADDRESS_SCHEMES and plugin.host:
        tls = bool(plugin.secure)
        port = int(plugin.port or (443 if tls else 80))
        return Destination(check, f"{scheme}:// to {plugin.host}:{port}", plugin.host, port, tls)
    for name in _SERVICE_URL_ATTRIBUTES:
        service = getattr(plugin, name, None)
        if not (isinstance(service, str) and service.startswith("https://")):
            continue
        host = urlsplit(service).hostname
        if host and "{" not in host:
            return Destination(check, f"{scheme}:// via {host}:443", host, 443, True)
    return warn(
        check,
        f"not checked: apprise's {type(plugin).__name__} does not name the host it reaches",
        "send a marked test message with `driftwatch alerts test --receiver <name>`",
    )


def _probe_or_pass(item: Destination | Finding) -> Finding:
    return item if isinstance(item, Finding) else probe(item)


def probe(dest: Destination) -> Finding:
    """Resolve, connect and (for TLS) shake hands with ``dest``; write nothing."""
    where = f"{dest.host}:{dest.port}"
    fix = f"start the receiver at {where}, or correct {dest.check}"
    try:
        addresses = socket.getaddrinfo(dest.host, dest.port, type=socket.SOCK_STREAM)
    except OSError as exc:
        return fail(
            dest.check,
            f"{dest.shown}: {dest.host!r} does not resolve ({exc})",
            f"correct the host name in {dest.check}, or this host's DNS (/etc/resolv.conf)",
        )
    family, kind, proto, _, address = addresses[0]
    try:
        with socket.socket(family, kind, proto) as sock:
            sock.settimeout(TIMEOUT_SECONDS)
            sock.connect(address)
            if dest.tls:
                context = ssl.create_default_context()
                with context.wrap_socket(sock, server_hostname=dest.host):
                    pass
    except ssl.SSLCertVerificationError as exc:
        return fail(
            dest.check,
            f"{dest.shown}: the TLS certificate is not trusted ({exc.verify_message})",
            "install the issuing CA on this host, or correct the host name",
        )
    except (ssl.SSLError, TimeoutError) as exc:
        return fail(
            dest.check,
            f"{dest.shown}: no TLS or no answer within {TIMEOUT_SECONDS:g} s ({exc})",
            fix,
        )
    except OSError as exc:
        return fail(dest.check, f"{dest.shown}: cannot connect ({exc.strerror or exc})", fix)
    return ok(dest.check, f"{dest.shown}: reachable{' (TLS verified)' if dest.tls else ''}")
