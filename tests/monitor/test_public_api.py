"""The package's public names stay deliberate: a change here is an API change."""

from types import ModuleType

import pytest

import monitor
from monitor import simulate


@pytest.mark.parametrize(
    ("module", "names"),
    [
        (monitor, ["ConfigError", "DriftwatchError", "Query", "Settings", "load"]),
        # What the CLI, the benchmarks and the tests import from the simulator.
        (
            simulate,
            [
                "ProduceReport",
                "SimEvent",
                "Simulator",
                "UNSEEN_CATEGORIES",
                "parse_fault",
                "parse_start",
                "produce",
                "run_command",
            ],
        ),
    ],
    ids=["monitor", "monitor.simulate"],
)
def test_public_names(module: ModuleType, names: list[str]) -> None:
    assert sorted(module.__all__) == names
    for name in module.__all__:
        assert getattr(module, name) is not None
