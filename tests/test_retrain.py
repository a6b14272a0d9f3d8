"""Retraining on its own cadence: when a refresh trains a model, and when it keeps the promoted
version (models.retrain_every_days; the run tag that forces it). The kept path through Dagster is
in tests/test_gate.py."""

from datetime import datetime, timedelta

from ml.registry import VERSION_FORMAT, ModelVersion, version_time
from orchestration.lib.model_assets import retrain_reason
from orchestration.settings import RETRAIN_TAG

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
