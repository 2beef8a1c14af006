"""``driftwatch doctor``: checks a deployment's dependencies and says what to fix.

Each module checks one concern and reports :class:`~monitor.doctor.findings.Finding` values (ok,
warn or fail, what was found, the fix) through a callback as soon as it knows them:

- ``config``: the file loads and validates (the same checks as ``driftwatch config check``);
- ``kafka``: brokers reachable, credentials accepted, the three topics, co-partitioning, lag;
- ``redis``: reachable, credentials, version, persistence, eviction policy, memory headroom;
- ``targets``: alert receivers and retraining webhook targets reachable, sending nothing;
- ``clock``: this host's clock against Redis' (the claim script's time source);
- ``sizing``: the measured bytes per model and per pending prediction behind the memory check;
- ``runner``: runs the checks side by side, each bounded in time.

Nothing here writes to Kafka or Redis, or sends to a receiver: the doctor only reads and connects.
"""

from __future__ import annotations

from monitor.doctor.findings import Finding, Status, exit_code
from monitor.doctor.runner import diagnose

__all__ = ["Finding", "Status", "diagnose", "exit_code"]
