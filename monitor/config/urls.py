"""URLs in the config: no password may be written in one, and one is shown masked.

A password in a URL reaches every log line, error and summary that shows the URL, and a config
file is rarely kept as secret as a secret store. So the keys holding URLs (``redis.url``,
``dashboard.public_url``, ``pagerduty_url``, retraining targets' ``url``) refuse one, and point
to where the secret belongs instead. A URL that is shown anyway, in a message or a log, goes
through :func:`masked_url` first: a URL built by code rather than read from the file is not
checked.
"""

from __future__ import annotations

from urllib.parse import parse_qsl, urlsplit

from monitor.config._parse import Report


def url_credentials(url: str) -> bool:
    """Whether ``url`` carries a password: in its user part (``//user:secret@host``) or as a
    query parameter (``?password=…``, which redis-py reads too)."""
    try:
        parts = urlsplit(url)
        password = parts.password
    except ValueError:  # malformed: other checks say so; this one only looks for secrets
        return False
    query = parse_qsl(parts.query, keep_blank_values=True)
    return password is not None or any(_secret_parameter(name) for name, _ in query)


def refuse_url_credentials(report: Report, key: str, url: str, fix: str) -> bool:
    """Report a password in ``url`` under ``key``, with ``fix`` saying where it belongs; the
    message shows the URL masked, never the password. Returns whether it reported one."""
    found = url_credentials(url)
    if found:
        report(key, f"a password must not be written in the URL ({masked_url(url)})", fix)
    return found


def masked_url(url: str) -> str:
    """``url`` fit to show: a password in its user part or its query replaced by ``***``; a
    user name alone (a Redis ACL user) is kept.

    >>> masked_url("redis://app:s3cret@redis:6379/0?password=x&db=1")
    'redis://app:***@redis:6379/0?password=***&db=1'
    >>> masked_url("redis://app@127.0.0.1:6379/0")
    'redis://app@127.0.0.1:6379/0'
    """
    try:
        parts = urlsplit(url)
        password = parts.password
    except ValueError:
        return "(a malformed URL)"
    netloc = parts.netloc
    if password is not None:
        userinfo, _, host = netloc.rpartition("@")
        netloc = f"{userinfo.partition(':')[0]}:***@{host}"
    query = "&".join(map(_masked_parameter, parts.query.split("&")))
    return parts._replace(netloc=netloc, query=query).geturl()


def _secret_parameter(name: str) -> bool:
    return "password" in name.lower()


def _masked_parameter(item: str) -> str:
    name = item.partition("=")[0]
    return f"{name}=***" if _secret_parameter(name) else item
