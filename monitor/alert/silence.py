"""The silence stage of the notification pipeline (after inhibition and time intervals).

Alertmanager's ``SilenceStage``: alerts a silence mutes are left out of what a receiver is told,
whatever their state, while their states go on changing; when the silence ends a still-firing
alert is simply in the next notification again. If no alert of a group is left, the group says
nothing this round.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from monitor.vocab.alerts import Alert
from monitor.vocab.silences import Silence


def unsilenced(alerts: Iterable[Alert], silences: Sequence[Silence], now: float) -> list[Alert]:
    """The alerts that no silence active at ``now`` mutes, in their order.

    A pure function of the alerts, the silences and the clock: the caller reads the silences
    once per round (``Query.silences``) for every group and receiver, and a round can be
    replayed in a test without Redis.
    """
    return [a for a in alerts if not any(s.silences(a.labels, now) for s in silences)]
