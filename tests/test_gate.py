"""The promotion gate: a deliberately degraded churn model is trained through Dagster (asked for
with the retrain tag: the promoted version is recent), its check fails as a warning, the run
succeeds, and scoring runs with the model in use (not the refused one)."""

import json
import shutil
import subprocess
import sys

import duckdb
import pytest
from conftest import config_with_data_dir

from ml.models import ChurnRiskModel
from orchestration.settings import REPO_ROOT, get_settings

# Train churn with a model that predicts the base rate for everyone (no signal at all).
DEGRADED_RUN = """
import json, sys
from sklearn.dummy import DummyClassifier
from sklearn.pipeline import Pipeline
import ml.churn
ml.churn.build_churn_pipeline = lambda **settings: Pipeline(
    [("model", DummyClassifier(strategy="prior"))]
)
import dagster as dg
from orchestration.definitions import defs
from orchestration.instance import ensure_instance
ensure_instance()
from orchestration.settings import RETRAIN_TAG
job = defs().resolve_implicit_global_asset_job_def()
selection = [dg.AssetKey(["models", "churn"]), dg.AssetKey(["scores", "churn_scores"])]
# Every frame a model step reads from the warehouse, by input name.
import orchestration.lib.model_assets as model_assets
read_frames, reads = model_assets._read_frames, []
model_assets._read_frames = lambda conn, keys: reads.extend(keys) or read_frames(conn, keys)
# Without the tag: the promoted version is recent (models.retrain_every_days), nothing trains.
not_due = job.execute_in_process(
    instance=dg.DagsterInstance.get(), asset_selection=selection, raise_on_error=False
)
read_when_kept = sorted(reads)
kept = [
    e.event_specific_data.materialization.metadata.get("kept").value
    for e in not_due.all_events
    if e.event_type_value == "ASSET_MATERIALIZATION" and "kept" in e.event_specific_data.materialization.metadata
]
result = job.execute_in_process(
    instance=dg.DagsterInstance.get(),
    asset_selection=selection,
    raise_on_error=False,
    tags={RETRAIN_TAG: "true"},
)
checks = [
    {
        "passed": e.event_specific_data.passed,
        "severity": e.event_specific_data.severity.value,
        "description": e.event_specific_data.description,
    }
    for e in result.all_events if e.event_type_value == "ASSET_CHECK_EVALUATION"
]
materialized = [
    "/".join(e.asset_key.path) for e in result.all_events if e.event_type_value == "ASSET_MATERIALIZATION"
]
print("RESULT " + json.dumps(
    {
        "checks": checks,
        "materialized": materialized,
        "success": result.success,
        "kept": kept,
        "read_when_kept": read_when_kept,
        "read_when_trained": sorted(reads[len(read_when_kept):]),
    }
))
"""


SCORES = "select customer_id, round(churn_probability, 9) from scores.churn_scores order by 1"


@pytest.fixture(scope="module")
def degraded(pipeline_run, tmp_path_factory):
    folder = tmp_path_factory.mktemp("gate")
    data_dir = get_settings().data_dir
    shutil.copy(data_dir / "warehouse.duckdb", folder / "warehouse.duckdb")
    shutil.copytree(data_dir / "models", folder / "models")
    config = config_with_data_dir(folder)
    promoted_before = (folder / "models" / "churn" / "PROMOTED").read_text()
    result = subprocess.run(
        [sys.executable, "-c", DEGRADED_RUN],
        cwd=REPO_ROOT,
        env={
            "PATH": "/usr/bin:/bin",
            "SHOP_CONFIG": str(config),
            "DAGSTER_HOME": str(folder / "dagster"),
        },
        capture_output=True,
        text=True,
        timeout=600,
    )
    lines = [line for line in result.stdout.splitlines() if line.startswith("RESULT ")]
    assert lines, result.stdout[-3000:] + result.stderr[-3000:]
    return folder, promoted_before, json.loads(lines[0].removeprefix("RESULT "))


def test_a_recent_promoted_version_is_kept_without_training(degraded):
    """The daily refresh scores with the promoted version until it is due for retraining; the
    kept training step reads none of its training frames (at a million customers they held
    12 GiB for nothing), only scoring reads its inputs."""
    _, promoted_before, outcome = degraded
    [kept] = outcome["kept"]
    assert kept.startswith(f"version {promoted_before.strip()}, trained ")
    assert "next retraining due" in kept and "models.retrain_every_days: 7" in kept
    assert outcome["read_when_kept"] == sorted(ChurnRiskModel.score_inputs)
    assert outcome["read_when_trained"] == sorted(
        ChurnRiskModel.train_inputs + ChurnRiskModel.score_inputs
    )


def test_gate_refuses_a_degraded_model_and_scoring_keeps_the_last_good_one(degraded, warehouse):
    folder, promoted_before, outcome = degraded
    # The refusal is a warning: the run succeeds and scoring runs, with the model in use.
    assert outcome["success"] is True
    assert outcome["materialized"] == ["models/churn", "scores/churn_scores"]
    [check] = outcome["checks"]
    assert check["passed"] is False and check["severity"] == "WARN"
    # Boosting without signal loses to logistic RFM, which is chosen instead and is still
    # worse than the boosting model in use: refused.
    assert "worse than the current model" in check["description"]
    assert (folder / "models" / "churn" / "PROMOTED").read_text() == promoted_before
    with duckdb.connect(str(folder / "warehouse.duckdb"), read_only=True) as conn:
        run = conn.execute(
            "select promoted, gate_reason, value, current_value, metrics "
            "from scores.model_runs where model = 'churn' order by trained_at desc limit 1"
        ).fetchone()
        scored_by = conn.execute(
            "select distinct model_version from scores.churn_scores"
        ).fetchall()
        rescored = conn.execute(SCORES).fetchall()
    promoted, reason, value, current, metrics = run
    assert not promoted and "worse than the current model" in reason
    assert json.loads(metrics)["gradient boosting"]["roc_auc"] < 0.55  # the degraded model
    assert value < current - 0.02
    original = warehouse.execute(
        "select distinct model_version from scores.churn_scores"
    ).fetchall()
    assert scored_by == original == [(promoted_before.strip(),)]
    # Scored again in this run by the model in use: the same probabilities as before.
    assert rescored == warehouse.execute(SCORES).fetchall()
