"""A reference from a training file: CSV cells read as the daemon reads events, errors one line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from monitor.baseline import profile_from_file
from monitor.config import ModelSettings
from monitor.errors import DriftwatchError
from monitor.vocab.profile import CategoricalProfile

MODEL = ModelSettings(
    name="churn",
    owner="o",
    task="binary",
    features={"spend": "numeric", "plan": "categorical", "autopay": "boolean"},
)


def write_csv(folder: Path, rows: list[str]) -> Path:
    path = folder / "train.csv"
    path.write_text("\n".join(["spend,plan,autopay,prediction,label", *rows]) + "\n")
    return path


def profile(path: Path) -> object:
    return profile_from_file(
        MODEL, path, prediction_column="prediction", score_column=None, label_column="label"
    )


def test_boolean_cells_in_any_usual_spelling_are_two_categories(tmp_path: Path) -> None:
    rows = ["1,a,yes,1,true", "2,a,No,0,False", "3,b,1,yes,0", "4,b,,no,", "5,a,maybe,0,1"]
    autopay = profile(write_csv(tmp_path, rows)).features["autopay"]  # type: ignore[attr-defined]
    assert isinstance(autopay, CategoricalProfile)
    # The same categories a JSON true/false makes in a window ("True"/"False"); the empty and
    # the unreadable cell are missing, as a wrong-typed value in an event is.
    assert dict(zip(autopay.categories, autopay.counts, strict=False)) == {"True": 2, "False": 1}
    assert autopay.n_missing == 2


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ("1,a,yes,0.73,1", "column 'prediction', line 3: '0.73' is not a binary class"),
        ("1,a,yes,,1", "column 'prediction', line 3: empty"),
        ("1,a,yes,1,fraud", "column 'label', line 3: 'fraud' is not a binary class"),
    ],
)
def test_a_binary_target_that_is_not_a_class_names_its_line(
    tmp_path: Path, row: str, message: str
) -> None:
    with pytest.raises(DriftwatchError, match=message):
        profile(write_csv(tmp_path, ["1,a,yes,1,1", row]))


def test_the_cli_reports_unusable_data_in_one_line_before_touching_redis(tmp_path: Path) -> None:
    """No traceback, no Redis needed: the file is read and judged before anything is stored."""
    config = tmp_path / "config.toml"
    config.write_text(
        '[redis]\nurl = "redis://127.0.0.1:1/0"\n'
        '[[models]]\nname = "churn"\nowner = "o"\ntask = "binary"\n'
        'features = { spend = "numeric", plan = "categorical", autopay = "boolean" }\n'
    )
    # Every spend is missing: a numeric reference needs values.
    path = write_csv(tmp_path, [f",a,yes,{i % 2},1" for i in range(50)])
    args = ["baseline", "set", "--config", str(config), "--model", "churn", "--file", str(path)]
    result = subprocess.run(
        [sys.executable, "-m", "monitor", *args, "--label-column", "label"],
        capture_output=True,
        text=True,
    )
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert str(path) in lines[0] and "spend" in lines[0] and "Traceback" not in lines[0]


def test_unusable_scores_are_named_with_the_columns_to_check(tmp_path: Path) -> None:
    path = tmp_path / "train.csv"
    path.write_text("spend,plan,autopay,prediction,p\n" + "1,a,yes,1,n/a\n" * 10)
    with pytest.raises(DriftwatchError, match=r"the scores: no numeric value.*--score-column"):
        profile_from_file(
            MODEL, path, prediction_column="prediction", score_column="p", label_column=None
        )
