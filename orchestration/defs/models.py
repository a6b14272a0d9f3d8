"""Model training and scoring assets: thin wrappers around ml/.

Every training asset measures its model on held-out data beside baselines and beside the model
currently in use (on the same holdout), saves a new version, records the run in
`scores.model_runs`, and promotes the version only if the gate in ml/registry.py lets it. A
blocking `promotion_gate` check on each training asset fails when the version was not promoted,
so the scoring asset downstream does not run and the scored table keeps the last good model's
output. Scoring assets always use the promoted version.
"""

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import numpy as np
import pandas as pd

from ml import churn, clv, recommend, segmentation
from ml.registry import (
    ModelVersion,
    gate_decision,
    promote,
    promoted_model,
    require_promoted_model,
    save_model,
)
from orchestration.lib.model_runs import latest_model_run, record_model_run
from orchestration.lib.plots import (
    bar_chart,
    calibration_plot,
    lift_curve,
    metric_comparison,
    predicted_vs_actual,
)
from orchestration.lib.warehouse import WarehouseResource, read_table, replace_table, table_metadata
from orchestration.settings import (
    CHURN_TABLE,
    CLV_HORIZON_DAYS,
    CONFIG,
    DUCKDB_POOL,
    MODEL_DIR,
    N_RECOMMENDATIONS,
    RECOMMEND_ALREADY_BOUGHT,
    RECOMMENDATIONS_TABLE,
    REPORT_DIR,
    SCORES_SCHEMA,
    SEGMENTS_TABLE,
    SKIPPED_SCORE_COLUMNS,
    VALUE_TABLE,
)

FEATURES = dg.AssetKey(["marts", "customer_features"])
SNAPSHOTS = dg.AssetKey(["marts", "customer_feature_snapshots"])
CHURN_LABELS = dg.AssetKey(["marts", "churn_labels"])
INTERACTIONS = dg.AssetKey(["marts", "customer_product_interactions"])

SEGMENTATION_MODEL = "customer_segmentation"
CHURN_MODEL = "churn"
VALUE_MODEL = "customer_value"
RECOMMENDER_MODEL = "recommender"
MODELS = (SEGMENTATION_MODEL, CHURN_MODEL, VALUE_MODEL, RECOMMENDER_MODEL)

MIN_CUSTOMERS_FOR_SEGMENTS = 50
MIN_REPEAT_BUYERS_FOR_VALUE = 20


def model_asset_key(name: str) -> dg.AssetKey:
    return dg.AssetKey(["models", name])


def _report(name: str) -> Path:
    """Where a model report image goes: one folder per model, the latest run's images."""
    return REPORT_DIR / name


# --- skips: a model the deployment's data cannot support -------------------------------------


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
    customers = conn.execute(
        "select count(*) from marts.customer_features where frequency > 0"
    ).fetchone()[0]
    if customers < MIN_CUSTOMERS_FOR_SEGMENTS:
        return f"{customers} buyers; segmentation needs at least {MIN_CUSTOMERS_FOR_SEGMENTS}"
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


def _value_skip_reason(conn: object) -> str | None:
    cutoffs, repeaters = conn.execute(
        "select count(distinct as_of_date), count(*) filter (where frequency > 1 and "
        "as_of_date = (select max(as_of_date) from marts.churn_labels)) "
        "from marts.churn_labels join marts.customer_feature_snapshots using (customer_id, as_of_date)"
    ).fetchone()
    if cutoffs < 1 or repeaters < MIN_REPEAT_BUYERS_FOR_VALUE:
        return (
            f"{repeaters} repeat buyer(s) at the latest labelled cutoff: lifetime value needs at "
            f"least {MIN_REPEAT_BUYERS_FOR_VALUE} and a history longer than one churn horizon"
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


# --- training runs, the registry and the gate -----------------------------------------------


@dataclass
class Trained:
    """What a training asset hands to `_finish_training`."""

    model: object  # saved as the new version
    metric: str  # the gate's metric on the holdout
    higher_is_better: bool
    metrics: dict[str, dict[str, float]]  # model name -> metrics on the holdout; [0] is ours
    baselines: list[str]  # names in `metrics` the model must beat
    current_metrics: dict[str, float] | None  # the promoted version on the same holdout
    train_window: tuple[str, str]
    holdout_window: tuple[str, str]
    metadata: dict[str, object] = field(default_factory=dict)  # extra asset metadata
    version_metadata: dict[str, object] = field(default_factory=dict)


def _finish_training(
    context: dg.AssetExecutionContext,
    duckdb: WarehouseResource,
    name: str,
    trained: Trained,
    current: ModelVersion | None,
    started: float,
) -> dg.MaterializeResult:
    ours = next(iter(trained.metrics))
    value = trained.metrics[ours][trained.metric]
    baseline_values = {b: trained.metrics[b][trained.metric] for b in trained.baselines}
    current_value = trained.current_metrics[trained.metric] if trained.current_metrics else None
    decision = gate_decision(
        trained.metric, value, baseline_values, current_value, trained.higher_is_better
    )
    best = (max if trained.higher_is_better else min)(baseline_values, key=baseline_values.get)
    version = save_model(
        MODEL_DIR,
        name,
        trained.model,
        {
            "metric": trained.metric,
            "metrics": trained.metrics,
            "train_window": trained.train_window,
            "holdout_window": trained.holdout_window,
            "promoted": decision.promoted,
            "gate_reason": decision.reason,
            **trained.version_metadata,
        },
    )
    if decision.promoted:
        promote(version)
        context.log.info(f"Promoted {name} {version.version}: {decision.reason}")
    else:
        context.log.warning(f"Not promoted {name} {version.version}: {decision.reason}")
    seconds = time.perf_counter() - started
    all_metrics = dict(trained.metrics)
    if trained.current_metrics:
        all_metrics["current model"] = trained.current_metrics
    with duckdb.get_connection() as conn:
        record_model_run(
            conn,
            {
                "dagster_run_id": context.run_id,
                "model": name,
                "version": version.version,
                "trained_at": datetime.now(UTC).replace(tzinfo=None),
                "train_start": trained.train_window[0],
                "train_end": trained.train_window[1],
                "holdout_start": trained.holdout_window[0],
                "holdout_end": trained.holdout_window[1],
                "metric": trained.metric,
                "higher_is_better": trained.higher_is_better,
                "value": value,
                "best_baseline": best,
                "best_baseline_value": baseline_values[best],
                "current_version": current.version if current else None,
                "current_value": current_value,
                "promoted": decision.promoted,
                "gate_reason": decision.reason,
                "train_seconds": seconds,
                "metrics": all_metrics,
            },
        )
    table = pd.DataFrame(all_metrics).T.round(4)
    return dg.MaterializeResult(
        metadata={
            "holdout_metric": trained.metric,
            "holdout_value": dg.MetadataValue.float(round(value, 4)),
            "baseline": best,
            "baseline_value": dg.MetadataValue.float(round(baseline_values[best], 4)),
            "beats_baselines": all(
                (value > b) if trained.higher_is_better else (value < b)
                for b in baseline_values.values()
            ),
            "current_value": dg.MetadataValue.float(round(current_value, 4))
            if current_value is not None
            else "no model in use yet",
            "promoted": decision.promoted,
            "gate_reason": decision.reason,
            "holdout_metrics": dg.MetadataValue.md(table.to_markdown()),
            "train_window": " to ".join(trained.train_window),
            "holdout_window": " to ".join(trained.holdout_window),
            "train_seconds": round(seconds, 1),
            "model_version": version.version,
            "model_path": str(version.path),
            **trained.metadata,
        }
    )


def _promotion_gate(name: str) -> dg.AssetChecksDefinition:
    @dg.asset_check(
        asset=model_asset_key(name),
        name="promotion_gate",
        blocking=True,
        pool=DUCKDB_POOL,
        description=(
            "Passes when this run's version beat every baseline and was not worse than the model "
            "in use, on the same holdout, and was promoted; a failure keeps the last good model "
            "and stops its scoring in this run."
        ),
    )
    def promotion_gate(
        context: dg.AssetCheckExecutionContext, duckdb: WarehouseResource
    ) -> dg.AssetCheckResult:
        with duckdb.get_connection() as conn:
            # Only this run's training counts: an older refusal must not block a later run in
            # which the model was skipped for lack of data.
            row = latest_model_run(conn, name, context.run.run_id)
        if row is None:
            return dg.AssetCheckResult(
                passed=True,
                metadata={"gate_reason": "no training in this run (skipped, or not selected)"},
            )
        current = row["current_version"]
        return dg.AssetCheckResult(
            passed=bool(row["promoted"]),
            severity=dg.AssetCheckSeverity.ERROR,
            description=row["gate_reason"],
            metadata={
                "version": row["version"],
                "metric": row["metric"],
                "value": float(row["value"]),
                "best_baseline": f"{row['best_baseline']} ({row['best_baseline_value']:.4f})",
                "current_version": current if isinstance(current, str) else "none",
                "gate_reason": row["gate_reason"],
            },
        )

    return promotion_gate


def _scored(frame: pd.DataFrame, version: str) -> pd.DataFrame:
    """Add the model version and scoring time; keep as_of_date a DATE in the warehouse."""
    if "as_of_date" in frame:
        frame = frame.assign(as_of_date=pd.to_datetime(frame["as_of_date"]).dt.date)
    return frame.assign(model_version=version, scored_at=datetime.now(UTC).replace(tzinfo=None))


def _score_with_promoted(
    context: dg.AssetExecutionContext,
    duckdb: WarehouseResource,
    name: str,
    table: str,
    skip_reason: Callable[[object], str | None],
    score: Callable[[object, object], pd.DataFrame],
) -> tuple[dg.MaterializeResult, pd.DataFrame | None]:
    """Score with the promoted version of `name` and replace scores.`table`."""
    with duckdb.get_connection() as conn:
        if reason := skip_reason(conn):
            return _skipped_scores(context, conn, table, reason), None
        version = require_promoted_model(MODEL_DIR, name)
        scores = _scored(score(conn, version.load()), version.version)
        replace_table(conn, SCORES_SCHEMA, table, scores)
        metadata = table_metadata(conn, SCORES_SCHEMA, table)
    return dg.MaterializeResult(metadata={**metadata, "model_version": version.version}), scores


def _day(value: object) -> str:
    """A date as YYYY-MM-DD, from a date, a timestamp or a string."""
    return pd.Timestamp(value).date().isoformat()


def _features(conn: object) -> pd.DataFrame:
    return read_table(conn, "marts", "customer_features", ("customer_id",))


# --- segmentation --------------------------------------------------------------------------


@dg.asset(
    key=model_asset_key(SEGMENTATION_MODEL),
    group_name="models",
    deps=[FEATURES],
    pool=DUCKDB_POOL,
    kinds={"scikitlearn"},
    description=(
        "K-means segments of buying behaviour; k chosen by silhouette, named from their profile, "
        "names inherited from the model in use. Silhouette on held-out customers beside "
        "monetary-value quantiles."
    ),
)
def segmentation_model(
    context: dg.AssetExecutionContext, duckdb: WarehouseResource
) -> dg.MaterializeResult:
    started = time.perf_counter()
    with duckdb.get_connection() as conn:
        if reason := _segmentation_skip_reason(conn):
            return _skipped(context, reason)
        features = _features(conn)
    in_holdout = (
        pd.util.hash_pandas_object(features["customer_id"], index=False) % 5 == 0
    ).to_numpy()
    model = segmentation.CustomerSegmenter().fit(features[~in_holdout])
    current = promoted_model(MODEL_DIR, SEGMENTATION_MODEL)
    metadata: dict[str, object] = {}
    current_metrics = None
    if current is not None:
        previous: segmentation.CustomerSegmenter = current.load()
        inherited = model.inherit_names(previous)
        same = np.mean(model.predict_names(features) == previous.predict_names(features))
        metadata["names_inherited"] = ", ".join(sorted(inherited.values())) or "none"
        metadata["customers_keeping_their_segment"] = round(float(same), 4)
        current_metrics = segmentation.holdout_silhouette(previous, features[in_holdout])
    evaluation = segmentation.holdout_silhouette(model, features[in_holdout])
    context.log.info(f"k={model.k_} silhouette by k: {model.silhouette_by_k_}")
    profiles = model.profiles_.rename(index=model.segment_names_).round(2)
    sizes = pd.Series(model.predict_names(features)).value_counts()
    as_of = _day(features["as_of_date"].max())
    trained = Trained(
        model=model,
        metric="silhouette",
        higher_is_better=True,
        metrics={
            "k-means": {"silhouette": evaluation["silhouette"]},
            "monetary quantiles": {"silhouette": evaluation["baseline_silhouette"]},
        },
        baselines=["monetary quantiles"],
        current_metrics={"silhouette": current_metrics["silhouette"]} if current_metrics else None,
        train_window=(str(CONFIG.first_day), as_of),  # history up to the latest day
        holdout_window=(as_of, as_of),  # the same day, customers the model did not see
        version_metadata={"k": model.k_, "segment_names": model.segment_names_},
        metadata={
            **metadata,
            "holdout": "every fifth customer (by id hash), not used to fit",
            "k": model.k_,
            "k_criterion": "highest silhouette on a sample, k in 4..8 (at least four groups to act on)",
            "silhouette_by_k": dg.MetadataValue.json(
                {str(k): round(v, 4) for k, v in model.silhouette_by_k_.items()}
            ),
            "segment_profiles": dg.MetadataValue.md(profiles.to_markdown()),
            "segment_sizes_chart": bar_chart(
                sizes,
                "Customers per behavioural segment",
                "customers",
                _report(SEGMENTATION_MODEL) / "segment_sizes.png",
            ),
        },
    )
    return _finish_training(context, duckdb, SEGMENTATION_MODEL, trained, current, started)


def _score_segments(conn: object, model: segmentation.CustomerSegmenter) -> pd.DataFrame:
    features = _features(conn)
    rfm = segmentation.rfm_segments(features)
    return pd.DataFrame(
        {
            "customer_id": features["customer_id"],
            "segment": model.predict_names(features),
            "cluster_id": model.predict(features),
            **{column: rfm[column] for column in rfm},
            "as_of_date": features["as_of_date"],
        }
    )


@dg.asset(
    key=[SCORES_SCHEMA, SEGMENTS_TABLE],
    group_name=SCORES_SCHEMA,
    deps=[model_asset_key(SEGMENTATION_MODEL), FEATURES],
    pool=DUCKDB_POOL,
    kinds={"duckdb"},
    description=(
        "One row per customer: behavioural segment (Prospects = never ordered), and RFM quintile "
        "scores with the RFM grid segment."
    ),
)
def customer_segments(
    context: dg.AssetExecutionContext, duckdb: WarehouseResource
) -> dg.MaterializeResult:
    result, scores = _score_with_promoted(
        context,
        duckdb,
        SEGMENTATION_MODEL,
        SEGMENTS_TABLE,
        _segmentation_skip_reason,
        _score_segments,
    )
    if scores is None:
        return result
    folder = _report(SEGMENTATION_MODEL)
    charts = {}
    for column, title in (("segment", "behavioural segment"), ("rfm_segment", "RFM segment")):
        sizes = scores[column].value_counts()
        charts[f"{column}_sizes"] = dg.MetadataValue.json({k: int(v) for k, v in sizes.items()})
        charts[f"{column}_chart"] = bar_chart(
            sizes, f"Customers per {title}", "customers", folder / f"{column}_sizes.png"
        )
    return dg.MaterializeResult(metadata={**result.metadata, **charts})


# --- churn ---------------------------------------------------------------------------------


@dg.asset(
    key=model_asset_key(CHURN_MODEL),
    group_name="models",
    deps=[SNAPSHOTS, CHURN_LABELS],
    pool=DUCKDB_POOL,
    kinds={"scikitlearn"},
    description=(
        "Calibrated gradient-boosted churn classifier, backtested over rolling cutoffs beside "
        "recency alone and a logistic RFM model; the latest fold is the gate's holdout."
    ),
)
def churn_model(
    context: dg.AssetExecutionContext, duckdb: WarehouseResource
) -> dg.MaterializeResult:
    started = time.perf_counter()
    with duckdb.get_connection() as conn:
        if reason := _churn_skip_reason(conn):
            return _skipped(context, reason)
        labelled = conn.execute(
            "select s.*, l.churned from marts.customer_feature_snapshots s "
            "join marts.churn_labels l using (customer_id, as_of_date) order by customer_id, as_of_date"
        ).df()
    result = churn.train_churn_model(labelled)
    current = promoted_model(MODEL_DIR, CHURN_MODEL)
    current_metrics = None
    holdout = result.holdout
    if current is not None:
        evaluation_model = current.load()["evaluation_model"]
        holdout_rows = labelled[labelled["as_of_date"] == labelled["as_of_date"].max()]
        if set(evaluation_model.features) <= set(holdout_rows.columns):
            probability = evaluation_model.predict_proba(holdout_rows)
            current_metrics = churn.classification_metrics(
                holdout_rows["churned"].astype(int).to_numpy(), probability
            )
        else:
            context.log.warning("The model in use needs features that no longer exist")
    y = holdout["churned"]
    folder = _report(CHURN_MODEL)
    models = [churn.MODEL, *churn.BASELINES]
    backtest = result.backtest.set_index(["cutoff", "model"]).round(4)
    holdout_end = _day(
        pd.Timestamp(result.holdout_cutoff) + pd.Timedelta(days=CONFIG.models.churn_horizon_days)
    )
    trained = Trained(
        model={"model": result.model, "evaluation_model": result.evaluation_model},
        metric="roc_auc",
        higher_is_better=True,
        metrics=result.metrics,  # the chosen model first
        baselines=[name for name in churn.BASELINES if name != result.chosen],
        current_metrics=current_metrics,
        train_window=(result.train_cutoffs[0], result.train_cutoffs[-1]),
        holdout_window=(result.holdout_cutoff, holdout_end),
        version_metadata={"features": result.model.features, "explained": result.model.explained},
        metadata={
            "chosen_model": result.chosen,
            "selection": "highest ROC AUC on the holdout fold (gradient boosting on a tie)",
            "backtest": dg.MetadataValue.md(backtest.to_markdown()),
            "backtest_folds": int(result.backtest["cutoff"].nunique()),
            "train_rows": result.train_rows,
            "holdout_rows": result.holdout_rows,
            "holdout_churn_rate": round(result.churn_rate_holdout, 4),
            "feature_importance": dg.MetadataValue.json(dict(list(result.importance.items())[:15])),
            "lift_chart": lift_curve(
                y, {m: holdout[m] for m in models}, "Churn lift, holdout", folder / "lift.png"
            ),
            "calibration_chart": calibration_plot(
                y,
                {m: holdout[m] for m in models},
                "Churn calibration, holdout",
                folder / "calibration.png",
            ),
            "metrics_chart": metric_comparison(
                {
                    m: {k: v for k, v in values.items() if k != "lift_top_decile"}
                    for m, values in result.metrics.items()
                },
                "Churn, holdout fold",
                folder / "metrics.png",
            ),
        },
    )
    return _finish_training(context, duckdb, CHURN_MODEL, trained, current, started)


@dg.asset(
    key=[SCORES_SCHEMA, CHURN_TABLE],
    group_name=SCORES_SCHEMA,
    deps=[model_asset_key(CHURN_MODEL), FEATURES],
    pool=DUCKDB_POOL,
    kinds={"duckdb"},
    description=(
        "One row per customer with at least one order: calibrated churn probability, risk tier "
        "and the top three reasons behind the score."
    ),
)
def churn_scores(
    context: dg.AssetExecutionContext, duckdb: WarehouseResource
) -> dg.MaterializeResult:
    result, scores = _score_with_promoted(
        context,
        duckdb,
        CHURN_MODEL,
        CHURN_TABLE,
        _churn_skip_reason,
        lambda conn, saved: churn.score_churn(saved["model"], _features(conn)),
    )
    if scores is None:
        return result
    tiers = scores["risk_tier"].value_counts()
    return dg.MaterializeResult(
        metadata={
            **result.metadata,
            "mean_churn_probability": round(float(scores["churn_probability"].mean()), 4),
            "risk_tiers": dg.MetadataValue.json({k: int(v) for k, v in tiers.items()}),
            "risk_tier_chart": bar_chart(
                tiers,
                "Customers per churn risk tier",
                "customers",
                _report(CHURN_MODEL) / "risk_tiers.png",
            ),
        }
    )


# --- lifetime value ------------------------------------------------------------------------


@dg.asset(
    key=model_asset_key(VALUE_MODEL),
    group_name="models",
    deps=[SNAPSHOTS, CHURN_LABELS],
    pool=DUCKDB_POOL,
    kinds={"scipy"},
    description=(
        "BG/NBD purchase counts with Gamma-Gamma spend, fitted as of the latest labelled cutoff "
        "and compared with the orders and revenue customers really placed in the next horizon, "
        "beside each customer repeating their historical rate."
    ),
)
def customer_value_model(
    context: dg.AssetExecutionContext, duckdb: WarehouseResource
) -> dg.MaterializeResult:
    started = time.perf_counter()
    with duckdb.get_connection() as conn:
        if reason := _value_skip_reason(conn):
            return _skipped(context, reason)
        holdout = conn.execute(
            "select s.*, l.orders_in_horizon, l.revenue_in_horizon, l.horizon_days "
            "from marts.customer_feature_snapshots s join marts.churn_labels l "
            "using (customer_id, as_of_date) "
            "where as_of_date = (select max(as_of_date) from marts.churn_labels) "
            "order by customer_id"
        ).df()
        latest = _features(conn)
    horizon = int(holdout["horizon_days"].iloc[0])
    summary = clv.summary_from_features(holdout)
    actual = holdout.set_index("customer_id").loc[summary["customer_id"]]
    evaluation_model = clv.CustomerValueModel(horizon_days=horizon).fit(summary)
    predictions = {
        "BG/NBD + Gamma-Gamma": evaluation_model.predict(summary, horizon),
        "historical rate": clv.naive_rate_baseline(summary, horizon),
    }
    current = promoted_model(MODEL_DIR, VALUE_MODEL)
    if current is not None:
        predictions["current model"] = current.load()["evaluation_model"].predict(summary, horizon)
    metrics = {
        name: clv.value_metrics(
            frame["expected_orders"].to_numpy(),
            frame["expected_revenue"].to_numpy(),
            actual["orders_in_horizon"].to_numpy(),
            actual["revenue_in_horizon"].to_numpy(),
        )
        for name, frame in predictions.items()
    }
    current_metrics = metrics.pop("current model", None)
    final = clv.CustomerValueModel(horizon_days=CLV_HORIZON_DAYS).fit(
        clv.summary_from_features(latest)
    )
    cutoff = _day(holdout["as_of_date"].iloc[0])
    holdout_end = _day(holdout["as_of_date"].iloc[0] + pd.Timedelta(days=horizon))
    folder = _report(VALUE_MODEL)
    params = {
        **{k: round(float(v), 4) for k, v in final.bgnbd_.params_.items()},
        **{k: round(float(v), 4) for k, v in final.gamma_gamma_.params_.items()},
    }
    trained = Trained(
        model={"model": final, "evaluation_model": evaluation_model},
        metric="revenue_mae",
        higher_is_better=False,
        metrics=metrics,
        baselines=["historical rate"],
        current_metrics=current_metrics,
        train_window=(str(CONFIG.first_day), cutoff),
        holdout_window=(cutoff, holdout_end),
        version_metadata={"parameters": params},
        metadata={
            "parameters": dg.MetadataValue.json(params),
            "holdout_customers": len(summary),
            "scoring_horizon_days": CLV_HORIZON_DAYS,
            "revenue_chart": predicted_vs_actual(
                {n: p["expected_revenue"] for n, p in predictions.items() if n != "current model"},
                actual["revenue_in_horizon"].reset_index(drop=True),
                f"Revenue per customer in the {horizon} days after {cutoff}",
                "revenue",
                folder / "predicted_vs_actual_revenue.png",
            ),
        },
    )
    return _finish_training(context, duckdb, VALUE_MODEL, trained, current, started)


def _score_value(conn: object, saved: dict) -> pd.DataFrame:
    features = _features(conn)
    summary = clv.summary_from_features(features)
    predicted = saved["model"].predict(summary, CLV_HORIZON_DAYS)
    as_of = pd.Timestamp(features["as_of_date"].iloc[0])
    # An infinite expected wait (too little history to expect another order) has no date.
    days = predicted["expected_days_to_next_order"].to_numpy(dtype=float)
    waiting = pd.to_timedelta(np.where(np.isfinite(days), np.ceil(days), np.nan), unit="D")
    return pd.DataFrame(
        {
            "customer_id": summary["customer_id"].to_numpy(),
            "p_alive": predicted["p_alive"].to_numpy(),
            "expected_orders": predicted["expected_orders"].to_numpy(),
            "expected_revenue": predicted["expected_revenue"].to_numpy(),
            "expected_next_order_date": (as_of + waiting).date,
            "horizon_days": CLV_HORIZON_DAYS,
            "as_of_date": as_of.date(),
        }
    )


@dg.asset(
    key=[SCORES_SCHEMA, VALUE_TABLE],
    group_name=SCORES_SCHEMA,
    deps=[model_asset_key(VALUE_MODEL), FEATURES],
    pool=DUCKDB_POOL,
    kinds={"duckdb"},
    description=(
        "One row per customer with at least one order: P(alive), expected orders and revenue over "
        "models.clv_horizon_days, and the expected next-order date if still active."
    ),
)
def customer_value(
    context: dg.AssetExecutionContext, duckdb: WarehouseResource
) -> dg.MaterializeResult:
    result, scores = _score_with_promoted(
        context, duckdb, VALUE_MODEL, VALUE_TABLE, _value_skip_reason, _score_value
    )
    if scores is None:
        return result
    return dg.MaterializeResult(
        metadata={
            **result.metadata,
            "expected_revenue_total": round(float(scores["expected_revenue"].sum()), 2),
            "mean_p_alive": round(float(scores["p_alive"].mean()), 4),
        }
    )


# --- recommendations -----------------------------------------------------------------------


@dg.asset(
    key=model_asset_key(RECOMMENDER_MODEL),
    group_name="models",
    deps=[INTERACTIONS],
    pool=DUCKDB_POOL,
    kinds={"scikitlearn"},
    description=(
        "Recommender chosen by NDCG on the holdout period among popularity, repeat purchases, "
        "item-kNN, EASE and ALS; popularity is the baseline it must beat."
    ),
)
def recommender_model(
    context: dg.AssetExecutionContext, duckdb: WarehouseResource
) -> dg.MaterializeResult:
    started = time.perf_counter()
    with duckdb.get_connection() as conn:
        if reason := _recommender_skip_reason(conn):
            return _skipped(context, reason)
        interactions = read_table(
            conn, "marts", "customer_product_interactions", ("customer_id", "product_id")
        )
        last_day = conn.execute("select max(as_of_date) from marts.customer_features").fetchone()[0]
    k = N_RECOMMENDATIONS
    filter_bought = not RECOMMEND_ALREADY_BOUGHT
    fitted: dict[str, recommend.Recommender] = {}  # each candidate, fitted before the holdout
    evaluation = recommend.evaluate_candidates(
        interactions, k=k, filter_already_bought=filter_bought, fitted=fitted
    )
    chosen = recommend.select_candidate(evaluation, k)
    evaluation_model = fitted[chosen]
    train, truth = recommend.holdout_split(interactions)
    current = promoted_model(MODEL_DIR, RECOMMENDER_MODEL)
    current_metrics = None
    if current is not None:
        current_metrics = recommend.evaluate_fitted(
            current.load()["evaluation_model"], truth, k, len(train["product_id"].unique())
        )
    model = recommend.build_recommender(chosen, filter_bought).fit(
        interactions[["customer_id", "product_id", *recommend.FULL_HISTORY.values()]]
    )
    metric = f"ndcg_at_{k}"
    ordered = {chosen: evaluation[chosen]} | {
        name: values for name, values in evaluation.items() if name != chosen
    }
    holdout_start = _day(interactions["holdout_start_date"].iloc[0])
    baselines = [recommend.POPULARITY] if chosen != recommend.POPULARITY else []
    trained = Trained(
        model={"model": model, "evaluation_model": evaluation_model, "name": chosen},
        metric=metric,
        higher_is_better=True,
        metrics=ordered,
        baselines=baselines,
        current_metrics=current_metrics,
        train_window=(str(CONFIG.first_day), holdout_start),
        holdout_window=(holdout_start, _day(last_day)),
        version_metadata={"chosen": chosen},
        metadata={
            "chosen_model": chosen,
            "selection": f"highest {metric} on the holdout period among {', '.join(evaluation)}",
            "already_bought_recommended": RECOMMEND_ALREADY_BOUGHT,
            "customers_evaluated": len(truth),
            "products": int(interactions["product_id"].nunique()),
            "metrics_chart": metric_comparison(
                {
                    name: {m: values[m] for m in (f"recall_at_{k}", metric, "coverage")}
                    for name, values in evaluation.items()
                },
                "Recommenders, holdout period",
                _report(RECOMMENDER_MODEL) / "candidates.png",
            ),
        },
    )
    return _finish_training(context, duckdb, RECOMMENDER_MODEL, trained, current, started)


def _score_recommendations(conn: object, saved: dict) -> pd.DataFrame:
    customers = conn.execute("select customer_id from marts.customer_features order by 1").df()
    recs = saved["model"].recommend(customers["customer_id"].tolist(), N_RECOMMENDATIONS)
    return recs[["customer_id", "rank", "product_id", "score", "model"]]


@dg.asset(
    key=[SCORES_SCHEMA, RECOMMENDATIONS_TABLE],
    group_name=SCORES_SCHEMA,
    deps=[model_asset_key(RECOMMENDER_MODEL), FEATURES],
    pool=DUCKDB_POOL,
    kinds={"duckdb"},
    description=(
        f"Top {N_RECOMMENDATIONS} products per customer from the chosen recommender; the column "
        "`model` says which produced each row (popularity for customers without history)."
    ),
)
def recommendations(
    context: dg.AssetExecutionContext, duckdb: WarehouseResource
) -> dg.MaterializeResult:
    result, scores = _score_with_promoted(
        context,
        duckdb,
        RECOMMENDER_MODEL,
        RECOMMENDATIONS_TABLE,
        _recommender_skip_reason,
        _score_recommendations,
    )
    if scores is None:
        return result
    by_model = scores["model"].value_counts()
    return dg.MaterializeResult(
        metadata={
            **result.metadata,
            "rows_by_model": dg.MetadataValue.json({k: int(v) for k, v in by_model.items()}),
            "distinct_products_recommended": int(scores["product_id"].nunique()),
        }
    )


model_assets = [
    segmentation_model,
    customer_segments,
    churn_model,
    churn_scores,
    customer_value_model,
    customer_value,
    recommender_model,
    recommendations,
]
model_checks = [_promotion_gate(name) for name in MODELS]
