"""The words every layer shares: what a batch changes, dead letters, reference profiles, merged
counts and evaluation results.

Nothing here imports another part of Driftwatch: the stages
(``monitor/stats``, ``monitor/join.py``) produce these values, the store (``monitor/store``) keeps
and reads them, and the shells show them — so none of those depends on another's internals
(``docs/architecture.md``).
"""
