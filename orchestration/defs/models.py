"""The platform's models, one entry each: a training asset with its blocking `promotion_gate`
check, and a scoring asset writing the model's scored table (orchestration/lib/model_assets.py).

What a model does lives in ml/: each is a CustomerModel (ml/base.py) declared in ml/models.py,
which loads no model library, and trains and scores in its own module (ml/churn.py, ...),
imported only by the steps that train or score it. What it reads are dbt models (`ml_inputs/*`,
`marts/customer_features`); its scored table's columns are declared in dbt (`scores` source).
Adding a model: its module in ml/, its class in ml/models.py and one entry below.

Training is a scheduled concern, scoring a daily one: `refresh_selection` leaves out of a refresh
the models not due for retraining (models.retrain_every_days) and the tables only their training
reads (the feature snapshots, labels, training sets, interactions and readiness counts).
"""

from collections.abc import Collection, Mapping
from datetime import UTC, datetime
from typing import Any

import dagster as dg
from dagster._core.definitions.assets.graph.asset_graph import AssetGraph
from dagster._core.definitions.assets.graph.base_asset_graph import BaseAssetGraph
from dagster_dbt import get_asset_key_for_model

from landing import Config
from ml.models import ChurnRiskModel, CustomerValue, RecommenderModel, SegmentationModel
from ml.registry import UntrustedModelError, promoted_model
from orchestration.defs.transform import dbt_models
from orchestration.lib.dbt import dbt_project
from orchestration.lib.model_assets import (
    TRAINING_GROUP,
    ModelEntry,
    build_model_assets,
    model_asset_key,
    retrain_reason,
)
from orchestration.lib.scores import scored_table_contract
from orchestration.settings import RETRAIN_JOB, RETRAIN_TAG, Settings


def model_entries(config: Config) -> tuple[ModelEntry, ...]:
    """The platform's models, in the order they appear in the summary."""
    return (
        ModelEntry(
            SegmentationModel(first_day=config.first_day.isoformat()),
            scores_table="customer_segments",
            kinds=frozenset({"scikitlearn"}),
            train_description=(
                "K-means segments of buying behaviour; k chosen by silhouette, named from their "
                "profile, names inherited from the model in use. Silhouette on held-out customers "
                "beside monetary-value quantiles."
            ),
            score_description=(
                "One row per customer: behavioural segment (Prospects = never ordered), and RFM "
                "quintile scores with the RFM grid segment."
            ),
        ),
        ModelEntry(
            ChurnRiskModel(
                high_share=config.models.risk_high_share,
                medium_share=config.models.risk_medium_share,
            ),
            scores_table="churn_scores",
            kinds=frozenset({"scikitlearn"}),
            train_description=(
                "Calibrated gradient-boosted churn classifier, backtested over rolling cutoffs beside "
                "recency alone and a logistic RFM model; the latest fold is the gate's holdout."
            ),
            score_description=(
                "One row per customer with at least one order: calibrated churn probability, risk "
                "tier (high: the top risk_high_share of buyers by probability, medium: the next "
                "risk_medium_share) and, for the high and medium tiers, the top three reasons "
                "behind the score."
            ),
        ),
        ModelEntry(
            CustomerValue(
                horizon_days=config.models.clv_horizon_days, first_day=config.first_day.isoformat()
            ),
            scores_table="customer_value",
            kinds=frozenset({"scipy"}),
            train_description=(
                "BG/NBD purchase counts with Gamma-Gamma spend, fitted as of the latest labelled "
                "cutoff and compared with the orders and revenue customers really placed in the next "
                "horizon, beside each customer repeating their historical rate."
            ),
            score_description=(
                "One row per customer with at least one order: P(alive), expected orders and revenue "
                "over models.clv_horizon_days, and the expected next-order date if still active."
            ),
        ),
        ModelEntry(
            RecommenderModel(
                k=config.models.n_recommendations,
                already_bought=config.models.recommend_already_bought,
                first_day=config.first_day.isoformat(),
            ),
            scores_table="recommendations",
            kinds=frozenset({"scikitlearn"}),
            train_description=(
                "Recommender chosen by NDCG on the holdout period among popularity, repeat "
                "purchases, item-kNN, EASE and ALS; popularity is the baseline it must beat."
            ),
            score_description=(
                f"Top {config.models.n_recommendations} products per customer from the chosen "
                "recommender; the column `model` says which produced each row (popularity for "
                "customers without history)."
            ),
        ),
    )


def _dbt_key(model_name: str) -> dg.AssetKey:
    return get_asset_key_for_model([dbt_models], model_name)


def build_retrain_job(assets: list[dg.AssetsDefinition]) -> Any:
    """Every model retrained now, on its inputs rebuilt from the current features, then everything
    downstream rescored (the UI's way to ask for what `make run RETRAIN=1` does); the daily
    refresh retrains on models.retrain_every_days."""
    # One graph for the walk: resolving against the list of assets builds a graph per call
    # (66 ms at every load of the definitions, against 3 ms).
    inputs = dg.AssetSelection.assets(*training_only(AssetGraph.from_assets(assets)))
    return dg.define_asset_job(
        name=RETRAIN_JOB,
        selection=(dg.AssetSelection.groups(TRAINING_GROUP) | inputs).downstream(),
        tags={RETRAIN_TAG: "true"},
        description=(
            "Rebuild the models' training inputs from the current features and retrain every "
            "model, even if its promoted version is recent, then rescore and rebuild the "
            "activation tables, exports and report."
        ),
    )


def build_models(config: Config) -> list[dg.AssetsDefinition]:
    """Every model's training asset (with its gate) and scoring asset."""
    contract = scored_table_contract(dbt_project.manifest_path)
    readiness = _dbt_key("model_readiness")
    return [
        asset
        for entry in model_entries(config)
        for asset in build_model_assets(entry, _dbt_key, readiness, contract)
    ]


def models_due(settings: Settings, tags: Mapping[str, str]) -> list[str]:
    """The models a run with these tags trains: the training asset's own decision
    (retrain_reason), taken before the run. A model whose promoted version cannot be trusted is
    due: its training step then fails naming what is wrong, as it did before this choice."""
    now = datetime.now(UTC).replace(tzinfo=None)
    every_days = settings.config.models.retrain_every_days
    due = []
    for entry in model_entries(settings.config):
        try:
            current = promoted_model(settings.model_dir, entry.model.name)
        except UntrustedModelError:
            due.append(entry.model.name)
            continue
        if retrain_reason(current, every_days, tags, now):
            due.append(entry.model.name)
    return due


def training_only(graph: BaseAssetGraph) -> set[dg.AssetKey]:
    """The assets read only to train: upstream of a training asset, and of nothing else but
    training assets and other such assets."""
    training = dg.AssetSelection.groups(TRAINING_GROUP).resolve(graph)
    cone = dg.AssetSelection.assets(*training).upstream().resolve(graph) - training
    only: set[dg.AssetKey] = set()
    while grown := {
        key
        for key in cone - only
        if (readers := graph.get(key).child_keys) and readers <= training | only
    }:
        only |= grown
    return only


def refresh_selection(graph: BaseAssetGraph, due: Collection[str]) -> list[dg.AssetKey] | None:
    """The assets a refresh builds when the models `due` (models_due) train: all but the training
    assets of the others and the tables only those read; None when every model is due (the whole
    job). The UI's "Materialize all" builds everything: a model not due then keeps its version
    without reading its inputs."""
    due_keys = {model_asset_key(name) for name in due}
    training = dg.AssetSelection.groups(TRAINING_GROUP).resolve(graph)
    if due_keys == training:
        return None
    needed = dg.AssetSelection.assets(*due_keys).upstream().resolve(graph) if due_keys else set()
    left_out = (training - due_keys) | (training_only(graph) - needed)
    return sorted(dg.AssetSelection.all().resolve(graph) - left_out)
