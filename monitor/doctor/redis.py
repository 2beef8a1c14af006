"""Redis: reachable and credentials accepted, version, persistence, eviction policy, memory.

Read with ``INFO`` (and ``CONFIG GET`` for the fsync policy and RDB schedule): the daemon's
least-privilege user may be refused both (they are ``@dangerous``), which the findings say, so
run the doctor with a user that may read them, or check those settings by hand.
"""

from __future__ import annotations

from typing import Any

import redis

from monitor.config import Settings
from monitor.doctor.findings import Emit, Finding, fail, from_error, ok, warn
from monitor.doctor.sizing import BYTES_PER_PENDING_PREDICTION, bytes_per_model
from monitor.errors import AccessRefusedError, StoreUnavailableError
from monitor.store import layout
from monitor.store.client import check_access, connect, describe
from monitor.store.query import Query

#: How long Redis may take to answer one command: bounds the check when Redis is down or hung.
TIMEOUT_SECONDS = 2.0
#: The oldest Redis that runs Driftwatch: the audit trail trims with ``XADD … MINID`` (6.2).
#: The Lua scripts need nothing newer: ``cmsgpack`` (2.6) and ``TIME`` before writes, which
#: needs effects replication, the default since 5.0.
MIN_VERSION = (6, 2)
#: Above this share of maxmemory Redis is about to refuse writes: the daemon then stops.
FULL_SHARE = 0.95
#: Above this share there is little room for a traffic peak or a longer label horizon.
TIGHT_SHARE = 0.80
_INFO_REFUSED = (
    "let the doctor's Redis user run INFO and CONFIG GET (+info +config|get), or check this "
    "setting by hand"
)
_READ_REFUSED = (
    "let the doctor's Redis user read the deployment's keys (docs/operations.md, Redis rights)"
)


def check_redis(settings: Settings, emit: Emit) -> None:
    """Emit ``redis.connection``, then (when Redis answers) ``redis.layout``, ``redis.version``,
    ``redis.persistence``, ``redis.eviction`` and ``redis.memory``."""
    client = connect(settings.redis, timeout_seconds=TIMEOUT_SECONDS)
    try:
        try:
            check_access(client, settings.redis)
        except (AccessRefusedError, StoreUnavailableError) as exc:
            emit(from_error("redis.connection", exc))
            return
        emit(ok("redis.connection", f"{describe(settings.redis)} answered"))
        emit(_layout(client, settings))
        try:
            info = client.info("server") | client.info("persistence") | client.info("memory")
        except redis.exceptions.NoPermissionError:
            emit(warn("redis.version", "this Redis user may not run INFO", _INFO_REFUSED))
            return
        emit(_version(info))
        emit(_persistence(client, info))
        emit(_eviction(info))
        emit(_memory(settings, client, info))
    finally:
        client.close()


def _layout(client: redis.Redis, settings: Settings) -> Finding:
    try:
        layout.check(client, settings.redis)
    except layout.NewerLayoutError as exc:
        return fail("redis.layout", exc.problem, layout.FIX)
    except redis.exceptions.NoPermissionError:
        return warn("redis.layout", "this Redis user may not read the key layout", _READ_REFUSED)
    return ok("redis.layout", f"key layout {layout.LAYOUT} under {settings.redis.key_prefix!r}")


def _version(info: dict[str, Any]) -> Finding:
    found = str(info.get("redis_version", "0"))
    version = tuple(int(p) for p in found.split(".")[:2] if p.isdigit())
    wanted = ".".join(map(str, MIN_VERSION))
    if version >= MIN_VERSION:
        return ok("redis.version", f"Redis {found} (at least {wanted})")
    return fail(
        "redis.version",
        f"Redis {found} is older than {wanted}: the audit trail's XADD ... MINID fails",
        f"upgrade Redis to {wanted} or later",
    )


def _config(client: redis.Redis, name: str) -> str | None:
    """A ``CONFIG GET`` value, ``None`` when this user may not read it."""
    try:
        value = client.config_get(name).get(name)
    except redis.exceptions.NoPermissionError:
        return None
    return None if value is None else str(value)


def _persistence(client: redis.Redis, info: dict[str, Any]) -> Finding:
    check = "redis.persistence"
    if int(info.get("aof_enabled", 0)):
        fsync = _config(client, "appendfsync")
        if fsync is None:
            return warn(check, "AOF on; its fsync policy could not be read", _INFO_REFUSED)
        if fsync == "no":
            return warn(
                check,
                "AOF on with appendfsync no: a host crash loses the writes the OS had not flushed "
                "(often 30 s)",
                "CONFIG SET appendfsync everysec (and in redis.conf)",
            )
        return ok(check, f"AOF on, appendfsync {fsync}")
    save = _config(client, "save")
    if save is None:
        return warn(check, "AOF off; the RDB schedule could not be read", _INFO_REFUSED)
    if save.strip():
        return warn(
            check,
            f"AOF off, RDB snapshots only (save {save!r}): a crash loses every write since the "
            "last snapshot; counts are re-read from Kafka while it holds them, but alerts, "
            "silences and retraining requests of that span are lost",
            "CONFIG SET appendonly yes and appendfsync everysec (and in redis.conf)",
        )
    return fail(
        check,
        "no persistence (AOF off, no RDB schedule): a Redis restart loses every window, "
        "reference, alert and checkpoint",
        "CONFIG SET appendonly yes and appendfsync everysec (and in redis.conf)",
    )


def _eviction(info: dict[str, Any]) -> Finding:
    policy = str(info.get("maxmemory_policy", "unknown"))
    if policy == "noeviction":
        return ok("redis.eviction", "maxmemory-policy noeviction: a full Redis refuses writes")
    return fail(
        "redis.eviction",
        f"maxmemory-policy {policy}: at maxmemory Redis silently deletes keys, so counts, "
        "checkpoints and pending joins vanish without an error",
        "CONFIG SET maxmemory-policy noeviction (and maxmemory-policy noeviction in redis.conf)",
    )


def _memory(settings: Settings, client: redis.Redis, info: dict[str, Any]) -> Finding:
    """Used memory against maxmemory, and the expected need: every configured model at full
    retention (:mod:`monitor.doctor.sizing`) plus the predictions now waiting for outcomes."""
    check = "redis.memory"
    used = int(info.get("used_memory", 0))
    limit = int(info.get("maxmemory", 0))
    host = int(info.get("total_system_memory", 0))
    models = sum(bytes_per_model(m, settings.windows) for m in settings.models)
    try:
        pending = sum(row.counts.pending_predictions for row in Query(client, settings).ingest())
    except redis.exceptions.NoPermissionError:
        return warn(check, "this Redis user may not read the pending predictions", _READ_REFUSED)
    need = models + pending * BYTES_PER_PENDING_PREDICTION
    figures = (
        f"used {_mib(used)}, expected need {_mib(need)} ({len(settings.models)} model(s) at full "
        f"retention {_mib(models)} + {pending:,} pending predictions x "
        f"{BYTES_PER_PENDING_PREDICTION} B)"
    )
    budget = (
        "budget predictions/s x ingest.label_horizon_seconds x 250 B on top (docs/operations.md, "
        "Redis memory)"
    )
    if not limit:
        return warn(
            check,
            f"{figures}; no maxmemory: Redis grows until the host ({_mib(host)} of memory) "
            "runs out and the kernel kills it",
            f"set maxmemory below the host's memory, with noeviction, so a full Redis refuses "
            f"writes instead; {budget}",
        )
    figures = f"{figures}, maxmemory {_mib(limit)}"
    if used >= FULL_SHARE * limit:
        return fail(
            check,
            f"{figures}: Redis is about to refuse writes, and the daemon stops consuming",
            f"raise maxmemory, or shorten ingest.label_horizon_seconds; {budget}",
        )
    if used >= TIGHT_SHARE * limit or need > limit:
        return warn(check, f"{figures}: little headroom", f"raise maxmemory; {budget}")
    return ok(check, f"{figures}; {budget}")


def _mib(n: int) -> str:
    return f"{n / 2**20:,.1f} MiB"
