"""The HTTP request of one retraining event for one target: pure, so every preset is testable
byte for byte and every attempt of an event sends the same body.

A target's credentials are read once, when it is resolved (:meth:`ResolvedTarget.resolve`), not
per request: the scheduler resolves its targets at start-up (and again when it wants a rotated
secret), and a missing or malformed secret fails there, as a :class:`ConfigError` naming the key.
Nothing that holds a credential shows it: :class:`ResolvedTarget` and :class:`HttpRequest` mask
it in their ``repr``, and :meth:`HttpRequest.redact` masks it in any text the sender derives
from an answer (a server may echo the request).

Every request carries the event id three ways, so a receiver can dedup on what it knows: the
body (``event_id``, Airflow's ``dag_run_id``), ``Idempotency-Key`` and, when the target has a
``whsec_`` secret, the Standard Webhooks ``webhook-id`` whose signature covers the exact body
bytes sent.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlsplit

from standardwebhooks import Webhook

from monitor.config import Secret, TargetSettings
from monitor.errors import ConfigError

USER_AGENT = "driftwatch"
#: The REST API version the GitHub preset is written against.
GITHUB_API_VERSION = "2022-11-28"
#: GitHub refuses a ``client_payload`` with more top-level keys.
GITHUB_MAX_PAYLOAD_KEYS = 10
#: The payload keys a GitHub workflow reads at the top of ``client_payload``; the rest is nested
#: under ``evidence``, so any payload fits GitHub's limit.
GITHUB_TOP_KEYS = ("event_id", "model", "version", "reason", "dashboard_url")
#: Standard Webhooks: ``whsec_`` + base64 of 24 to 64 random bytes.
WHSEC_PREFIX = "whsec_"
WHSEC_BYTES = (24, 64)
MASK = "***"
_WHSEC_FIX = (
    "use whsec_ followed by the base64 of 24 to 64 random bytes, e.g. the output of "
    "python -c \"import base64,os; print('whsec_' + base64.b64encode(os.urandom(32)).decode())\""
)


@dataclass(frozen=True, slots=True)
class HttpRequest:
    """One request, exactly as sent: the signature covers ``body`` byte for byte."""

    method: str
    url: str
    headers: dict[str, str]
    body: bytes
    #: Credential values in this request (never shown): :meth:`redact` masks them.
    secrets: tuple[str, ...] = field(default=(), repr=False, compare=False)

    def __repr__(self) -> str:
        headers = {k: MASK if k.lower() == "authorization" else v for k, v in self.headers.items()}
        return (
            f"HttpRequest({self.method} {_shown_url(self.url)}, headers={headers}, "
            f"body={len(self.body)} bytes)"
        )

    def redact(self, text: str) -> str:
        """``text`` with every credential of this request masked (longest first, so a token is
        masked whole before any part of it)."""
        for secret in sorted(self.secrets, key=len, reverse=True):
            text = text.replace(secret, MASK)
        return text


@dataclass(frozen=True, slots=True)
class ResolvedTarget:
    """A target with its credentials read: what :func:`build_request` needs."""

    settings: TargetSettings
    #: The ``Authorization`` header's value ("" for none).
    authorization: str = field(default="", repr=False)
    #: Signs with the target's ``whsec_`` secret; None: the target signs nothing.
    signer: Webhook | None = field(default=None, repr=False, compare=False)
    #: The credential values, for :attr:`HttpRequest.secrets`.
    secrets: tuple[str, ...] = field(default=(), repr=False, compare=False)

    def __repr__(self) -> str:
        s = self.settings
        auth = self.authorization.partition(" ")[0] or "none"
        return (
            f"ResolvedTarget(name={s.name!r}, kind={s.kind!r}, url={_shown_url(s.base_url)!r}, "
            f"authorization={auth}, signed={self.signer is not None})"
        )

    @classmethod
    def resolve(cls, settings: TargetSettings, key: str) -> ResolvedTarget:
        """Read the target's secrets (``key``: where it is configured, e.g.
        ``retraining.targets[0]``); a missing, empty or malformed one raises
        :class:`ConfigError` naming its key, never its value."""
        secrets: list[str] = []
        authorization = ""
        if settings.token:
            token = _reveal(settings.token, f"{key}.token")
            secrets.append(token)
            authorization = f"Bearer {token}"
        elif settings.username:
            password = _reveal(settings.password, f"{key}.password")
            pair = base64.b64encode(f"{settings.username}:{password}".encode()).decode()
            secrets += [password, pair]
            authorization = f"Basic {pair}"
        signer = None
        if settings.secret:
            whsec = _reveal(settings.secret, f"{key}.secret")
            signer = Webhook(_whsec_key(whsec, f"{key}.secret"))
            secrets.append(whsec)
        return cls(settings, authorization, signer, tuple(secrets))


def build_request(
    target: ResolvedTarget, event_id: str, payload: Mapping[str, Any], now: float
) -> HttpRequest:
    """The request that delivers retraining event ``event_id`` (``payload``: its JSON-able
    document, opaque here) to ``target``, signed as of ``now`` (epoch seconds).

    The same arguments give the same request, so every attempt of an event is the same request
    but for the signature's timestamp. Raises ``ValueError`` for an event id that cannot be a
    header value, or a payload with another ``event_id`` or values JSON cannot carry (NaN):
    bugs of the caller, not of the configuration.
    """
    if not event_id or any(c.isspace() or not c.isprintable() for c in event_id):
        raise ValueError(f"event id {event_id!r} cannot be sent as a header value")
    if payload.get("event_id", event_id) != event_id:
        raise ValueError(f"the payload's event_id is not {event_id!r}")
    s = target.settings
    base = s.base_url.rstrip("/")
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "Idempotency-Key": event_id,
    }
    document: dict[str, Any]
    if s.kind == "webhook":
        url = s.url
        document = {"event_id": event_id, **payload}
    elif s.kind == "github":
        owner, _, repo = s.repository.partition("/")
        url = f"{base}/repos/{quote(owner, safe='')}/{quote(repo, safe='')}/dispatches"
        headers["Accept"] = "application/vnd.github+json"
        headers["X-GitHub-Api-Version"] = GITHUB_API_VERSION
        document = {
            "event_type": s.event_type,
            "client_payload": _client_payload(event_id, payload),
        }
    elif s.kind == "airflow":
        url = f"{base}/api/{s.airflow_api}/dags/{quote(s.dag_id, safe='')}/dagRuns"
        if s.airflow_api == "v1":
            document = {"dag_run_id": event_id, "conf": dict(payload)}
        else:  # Airflow 3 requires logical_date; null: a run not tied to a data interval
            document = {"dag_run_id": event_id, "logical_date": None, "conf": dict(payload)}
    else:
        url = f"{base}/apis/v2beta1/runs"
        document = _kubeflow_run(s, event_id, payload)
    if target.authorization:
        headers["Authorization"] = target.authorization
    body = json.dumps(document, separators=(",", ":"), allow_nan=False).encode()
    if target.signer is not None:
        timestamp = int(now)
        headers["webhook-id"] = event_id
        headers["webhook-timestamp"] = str(timestamp)
        headers["webhook-signature"] = target.signer.sign(
            event_id, datetime.fromtimestamp(timestamp, UTC), body
        )
    return HttpRequest("POST", url, headers, body, target.secrets)


def _client_payload(event_id: str, payload: Mapping[str, Any]) -> dict[str, Any]:
    """GitHub's ``client_payload``: the keys a workflow reads on top, the rest under
    ``evidence`` — at most 6 top-level keys whatever the payload holds."""
    top: dict[str, Any] = {"event_id": event_id}
    top |= {k: payload[k] for k in GITHUB_TOP_KEYS[1:] if k in payload}
    top["evidence"] = {k: v for k, v in payload.items() if k not in GITHUB_TOP_KEYS}
    return top


def _kubeflow_run(s: TargetSettings, event_id: str, payload: Mapping[str, Any]) -> dict[str, Any]:
    """A Kubeflow Pipelines v2beta1 run; the payload travels as one JSON string parameter, since
    pipeline parameters are typed and a nested document would need one per field."""
    reference = {"pipeline_id": s.pipeline_id}
    if s.pipeline_version_id:  # absent: the pipeline's latest version
        reference["pipeline_version_id"] = s.pipeline_version_id
    model = str(payload.get("model", ""))
    run: dict[str, Any] = {
        "display_name": " ".join(p for p in ("driftwatch", model, event_id) if p),
        "pipeline_version_reference": reference,
        "runtime_config": {
            "parameters": {
                "event_id": event_id,
                "payload": json.dumps(payload, separators=(",", ":"), allow_nan=False),
            }
        },
    }
    if s.experiment_id:  # absent: Kubeflow's default experiment
        run["experiment_id"] = s.experiment_id
    return run


def _reveal(secret: Secret, key: str) -> str:
    """The secret's value, stripped; an unset, empty or multi-line one is a configuration error
    (a line break in a header value would make http.client raise with the value in its text)."""
    secret.check(key)
    value = (secret.reveal() or "").strip()
    if not value:
        raise ConfigError(key, "the secret is empty", "put the value in its variable or file")
    if not value.isprintable():
        raise ConfigError(
            key, "the secret contains a line break or control character", "store it on one line"
        )
    return value


def _whsec_key(value: str, key: str) -> bytes:
    """The signing key a ``whsec_`` secret encodes; checked strictly, where the library would
    sign with whatever a lenient base64 decoding of a typo gives."""
    if not value.startswith(WHSEC_PREFIX):
        raise ConfigError(key, "is not a Standard Webhooks secret (no whsec_ prefix)", _WHSEC_FIX)
    encoded = value[len(WHSEC_PREFIX) :]
    try:
        raw = base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise ConfigError(key, "the part after whsec_ is not base64", _WHSEC_FIX) from None
    low, high = WHSEC_BYTES
    if not low <= len(raw) <= high:
        raise ConfigError(key, f"encodes {len(raw)} bytes, not {low} to {high}", _WHSEC_FIX)
    return raw


def _shown_url(url: str) -> str:
    """``url`` without its query (a webhook URL may carry a token there)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "(unreadable URL)"
    return parts._replace(query=MASK if parts.query else "", fragment="").geturl()
