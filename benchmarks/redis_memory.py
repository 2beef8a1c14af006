"""Redis memory of one deployment, by kind of key: where the sizing figures come from.

    .venv/bin/python benchmarks/redis_memory.py --config C --model M

Run after a daemon has consumed a known amount of traffic and stopped (the commands are in
``monitor/doctor/sizing.py``, whose constants this script measured). Sums ``MEMORY USAGE key
SAMPLES 0`` over every key of the config's ``redis.key_prefix``, grouped by the key's kind (its
first segment after the prefix; per-partition keys ``{p}:…`` by the segment after the partition),
and prints the model's kept windows: bytes per window and per prediction follow by division.
"""

from __future__ import annotations

import argparse
import collections
import re
from pathlib import Path

from monitor import config
from monitor.store.client import connect
from monitor.store.keys import Keys

#: The per-partition hash tag that opens a partition's keys: ``{<topic>-<partition>}:``.
PARTITION_TAG = re.compile(r"^\{[^}]*\}:")


def kind_of(key: str, prefix: str) -> str:
    """The kind of a key: ``j`` for ``dw:j:…``, ``{part}:exp`` for ``dw:{t-0}:exp:…``."""
    rest = key[len(prefix) + 1 :]
    tagged = PARTITION_TAG.sub("", rest)
    if tagged != rest:
        return "{part}:" + tagged.split(":")[0]
    return rest.split(":")[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, required=True, help="the deployment's config")
    parser.add_argument("--model", required=True, help="the model whose windows are counted")
    args = parser.parse_args()
    settings = config.load(args.config, secrets=config.REDIS_ONLY)
    client = connect(settings.redis)
    prefix = settings.redis.key_prefix
    sizes: collections.Counter[str] = collections.Counter()
    counts: collections.Counter[str] = collections.Counter()
    for raw in client.scan_iter(match=f"{prefix}:*", count=1000):
        key = raw.decode()
        kind = kind_of(key, prefix)
        sizes[kind] += client.memory_usage(key, samples=0) or 0
        counts[kind] += 1
    for kind in sorted(sizes, key=sizes.__getitem__, reverse=True):
        print(f"{kind:16} {counts[kind]:9,} keys {sizes[kind]:14,} B")
    print(f"{'total':16} {sum(counts.values()):9,} keys {sum(sizes.values()):14,} B")
    print(f"windows of {args.model}: {client.zcard(Keys(prefix).window_index(args.model)):,}")


if __name__ == "__main__":
    main()
