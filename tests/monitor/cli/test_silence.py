"""``driftwatch silence``: add shows what it mutes, list and expire work against the real Redis,
and a mistake typed on the command line is one line with exit code 2."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import redis
from click.testing import CliRunner, Result

from monitor.cli.silence import silence_group
from monitor.store.alerts import AlertStore
from monitor.store.keys import Keys
from monitor.store.lease import Lease
from monitor.vocab.alerts import Alert, AlertState

MODEL = '[[models]]\nname = "fraud"\nowner = "o"\ntask = "binary"\nfeatures = { a = "numeric" }\n'


@pytest.fixture
def config_path(tmp_path: Path, redis_url: str, key_prefix: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(f'[redis]\nurl = "{redis_url}"\nkey_prefix = "{key_prefix}"\n\n{MODEL}')
    return path


def run(config_path: Path, *args: str) -> Result:
    return CliRunner().invoke(silence_group, [*args, "--config", str(config_path)])


def alert(feature: str, state: AlertState) -> Alert:
    labels = {"alertname": "FeatureDrift", "model": "fraud", "severity": "critical", "owner": "o",
              "feature": feature}  # fmt: skip
    return Alert(labels, {"summary": f"feature drift: {feature}"}, state, 1.0, 2.0, 2.0)


def test_add_list_and_expire(config_path: Path, redis_client: redis.Redis, key_prefix: str) -> None:
    keys = Keys(key_prefix)
    fence = Lease(redis_client, keys.evaluator_lease, keys.evaluator_fence, "t", 10_000).hold()
    assert fence is not None
    alerts = [alert("amount", "firing"), alert("amount2", "pending"), alert("age", "firing"),
              alert("amount3", "resolved")]  # fmt: skip
    AlertStore(redis_client, keys).save(fence, "fraud", alerts, [], None)

    added = run(config_path, "add", "--matcher", "model=fraud", "--matcher",
                'feature=~"amount.*"', "--duration", "2h", "--author", "ana", "--comment",
                "retraining")  # fmt: skip
    assert added.exit_code == 0, added.output
    first, *rest = added.output.splitlines()
    assert re.fullmatch(r"[0-9a-f]{32}", first)
    assert rest[0].startswith("mutes 2 current alert(s) until ")
    assert [line.split()[:2] for line in rest[1:]] == [
        ["firing", '{alertname="FeatureDrift",feature="amount",model="fraud",owner="o",'
                   'severity="critical"}'],
        ["pending", '{alertname="FeatureDrift",feature="amount2",model="fraud",owner="o",'
                    'severity="critical"}'],
    ]  # fmt: skip

    other = run(config_path, "add", "--matcher", "model=churn", "--duration", "30m",
                "--author", "bo", "--comment", "not ours")  # fmt: skip
    assert other.exit_code == 0 and "no current alert matches" in other.output

    listed = run(config_path, "list")
    assert listed.exit_code == 0, listed.output
    rows = listed.output.splitlines()[1:]
    assert [r.split()[:2] for r in rows] == [[first, "active"], [other.output[:32], "active"]]
    assert rows[0].endswith('ana          model="fraud", feature=~"amount.*": retraining')

    expired = run(config_path, "expire", first)
    assert expired.exit_code == 0 and expired.output == f"expired silence {first}\n"
    again = run(config_path, "expire", first)
    assert again.exit_code == 0 and "had already expired at" in again.output

    docs = json.loads(run(config_path, "list", "--json").output)
    assert [d["id"] for d in docs] == [other.output[:32]]
    docs = json.loads(run(config_path, "list", "--expired", "--json").output)
    assert [(d["id"], d["state"], d["created_by"]) for d in docs] == [
        (first, "expired", "ana"), (other.output[:32], "active", "bo")
    ]  # fmt: skip
    assert docs[0]["matchers"] == ['model="fraud"', 'feature=~"amount.*"']


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["add", "--matcher", "model", "--duration", "1h", "--author", "a", "--comment", "c"],
         "'model' is not a matcher"),
        (["add", "--matcher", 'model=~".*"', "--duration", "1h", "--author", "a", "--comment",
          "c"], "would mute every alert"),
        (["add", "--matcher", "model=fraud", "--duration", "soon", "--author", "a", "--comment",
          "c"], "--duration: 'soon' is not a duration"),
        (["add", "--matcher", "model=fraud", "--duration", "0", "--author", "a", "--comment",
          "c"], "the duration must be positive"),
        (["add", "--matcher", "model=fraud", "--duration", "1h", "--author", "a", "--comment",
          " "], "say why alerts are silenced"),
        (["expire", "0123"], "no silence has the id '0123'"),
    ],
)  # fmt: skip
def test_a_typing_mistake_is_one_line_and_exit_2(
    config_path: Path, redis_client: redis.Redis, key_prefix: str, args: list[str], says: str
) -> None:
    result = run(config_path, *args)
    assert result.exit_code == 2, result.output
    assert result.output.startswith("error: ") and says in result.output
    assert result.output.count("\n") == 1 and "Traceback" not in result.output
    assert redis_client.exists(Keys(key_prefix).silences) == 0
