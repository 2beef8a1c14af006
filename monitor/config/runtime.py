"""The processes Driftwatch runs (``[runtime]``, ``[dashboard]``) and the capabilities they switch
on (``[retraining]``; ``[alerting]`` is ``alerting.py``). Their types are their only rules."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


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

    @property
    def link_base(self) -> str:
        return self.public_url.rstrip("/") or f"http://{self.host}:{self.port}"


@dataclass(frozen=True, slots=True)
class RetrainingSettings:
    """Retraining webhooks (filled by the retraining capability)."""

    enabled: bool = False
