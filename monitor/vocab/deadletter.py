"""Dead letters: invalid records kept byte for byte, with a reason from a closed list.

The decoder makes them, the counters count them by reason, the checkpoint keeps them in the
partition's outbox and the dead-letter sink publishes them: one definition for all four.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from enum import StrEnum

#: Dead letters whose model cannot be read are counted under this name.
UNKNOWN_MODEL = "_unknown"


class InvalidReason(StrEnum):
    """Why an event was dead-lettered: the DLQ ``dw-reason`` header and the metric label."""

    EMPTY = "empty"
    TOO_LARGE = "too_large"
    NOT_UTF8 = "not_utf8"
    BAD_JSON = "bad_json"
    NON_FINITE = "non_finite"
    NOT_OBJECT = "not_object"
    MISSING_FIELD = "missing_field"
    WRONG_TYPE = "wrong_type"
    UNKNOWN_MODEL = "unknown_model"
    BAD_TIMESTAMP = "bad_timestamp"
    BAD_SCORE = "bad_score"
    DUPLICATE_ID = "duplicate_id"
    #: The daemon failed on this record (in decoding, or alone in a batch that failed twice for
    #: a reason that is not an outage): set aside so its neighbours are processed.
    UNPROCESSABLE = "unprocessable"


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """An invalid record, kept byte for byte with the reason it was rejected.

    Only a record too large for the dead-letter topic is cut (:meth:`truncated`): it then keeps
    its first bytes, its original size and the SHA-256 of the whole value.
    """

    offset: int
    reason: InvalidReason
    detail: str
    model: str
    key: bytes | None
    value: bytes | None
    original_size: int | None = None
    sha256: str | None = None

    def truncated(self, limit: int) -> DeadLetter:
        """This letter with at most ``limit`` bytes of key and value, saying what was cut."""
        value = self.value or b""
        if self.original_size is not None or len(value) <= limit:
            return self
        return DeadLetter(
            self.offset,
            self.reason,
            self.detail,
            self.model,
            None if self.key is None else self.key[:limit],
            value[:limit],
            len(value),
            hashlib.sha256(value).hexdigest(),
        )
