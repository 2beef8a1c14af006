"""Reading a training or validation file into the columns a reference profile is built from.

CSV (header row) and Parquet files are read; each configured feature is a column of the same name,
and the prediction, score and label come from columns named by the caller. Empty CSV cells are
missing values; numeric features are parsed as numbers (a cell that is not one counts as missing,
exactly as the daemon counts a wrong-typed value).
"""

from __future__ import annotations

import csv
import math
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from monitor.config import ModelSettings
from monitor.errors import DriftwatchError
from monitor.stats.reference import ReferenceProfile, build_profile


def read_columns(path: Path) -> dict[str, list[Any]]:
    """Column name → values, from a ``.csv`` or ``.parquet`` file."""
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq  # pyarrow arrives with streamlit

        return pq.read_table(path).to_pydict()
    if path.suffix != ".csv":
        raise DriftwatchError(f"{path}: use a .csv or .parquet file")
    with path.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    if not rows:
        raise DriftwatchError(f"{path} has no data rows")
    return {name: [row[name] for row in rows] for name in rows[0]}


def profile_from_file(
    model: ModelSettings,
    path: Path,
    *,
    prediction_column: str,
    score_column: str | None,
    label_column: str | None,
    version: str | None = None,
) -> ReferenceProfile:
    """Build the model's reference profile from a file; errors name the missing column."""
    columns = read_columns(path)
    needed = [*model.features, prediction_column]
    needed += [c for c in (score_column, label_column) if c]
    missing = [c for c in needed if c not in columns]
    if missing:
        raise DriftwatchError(
            f"{path} lacks column(s) {', '.join(missing)}; it has {', '.join(columns)}"
        )
    features = {
        name: _numbers(columns[name]) if kind == "numeric" else _categories(columns[name])
        for name, kind in model.features.items()
    }
    numeric_target = model.task != "multiclass"
    predictions = columns[prediction_column]
    labels = columns[label_column] if label_column else None
    now = time.time()
    return build_profile(
        model,
        features,
        predictions=_numbers(predictions) if numeric_target else _categories(predictions),
        scores=_numbers(columns[score_column]) if score_column else None,
        labels=(_numbers(labels) if numeric_target else _categories(labels)) if labels else None,
        version=version or time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(now)),
        source=str(path),
        created_at=now,
    )


def _numbers(values: Sequence[Any]) -> list[float | None]:
    out: list[float | None] = []
    for v in values:
        if isinstance(v, bool):
            out.append(float(v))
        elif isinstance(v, int | float):
            out.append(float(v) if math.isfinite(v) else None)
        elif isinstance(v, str) and v.strip():
            try:
                number = float(v)
            except ValueError:
                number = math.nan
            out.append(number if math.isfinite(number) else None)
        else:
            out.append(None)
    return out


def _categories(values: Sequence[Any]) -> list[str | None]:
    return [None if v is None or v == "" else str(v) for v in values]
