"""The version of the key layout under one prefix, so no process writes a layout it does not know.

``monitor/store/keys.py`` names the keys; this module keeps their layout's version in
``P:layout``. A release that renames keys or changes how a value is encoded raises
:data:`LAYOUT` and migrates the data under the prefix (its release notes say how); data written
before the marker existed is layout 1. A daemon marks an unmarked prefix at start-up. A process of
an older release started against data a newer one migrated refuses to run, naming both versions,
instead of writing the old layout beside the new one — so a rolling upgrade across a layout change
stops the old daemons first (docs/operations.md, Upgrades).
"""

from __future__ import annotations

import redis

from monitor.config import RedisSettings
from monitor.errors import DriftwatchError
from monitor.store.client import is_outage
from monitor.store.keys import Keys

#: The layout this release reads and writes.
LAYOUT = 1
#: What to do when the data is newer than this release.
FIX = "run the release that migrated it (or a newer one), or give this one its own redis.key_prefix"


class NewerLayoutError(DriftwatchError):
    """Redis holds data in a layout a newer release wrote; this release must not touch it."""

    def __init__(self, found: int, prefix: str) -> None:
        self.problem = (
            f"Redis holds Driftwatch data in key layout {found} under the prefix {prefix!r}, "
            f"written by a newer release; this release knows layout {LAYOUT} and would corrupt it"
        )
        super().__init__(f"{self.problem}: {FIX}")


def stored(client: redis.Redis, keys: Keys) -> int:
    """The layout of the data under the prefix (1 when unmarked: data from before the marker).
    Redis errors pass as raised: callers run at start-up, where the command-line wrapper words a
    refusal or an outage in one line, as for any other read."""
    raw = client.get(keys.layout)
    return 1 if raw is None else int(raw)


def check(client: redis.Redis, settings: RedisSettings, *, mark: bool = False) -> None:
    """Raise :class:`NewerLayoutError` when the prefix holds a newer layout than :data:`LAYOUT`;
    with ``mark``, first mark an unmarked prefix with this release's layout (only a process that
    writes may: the dashboard's user reads)."""
    keys = Keys(settings.key_prefix)
    if mark:
        try:
            client.set(keys.layout, LAYOUT, nx=True)
        except redis.RedisError as exc:
            if not is_outage(exc):
                raise
            # A full or read-only Redis: a later start marks it; the read below still tells.
    found = stored(client, keys)
    if found > LAYOUT:
        raise NewerLayoutError(found, settings.key_prefix)
