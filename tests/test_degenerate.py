"""Every model's train, gate and score on degenerate frames cut from the test shop's own inputs:
a handful of customers, one outcome only, all-equal features, nothing at all. Each must either
train (then its gate decides and it scores) or say it cannot (`CannotTrain`, with a reason); any
other exception is a crash that would fail a real shop's run."""

import numpy as np
import pandas as pd
import pytest

from ml.base import CannotTrain, TrainResult
from ml.churn import ChurnRiskModel
from ml.clv import CustomerValue
from ml.recommend import RecommenderModel
from ml.segmentation import SegmentationModel

MODELS = {
    "segmentation": SegmentationModel(),
    "churn": ChurnRiskModel(),
    "value": CustomerValue(horizon_days=90),
    "recommender": RecommenderModel(),
}


def _numeric(frame: pd.DataFrame) -> list[str]:
    keep = {"customer_id", "as_of_date", "snapshot_index", "horizon_days", "holdout_start_date"}
    return [
        c
        for c in frame.columns
        if c not in keep and pd.api.types.is_numeric_dtype(frame[c]) and frame[c].dtype != bool
    ]


def _few(frame: pd.DataFrame) -> pd.DataFrame:
    customers = frame["customer_id"].drop_duplicates().head(6)
    return frame[frame["customer_id"].isin(customers)]


def _one_outcome(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.assign(churned=True) if "churned" in frame.columns else frame


def _all_equal(frame: pd.DataFrame) -> pd.DataFrame:
    columns = _numeric(frame)
    return frame.assign(**{c: frame[c].median() for c in columns if frame[c].notna().any()})


def _empty(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.iloc[:0]


DEGENERATE = {"few": _few, "one_outcome": _one_outcome, "all_equal": _all_equal, "empty": _empty}


@pytest.fixture(scope="module")
def inputs(warehouse):
    names = {
        name for model in MODELS.values() for name in (*model.train_inputs, *model.score_inputs)
    }
    frames = {}
    for name in names:
        (schema,) = warehouse.execute(
            "select table_schema from information_schema.tables where table_name = ?", [name]
        ).fetchone()
        frames[name] = warehouse.execute(f"select * from {schema}.{name}").df()
    return frames


@pytest.mark.parametrize("model_name", list(MODELS))
@pytest.mark.parametrize("cut", list(DEGENERATE))
def test_degenerate_frames_train_or_say_why(inputs, model_name, cut):
    model = MODELS[model_name]
    frames = {name: DEGENERATE[cut](inputs[name]) for name in model.train_inputs}
    try:
        result = model.train(frames, None)
    except CannotTrain as error:
        assert len(str(error)) > 20  # a reason a person can act on
        return
    assert isinstance(result, TrainResult)
    decision = result.gate()
    assert decision.reason
    assert np.isfinite(
        result.value
    )  # the gate's metric (others, like a relative error, may be NaN)
    scored = model.score(result.model, {n: inputs[n] for n in model.score_inputs}).scores
    assert len(scored) > 0
