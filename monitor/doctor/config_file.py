"""The config file loads and validates: the checks of ``driftwatch config check``, as findings."""

from __future__ import annotations

from pathlib import Path

from monitor import config as config_module
from monitor.config import Settings
from monitor.doctor.findings import Emit, fail, ok
from monitor.errors import ConfigError


def check_config(path: Path, emit: Emit) -> Settings | None:
    """The parsed settings, or ``None`` after emitting every problem (the other checks need a
    valid file: they would otherwise guess at addresses and names)."""
    try:
        raw = config_module.read(path)
    except ConfigError as error:
        emit(fail("config", f"{error.key}: {error.problem}", error.fix))
        return None
    errors = config_module.check(raw)
    for problem in errors:
        emit(fail("config", f"{path} {problem.key}: {problem.problem}", problem.fix))
    if errors:
        return None
    settings = config_module.parse(raw)
    emit(ok("config", f"{path} is valid: {len(settings.models)} model(s)"))
    return settings
