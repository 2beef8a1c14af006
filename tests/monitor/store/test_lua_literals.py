"""The checkpoint script's literals are the Python constants they stand for.

``apply_batch.lua`` cannot import Python: its status codes, join-record tags and member separator
are spelled again in Lua. These tests read them from the script and fail when one side changes
without the other.
"""

from __future__ import annotations

import re
from importlib import resources

from monitor.store.checkpoint import Status
from monitor.store.keys import MEMBER_SEP
from monitor.vocab.effects import EARLY_OUTCOME, JOINED_MARKER

SCRIPT = resources.files("monitor.store").joinpath("apply_batch.lua").read_text()


def lua_locals() -> dict[str, str]:
    """Every ``local A, B = x, y`` of the script's top level, as name → literal text."""
    found: dict[str, str] = {}
    for names, values in re.findall(r"^local ([\w, ]+) = (.+?)\s*(?:--.*)?$", SCRIPT, re.M):
        names_list = [n.strip() for n in names.split(",")]
        values_list = [v.strip() for v in values.split(",")]
        if len(names_list) == len(values_list):
            found.update(zip(names_list, values_list, strict=True))
    return found


def test_status_codes_match_the_status_enum() -> None:
    literals = lua_locals()
    for status in Status:
        assert int(literals[status.name]) == status.value, status


def test_join_tags_and_member_separator_match() -> None:
    literals = lua_locals()
    assert literals["EARLY_OUTCOME"] == f"'{EARLY_OUTCOME}'"
    assert literals["JOINED"] == f"'{JOINED_MARKER}'"
    assert literals["MEMBER_SEP"] == f"'\\{ord(MEMBER_SEP)}'"


def test_the_script_spells_no_tag_outside_its_declarations() -> None:
    """A tag written as a bare literal elsewhere would escape the checks above."""
    body = SCRIPT.split("local MEMBER_SEP", 1)[1]
    assert not re.search(r"'[POJ]'", body)
    assert "'\\31'" not in body.split("\n", 1)[1]
