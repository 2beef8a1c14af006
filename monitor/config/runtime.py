"""The processes Driftwatch runs (``[runtime]``, ``[dashboard]``) and the audit trail they keep
(``[audit]``). Their types are their only rules, but for the trail's retention."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from monitor.config._parse import Report
from monitor.config.urls import refuse_url_credentials
from monitor.errors import ConfigError
from monitor.vocab.incidents import MTTR_DAYS


@dataclass(frozen=True, slots=True)
class RuntimeSettings:
    """The daemon process: health/metrics endpoint and logging."""

    http_host: str = "127.0.0.1"
    http_port: int = 9108
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_format: Literal["json", "text"] = "json"
    #: Bound on a graceful stop: finish the batch, flush, commit, exit.
    shutdown_timeout_seconds: float = 30.0


@dataclass(frozen=True, slots=True)
class DashboardSettings:
    """The Streamlit app started by ``driftwatch dashboard``."""

    host: str = "127.0.0.1"
    port: int = 8501
    refresh_seconds: int = 30
    #: Let signed-in people create and expire silences from the Alerts page (the Redis user then
    #: needs write access to the silences, docs/dashboard.md). Read-only by default.
    writable: bool = False
    #: The dashboard's address as people reach it (behind a proxy, a DNS name): notifications
    #: link to the evidence there. Empty: ``http://<host>:<port>``.
    public_url: str = ""
    #: The header an authenticating reverse proxy sets to the signed-in person (for example
    #: ``X-Forwarded-User``). Empty: no header is trusted, since anyone who reaches the port
    #: directly could send one and be taken for someone else (docs/dashboard.md, Access).
    proxy_user_header: str = ""

    @property
    def link_base(self) -> str:
        return self.public_url.rstrip("/") or f"http://{self.host}:{self.port}"

    def validate(self, key: str, errors: list[ConfigError] | None = None) -> None:
        """A header name is an HTTP token: anything else would never match a request's header.
        The public URL is put in every notification: no password in it."""
        report = Report(errors)
        refuse_url_credentials(
            report,
            f"{key}.public_url",
            self.public_url,
            "remove it: the proxy in front of the dashboard signs people in, not the link",
        )
        header = self.proxy_user_header
        if header and not _HEADER_NAME.fullmatch(header):
            report(
                f"{key}.proxy_user_header",
                f"{header!r} is not an HTTP header name",
                'name the header your proxy sets, e.g. "X-Forwarded-User", or leave it empty',
            )


#: RFC 9110's ``token``: the characters a header name may have.
_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")


@dataclass(frozen=True, slots=True)
class AuditSettings:
    """Each model's audit trail (``driftwatch history``): what happened to it, kept this long —
    past 90 days, so MTTR over 90 days has all its incidents."""

    retention_days: int = 400

    def validate(self, key: str, errors: list[ConfigError] | None = None) -> None:
        """MTTR over 90 days needs 90 days of history: a shorter trail would silently leave the
        oldest incidents out of it."""
        report = Report(errors)
        longest = max(MTTR_DAYS)
        if self.retention_days < longest:
            report(
                f"{key}.retention_days",
                f"{self.retention_days} days is shorter than the {longest} days MTTR is "
                "reported over",
                f"keep at least {longest}",
            )
