"""The package's public names stay deliberate: a change here is an API change."""

import monitor


def test_public_names() -> None:
    assert sorted(monitor.__all__) == [
        "ConfigError",
        "DriftwatchError",
        "Query",
        "Settings",
        "load",
    ]
    for name in monitor.__all__:
        assert getattr(monitor, name) is not None
