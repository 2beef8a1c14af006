"""Alerting: the windows' verdicts become alerts, and the alerts are routed to their owners.

The semantics are Prometheus Alertmanager's (``../shared/design.md`` §6), so on-call people meet
familiar behaviour: label matchers, a routing tree with ``continue`` and ``group_by``, group
timers. ``rules`` and ``state`` make the alerts; ``route`` (with ``monitor/vocab/matchers.py``)
decides who gets them, and ``dedup`` whether they need telling again.
"""
