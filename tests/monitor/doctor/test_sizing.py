"""The memory expectation scales with retention, window size and feature count."""

from __future__ import annotations

from monitor.config import ModelSettings, WindowSettings
from monitor.doctor.sizing import (
    BYTES_PER_MODEL_FIXED,
    BYTES_PER_WINDOW_FEATURE,
    bytes_per_model,
    windows_kept,
)


def _model(n_features: int) -> ModelSettings:
    features = {f"f{i}": "numeric" for i in range(n_features)}
    return ModelSettings(name="m", owner="o", task="binary", features=features)  # type: ignore[arg-type]


def test_a_model_costs_its_fixed_state_and_each_kept_window_per_feature() -> None:
    assert windows_kept(WindowSettings()) == 30 * 24
    hourly = bytes_per_model(_model(12), WindowSettings())
    assert hourly == BYTES_PER_MODEL_FIXED + 720 * 12 * BYTES_PER_WINDOW_FEATURE
    assert 31e6 < hourly < 33e6  # ~32 MB: what docs/operations.md quotes for 12 features
    daily = bytes_per_model(_model(6), WindowSettings(size_seconds=86_400))
    assert daily == BYTES_PER_MODEL_FIXED + 30 * 6 * BYTES_PER_WINDOW_FEATURE
