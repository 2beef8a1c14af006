"""Clock skew against Redis' TIME: measured for real, judged against the thresholds."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from monitor.doctor.clock import check_clock, judge
from monitor.doctor.findings import Status
from tests.monitor.doctor.support import collect, settings_of


def test_this_host_and_the_session_redis_agree(write_config: Callable[..., Path]) -> None:
    finding = collect(check_clock, settings_of(write_config()))["clock.redis"]
    assert finding.status is Status.OK, finding


def test_a_second_warns_and_more_than_the_allowed_lateness_fails(
    write_config: Callable[..., Path],
) -> None:
    settings = settings_of(write_config(extra="\n[windows]\nallowed_lateness_seconds = 60\n"))
    assert judge(0.2, 0.001, settings).status is Status.OK
    late = judge(-5.0, 0.001, settings)
    assert late.status is Status.WARN and "5.000 s behind" in late.found and "NTP" in late.fix
    assert judge(61.0, 0.001, settings).status is Status.FAIL
