"""Model training and scoring assets: thin wrappers around ml/.

Training assets save a versioned model file and report holdout metrics beside a baseline;
scoring assets load the latest model and write a table in the `scores` schema.
"""

from datetime import UTC, datetime

import dagster as dg
import pandas as pd

from ml import churn, recommend, segmentation
from ml.registry import latest_model, save_model
from orchestration.lib.plots import bar_chart, metric_comparison
from orchestration.lib.warehouse import WarehouseResource, read_table, replace_table, table_metadata
from orchestration.settings import (
    CHURN_TABLE,
    DUCKDB_POOL,
    MODEL_DIR,
    N_RECOMMENDATIONS,
    RECOMMENDATIONS_TABLE,
    REPORT_DIR,
    SCORES_SCHEMA,
    SEGMENTS_TABLE,
    SKIPPED_SCORE_COLUMNS,
)

FEATURES = dg.AssetKey(["marts", "customer_features"])
SNAPSHOTS = dg.AssetKey(["marts", "customer_feature_snapshots"])
CHURN_LABELS = dg.AssetKey(["marts", "churn_labels"])
INTERACTIONS = dg.AssetKey(["marts", "customer_product_interactions"])

SEGMENTATION_MODEL = "customer_segmentation"
CHURN_MODEL = "churn"
RECOMMENDER_MODEL = "recommender"


def _model_asset_key(name: str) -> dg.AssetKey:
    return dg.AssetKey(["models", name])


def _holdout_metadata(metric: str, value: float, baseline_name: str, baseline: float) -> dict:
    """The keys every training asset reports, so the UI and `make run` compare models alike."""
    return {
        "holdout_metric": metric,
        "holdout_value": dg.MetadataValue.float(round(value, 4)),
        "baseline": baseline_name,
        "baseline_value": dg.MetadataValue.float(round(baseline, 4)),
        "beats_baseline": bool(value > baseline),
    }


MIN_CUSTOMERS_FOR_SEGMENTS = 50


def _skipped(context: dg.AssetExecutionContext, reason: str) -> dg.MaterializeResult:
    """A model that cannot be trained on this deployment's data: say why, do not crash."""
    context.log.warning(f"Skipped: {reason}")
    return dg.MaterializeResult(metadata={"skipped": reason})


def _skipped_scores(
    context: dg.AssetExecutionContext, conn: object, table: str, reason: str
) -> dg.MaterializeResult:
    """An empty scored table with the usual columns, so customer_360 and exports still run."""
    conn.execute(
        f"create or replace table {SCORES_SCHEMA}.{table} ({SKIPPED_SCORE_COLUMNS[table]}, "
        "model_version varchar, scored_at timestamp)"
    )
    context.log.warning(f"Skipped: {reason}")
    return dg.MaterializeResult(
        metadata={**table_metadata(conn, SCORES_SCHEMA, table), "skipped": reason}
    )


def _segmentation_skip_reason(conn: object) -> str | None:
    customers = conn.execute("select count(*) from marts.customer_features").fetchone()[0]
    if customers < MIN_CUSTOMERS_FOR_SEGMENTS:
        return f"{customers} customers; segmentation needs at least {MIN_CUSTOMERS_FOR_SEGMENTS}"
    return None


def _churn_skip_reason(conn: object) -> str | None:
    cutoffs, classes = conn.execute(
        "select count(distinct as_of_date), count(distinct churned) from marts.churn_labels"
    ).fetchone()
    if cutoffs < 2 or classes < 2:
        return (
            f"{cutoffs} labelled cutoff(s) with {classes} outcome(s): churn needs two cutoffs "
            "(train and held out) with both churners and stayers; provide a history longer than "
            "two churn horizons (models.churn_horizon_days in the config)"
        )
    return None


def _recommender_skip_reason(conn: object) -> str | None:
    products, holdout_buyers = conn.execute(
        "select count(distinct product_id), count(distinct customer_id) filter "
        "(where purchases_in_holdout > 0) from marts.customer_product_interactions"
    ).fetchone()
    if products < 2:
        return (
            f"{products} product(s) in the order lines: recommendations need product ids "
            "(map sources.order_lines.columns.product_id)"
        )
    if holdout_buyers == 0:
        return "no purchases in the holdout period to evaluate recommendations on"
    return None


def _scored(frame: pd.DataFrame, version: str) -> pd.DataFrame:
    """Add the model version and scoring time; keep as_of_date a DATE in the warehouse."""
    if "as_of_date" in frame:
        frame = frame.assign(as_of_date=pd.to_datetime(frame["as_of_date"]).dt.date)
    return frame.assign(model_version=version, scored_at=datetime.now(UTC).replace(tzinfo=None))


# --- segmentation --------------------------------------------------------------------------


@dg.asset(
    key=_model_asset_key(SEGMENTATION_MODEL),
    group_name="models",
    deps=[FEATURES],
    pool=DUCKDB_POOL,
    kinds={"scikitlearn"},
    description="K-means segments of buying behaviour; k chosen by silhouette, segments named from their profile.",
)
def segmentation_model(
    context: dg.AssetExecutionContext, duckdb: WarehouseResource
) -> dg.MaterializeResult:
    with duckdb.get_connection() as conn:
        if reason := _segmentation_skip_reason(conn):
            return _skipped(context, reason)
        features = read_table(conn, "marts", "customer_features", ("customer_id",))
    in_holdout = (
        pd.util.hash_pandas_object(features["customer_id"], index=False) % 5 == 0
    ).to_numpy()
    model = segmentation.CustomerSegmenter().fit(features[~in_holdout])
    evaluation = segmentation.holdout_silhouette(model, features[in_holdout])
    context.log.info(f"k={model.k_} silhouette by k: {model.silhouette_by_k_}")
    version = save_model(
        MODEL_DIR,
        SEGMENTATION_MODEL,
        model,
        {"k": model.k_, "segment_names": model.segment_names_, **evaluation},
    )
    profiles = model.profiles_.rename(index=model.segment_names_).round(2)
    return dg.MaterializeResult(
        metadata={
            **_holdout_metadata(
                "silhouette",
                evaluation["silhouette"],
                "monetary quantiles",
                evaluation["baseline_silhouette"],
            ),
            "model_version": version.version,
            "model_path": str(version.path),
            "k": model.k_,
            "k_criterion": "highest silhouette on a sample, k in 4..8 (at least four groups to act on)",
            "silhouette_by_k": dg.MetadataValue.json(
                {str(k): round(v, 4) for k, v in model.silhouette_by_k_.items()}
            ),
            "segment_profiles": dg.MetadataValue.md(profiles.to_markdown()),
        }
    )


@dg.asset(
    key=[SCORES_SCHEMA, SEGMENTS_TABLE],
    group_name=SCORES_SCHEMA,
    deps=[_model_asset_key(SEGMENTATION_MODEL), FEATURES],
    pool=DUCKDB_POOL,
    kinds={"duckdb"},
    description="One row per customer: behavioural segment name (Prospects = never ordered).",
)
def customer_segments(
    context: dg.AssetExecutionContext, duckdb: WarehouseResource
) -> dg.MaterializeResult:
    with duckdb.get_connection() as conn:
        if reason := _segmentation_skip_reason(conn):
            return _skipped_scores(context, conn, SEGMENTS_TABLE, reason)
        version = latest_model(MODEL_DIR, SEGMENTATION_MODEL)
        model: segmentation.CustomerSegmenter = version.load()
        features = read_table(conn, "marts", "customer_features", ("customer_id",))
        scores = _scored(
            pd.DataFrame(
                {
                    "customer_id": features["customer_id"],
                    "segment": model.predict_names(features),
                    "cluster_id": model.predict(features),
                    "as_of_date": features["as_of_date"],
                }
            ),
            version.version,
        )
        replace_table(conn, SCORES_SCHEMA, SEGMENTS_TABLE, scores)
        metadata = table_metadata(conn, SCORES_SCHEMA, SEGMENTS_TABLE)
    sizes = scores["segment"].value_counts()
    return dg.MaterializeResult(
        metadata={
            **metadata,
            "model_version": version.version,
            "segment_sizes": dg.MetadataValue.json({k: int(v) for k, v in sizes.items()}),
            "segment_sizes_chart": bar_chart(
                sizes, "Customers per segment", "customers", REPORT_DIR / "segment_sizes.png"
            ),
        }
    )


# --- churn ---------------------------------------------------------------------------------


@dg.asset(
    key=_model_asset_key(CHURN_MODEL),
    group_name="models",
    deps=[SNAPSHOTS, CHURN_LABELS],
    pool=DUCKDB_POOL,
    kinds={"scikitlearn"},
    description=(
        "Gradient-boosted churn classifier trained on earlier feature snapshots; ROC AUC on the "
        "latest labelled window beside a recency-only baseline."
    ),
)
def churn_model(
    context: dg.AssetExecutionContext, duckdb: WarehouseResource
) -> dg.MaterializeResult:
    with duckdb.get_connection() as conn:
        if reason := _churn_skip_reason(conn):
            return _skipped(context, reason)
        labelled = conn.execute(
            "select s.*, l.churned from marts.customer_feature_snapshots s "
            "join marts.churn_labels l using (customer_id, as_of_date) order by customer_id, as_of_date"
        ).df()
    result = churn.train_churn_model(labelled)
    version = save_model(
        MODEL_DIR,
        CHURN_MODEL,
        {"pipeline": result.pipeline, "features": result.features},
        {
            "metrics": result.metrics,
            "baseline_metrics": result.baseline_metrics,
            "train_cutoffs": result.train_cutoffs,
            "holdout_cutoff": result.holdout_cutoff,
        },
    )
    comparison = {"gradient boosting": result.metrics, "recency baseline": result.baseline_metrics}
    return dg.MaterializeResult(
        metadata={
            **_holdout_metadata(
                "roc_auc",
                result.metrics["roc_auc"],
                "recency only",
                result.baseline_metrics["roc_auc"],
            ),
            "pr_auc": round(result.metrics["pr_auc"], 4),
            "baseline_pr_auc": round(result.baseline_metrics["pr_auc"], 4),
            "brier": round(result.metrics["brier"], 4),
            "train_cutoffs": ", ".join(result.train_cutoffs),
            "holdout_cutoff": result.holdout_cutoff,
            "train_rows": result.train_rows,
            "holdout_rows": result.holdout_rows,
            "holdout_churn_rate": round(result.churn_rate_holdout, 4),
            "model_version": version.version,
            "model_path": str(version.path),
            "metrics_chart": metric_comparison(
                {
                    name: {k: v for k, v in m.items() if k != "brier"}
                    for name, m in comparison.items()
                },
                "Churn, held-out window",
                REPORT_DIR / "churn_metrics.png",
            ),
        }
    )


@dg.asset(
    key=[SCORES_SCHEMA, CHURN_TABLE],
    group_name=SCORES_SCHEMA,
    deps=[_model_asset_key(CHURN_MODEL), FEATURES],
    pool=DUCKDB_POOL,
    kinds={"duckdb"},
    description="One row per customer with at least one order: churn probability and risk tier.",
)
def churn_scores(
    context: dg.AssetExecutionContext, duckdb: WarehouseResource
) -> dg.MaterializeResult:
    with duckdb.get_connection() as conn:
        if reason := _churn_skip_reason(conn):
            return _skipped_scores(context, conn, CHURN_TABLE, reason)
        version = latest_model(MODEL_DIR, CHURN_MODEL)
        saved = version.load()
        features = read_table(conn, "marts", "customer_features", ("customer_id",))
        scores = _scored(
            churn.score_churn(saved["pipeline"], saved["features"], features), version.version
        )
        replace_table(conn, SCORES_SCHEMA, CHURN_TABLE, scores)
        metadata = table_metadata(conn, SCORES_SCHEMA, CHURN_TABLE)
    tiers = scores["risk_tier"].value_counts()
    return dg.MaterializeResult(
        metadata={
            **metadata,
            "model_version": version.version,
            "mean_churn_probability": round(float(scores["churn_probability"].mean()), 4),
            "risk_tiers": dg.MetadataValue.json({k: int(v) for k, v in tiers.items()}),
            "risk_tier_chart": bar_chart(
                tiers, "Customers per churn risk tier", "customers", REPORT_DIR / "risk_tiers.png"
            ),
        }
    )


# --- recommendations -----------------------------------------------------------------------


@dg.asset(
    key=_model_asset_key(RECOMMENDER_MODEL),
    group_name="models",
    deps=[INTERACTIONS],
    pool=DUCKDB_POOL,
    kinds={"scikitlearn"},
    description=(
        "Item-kNN recommender on purchases, add-to-carts and views; NDCG@10 on the holdout "
        "period beside a popularity baseline."
    ),
)
def recommender_model(
    context: dg.AssetExecutionContext, duckdb: WarehouseResource
) -> dg.MaterializeResult:
    with duckdb.get_connection() as conn:
        if reason := _recommender_skip_reason(conn):
            return _skipped(context, reason)
        interactions = read_table(
            conn, "marts", "customer_product_interactions", ("customer_id", "product_id")
        )
    evaluation = recommend.evaluate_recommender(interactions, k=N_RECOMMENDATIONS)
    model = recommend.ItemKNNRecommender().fit(
        interactions[["customer_id", "product_id", *recommend.FULL_HISTORY.values()]]
    )
    version = save_model(MODEL_DIR, RECOMMENDER_MODEL, model, {"evaluation": evaluation})
    ours, baseline = evaluation[recommend.ITEM_KNN], evaluation[recommend.POPULARITY]
    k = N_RECOMMENDATIONS
    return dg.MaterializeResult(
        metadata={
            **_holdout_metadata(
                f"ndcg_at_{k}", ours[f"ndcg_at_{k}"], "popularity", baseline[f"ndcg_at_{k}"]
            ),
            f"recall_at_{k}": round(ours[f"recall_at_{k}"], 4),
            f"baseline_recall_at_{k}": round(baseline[f"recall_at_{k}"], 4),
            "customers_evaluated": ours["customers_evaluated"],
            "holdout_start_date": str(interactions["holdout_start_date"].iloc[0]),
            "products": len(model.products_),
            "customers_with_history": len(model.customers_),
            "model_version": version.version,
            "model_path": str(version.path),
            "metrics_chart": metric_comparison(
                {
                    "item-kNN": {m: ours[m] for m in (f"recall_at_{k}", f"ndcg_at_{k}")},
                    "popularity": {m: baseline[m] for m in (f"recall_at_{k}", f"ndcg_at_{k}")},
                },
                "Recommendations, holdout period",
                REPORT_DIR / "recommender_metrics.png",
            ),
        }
    )


@dg.asset(
    key=[SCORES_SCHEMA, RECOMMENDATIONS_TABLE],
    group_name=SCORES_SCHEMA,
    deps=[_model_asset_key(RECOMMENDER_MODEL), FEATURES],
    pool=DUCKDB_POOL,
    kinds={"duckdb"},
    description=f"Top {N_RECOMMENDATIONS} products per customer; popularity for customers without history.",
)
def recommendations(
    context: dg.AssetExecutionContext, duckdb: WarehouseResource
) -> dg.MaterializeResult:
    with duckdb.get_connection() as conn:
        if reason := _recommender_skip_reason(conn):
            return _skipped_scores(context, conn, RECOMMENDATIONS_TABLE, reason)
        version = latest_model(MODEL_DIR, RECOMMENDER_MODEL)
        model: recommend.ItemKNNRecommender = version.load()
        customers = conn.execute("select customer_id from marts.customer_features order by 1").df()
        recs = model.recommend(customers["customer_id"].tolist(), N_RECOMMENDATIONS)
        scores = _scored(
            recs[["customer_id", "rank", "product_id", "score", "model"]], version.version
        )
        replace_table(conn, SCORES_SCHEMA, RECOMMENDATIONS_TABLE, scores)
        metadata = table_metadata(conn, SCORES_SCHEMA, RECOMMENDATIONS_TABLE)
    by_model = scores["model"].value_counts()
    return dg.MaterializeResult(
        metadata={
            **metadata,
            "model_version": version.version,
            "rows_by_model": dg.MetadataValue.json({k: int(v) for k, v in by_model.items()}),
            "distinct_products_recommended": int(scores["product_id"].nunique()),
        }
    )


model_assets = [
    segmentation_model,
    customer_segments,
    churn_model,
    churn_scores,
    recommender_model,
    recommendations,
]
