"""Retraining on its own cadence: when a refresh trains a model, and when it keeps the promoted
version (models.retrain_every_days; the run tag that forces it), and what a refresh then builds.
The kept path through Dagster is in tests/test_gate.py; refreshes that train nothing, run
together, in tests/test_concurrency.py."""

from datetime import UTC, datetime, timedelta

import dagster as dg
import pytest
from conftest import config_with_data_dir

from landing import load_config
from ml.registry import (
    PROMOTED,
    VERSION_FORMAT,
    ModelVersion,
    promote,
    save_model,
    version_time,
)
from orchestration.defs.models import model_entries, models_due, refresh_selection
from orchestration.defs.partitions import month_partitions
from orchestration.defs.schedules import build_refresh
from orchestration.lib.model_assets import retrain_reason
from orchestration.settings import RETRAIN_JOB, RETRAIN_TAG, Settings, get_settings

NOW = datetime(2026, 12, 1, 5, 0)


def _version(trained: datetime, digest: str | None = "0" * 64) -> ModelVersion:
    version = trained.strftime(VERSION_FORMAT)
    metadata = {"model_sha256": digest} if digest else {}
    return ModelVersion("churn", version, None, metadata)  # type: ignore[arg-type]


def test_the_version_id_is_its_training_time():
    assert version_time(_version(NOW).version) == NOW


def test_a_recent_version_is_kept():
    assert retrain_reason(_version(NOW - timedelta(days=6, hours=23)), 7, {}, NOW) is None


def test_a_version_as_old_as_the_cadence_is_retrained():
    reason = retrain_reason(_version(NOW - timedelta(days=7)), 7, {}, NOW)
    assert reason and "is 7 days old (models.retrain_every_days: 7)" in reason


def test_cadence_zero_retrains_every_refresh():
    assert retrain_reason(_version(NOW - timedelta(minutes=1)), 0, {}, NOW)


def test_the_run_tag_forces_retraining():
    reason = retrain_reason(_version(NOW), 7, {RETRAIN_TAG: "true"}, NOW)
    assert reason and RETRAIN_TAG in reason


def test_no_version_or_an_unverifiable_one_is_trained():
    assert retrain_reason(None, 7, {}, NOW) == "no version promoted yet"
    reason = retrain_reason(_version(NOW, digest=None), 7, {}, NOW)
    assert reason and "no SHA-256" in reason


# The tables only training reads: a refresh that trains no model builds none of them.
TRAINING_ONLY = {
    "marts/customer_feature_snapshots",
    "marts/churn_labels",
    "marts/customer_product_interactions",
    "ml_inputs/churn_training_set",
    "ml_inputs/value_holdout_set",
    "ml_inputs/segmentation_set",
    "ml_inputs/model_readiness",
}
MODELS = [entry.model.name for entry in model_entries(get_settings().config)]
TRAINING = {f"models/{name}" for name in MODELS}


@pytest.fixture(scope="module")
def graph():
    from orchestration.definitions import defs

    return defs().resolve_asset_graph()


def _left_out(graph, due: list[str]) -> set[str]:
    selection = refresh_selection(graph, due)
    assert selection is not None
    return {key.to_user_string() for key in set(graph.get_all_asset_keys()) - set(selection)}


def test_a_refresh_with_no_model_due_builds_no_training_input(graph):
    """Scoring reads the current features and the promoted versions only; the feature snapshots,
    labels, training sets, interactions and readiness counts are read by training alone."""
    assert _left_out(graph, []) == TRAINING_ONLY | TRAINING


def test_a_model_due_brings_what_its_training_reads(graph):
    # churn reads the readiness counts, which read the labels, the value holdout and the
    # interactions: all of them are rebuilt before it trains; the segmentation set is not.
    assert _left_out(graph, ["churn"]) == {"ml_inputs/segmentation_set"} | TRAINING - {
        "models/churn"
    }
    left_out = _left_out(graph, ["customer_segmentation"])
    assert "ml_inputs/segmentation_set" not in left_out
    assert "ml_inputs/churn_training_set" not in left_out  # read by the readiness counts
    assert refresh_selection(graph, MODELS) is None  # every model due: the whole job


def test_a_promoted_version_that_cannot_be_trusted_is_due(tmp_path):
    """Its training step then runs and fails naming the pointer (test_model_registry), instead of
    the refresh stopping before it starts."""
    config = config_with_data_dir(tmp_path)
    settings = Settings(config, load_config(config))
    for name in MODELS:
        promote(save_model(settings.model_dir, name, {"model": name}, {}))
    assert models_due(settings, {}) == []
    (settings.model_dir / "churn" / PROMOTED).write_text("../../elsewhere")
    assert models_due(settings, {}) == ["churn"]


def test_the_retrain_job_rebuilds_the_training_inputs_first():
    from orchestration.definitions import defs

    job = defs().resolve_job_def(RETRAIN_JOB)
    keys = {key.to_user_string() for key in job.asset_layer.selected_asset_keys}
    assert keys >= TRAINING_ONLY | TRAINING
    assert "marts/customer_features" not in keys  # the features as they are


def test_the_schedule_trains_only_when_a_model_is_due(tmp_path, graph):
    """The schedule's run request: the whole job on a deployment without models; once every
    model has a recent promoted version, a selection without training (what the daemon runs)."""
    from orchestration.definitions import defs

    config = config_with_data_dir(tmp_path)
    settings = Settings(config, load_config(config))
    partitions = month_partitions(settings.config)
    _, schedule, _ = build_refresh(settings, partitions)
    context = dg.build_schedule_context(
        scheduled_execution_time=datetime(2026, 11, 1, 5, tzinfo=UTC),
        repository_def=defs().get_repository_def(),
    )
    assert schedule.evaluate_tick(context).run_requests[0].asset_selection is None
    for name in MODELS:
        promote(save_model(settings.model_dir, name, {"model": name}, {}))
    request = schedule.evaluate_tick(context).run_requests[0]
    assert request.asset_selection is not None
    assert {key.to_user_string() for key in request.asset_selection} == {
        key.to_user_string() for key in refresh_selection(graph, [])
    }
