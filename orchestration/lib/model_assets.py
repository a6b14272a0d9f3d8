"""Build a model's Dagster assets from its ml/ definition: a training asset with a
`promotion_gate` check, and a scoring asset that writes its scored table.

The training asset reads the model's input tables, lets the model train and evaluate itself
(ml.base.CustomerModel), saves the version, promotes it only if the gate lets it, appends the run
to `scores.model_runs` (history for people and the summary, never read back to decide), and
reports the decision through its own check. A refused version is a warning, not a failure: the
scoring asset scores with the promoted version (the last good one), so the scored table, the
customer 360 and the exports are still refreshed with today's features and the run succeeds.
"""

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import dagster as dg

from ml.base import CannotTrain, CustomerModel, ScoreResult, TrainResult
from ml.registry import ModelVersion, promote, promoted_model, save_model, version_time
from orchestration.lib.model_runs import record_model_run
from orchestration.lib.scores import has_declared_columns, scores_relation, write_scores
from orchestration.lib.warehouse import (
    WarehouseResource,
    asset_relation,
    read_asset,
    table_metadata,
)
from orchestration.settings import (
    DUCKDB_POOL,
    RETRAIN_JOB,
    RETRAIN_TAG,
    SCORES_SCHEMA,
    get_settings,
)

if TYPE_CHECKING:
    import pandas as pd

GATE_CHECK = "promotion_gate"
TRAINING_GROUP = "models"  # the training assets' group, and the first part of their keys


@dataclass(frozen=True)
class ModelEntry:
    """One model of the platform and how it appears in Dagster."""

    model: CustomerModel
    scores_table: str  # the table in `scores` its scoring asset writes (declared in dbt)
    kinds: frozenset[str]
    train_description: str
    score_description: str


def model_asset_key(name: str) -> dg.AssetKey:
    return dg.AssetKey([TRAINING_GROUP, name])


def _as_metadata(details: Mapping[str, Any]) -> dict[str, Any]:
    """Plain values as they are; floats rounded; mappings and lists as JSON."""
    converted: dict[str, Any] = {}
    for key, value in details.items():
        if isinstance(value, float):
            converted[key] = dg.MetadataValue.float(round(value, 4))
        elif isinstance(value, Mapping | list | tuple):
            converted[key] = dg.MetadataValue.json(value)
        else:
            converted[key] = value
    return converted


def _presented(
    name: str, details: Mapping[str, Any], tables: Mapping[str, "pd.DataFrame"], charts: Mapping
) -> dict[str, Any]:
    """A model's details, tables (Markdown) and charts (drawn into its report folder)."""
    from orchestration.lib.plots import render  # matplotlib: only in the steps that draw

    folder = get_settings().report_dir / name
    return {
        **_as_metadata(details),
        **{key: dg.MetadataValue.md(table.round(4).to_markdown()) for key, table in tables.items()},
        **{key: render(chart, folder) for key, chart in charts.items()},
    }


def _gate_result(passed: bool, description: str, **metadata: Any) -> dg.AssetCheckResult:
    return dg.AssetCheckResult(
        check_name=GATE_CHECK,
        passed=passed,
        severity=dg.AssetCheckSeverity.WARN,
        description=description,
        metadata=_as_metadata(metadata),
    )


def _finish_training(
    context: dg.AssetExecutionContext,
    conn: Any,
    name: str,
    result: TrainResult,
    current: ModelVersion | None,
    started: float,
) -> dg.MaterializeResult:
    """Save the version, promote it if the gate lets it, record the run, report the gate."""
    import pandas as pd

    decision = result.gate()
    version = save_model(
        get_settings().model_dir,
        name,
        result.model,
        {
            "metric": result.metric,
            "metrics": result.metrics,
            "train_window": result.train_window,
            "holdout_window": result.holdout_window,
            "promoted": decision.promoted,
            "gate_reason": decision.reason,
            **result.version_metadata,
        },
    )
    if decision.promoted:
        promote(version)
        context.log.info(f"Promoted {name} {version.version}: {decision.reason}")
    else:
        context.log.warning(f"Not promoted {name} {version.version}: {decision.reason}")
    seconds = time.perf_counter() - started
    all_metrics = dict(result.metrics)
    if result.current_metrics:
        all_metrics["current model"] = result.current_metrics
    best = result.best_baseline()
    record_model_run(
        conn,
        {
            "dagster_run_id": context.run_id,
            "model": name,
            "version": version.version,
            "model_sha256": version.sha256,
            "trained_at": datetime.now(UTC).replace(tzinfo=None),
            "train_start": result.train_window[0],
            "train_end": result.train_window[1],
            "holdout_start": result.holdout_window[0],
            "holdout_end": result.holdout_window[1],
            "metric": result.metric,
            "higher_is_better": result.higher_is_better,
            "value": result.value,
            "best_baseline": best[0] if best else None,
            "best_baseline_value": best[1] if best else None,
            "current_version": current.version if current else None,
            "current_value": result.current_value,
            "promoted": decision.promoted,
            "gate_reason": decision.reason,
            "train_seconds": seconds,
            "metrics": all_metrics,
        },
    )
    gate = _gate_result(
        decision.promoted,
        decision.reason,
        version=version.version,
        metric=result.metric,
        value=result.value,
        best_baseline=f"{best[0]} ({best[1]:.4f})" if best else "none (a baseline was chosen)",
        current_version=current.version if current else "none",
    )
    return dg.MaterializeResult(
        metadata={
            "holdout_metric": result.metric,
            "holdout_value": dg.MetadataValue.float(round(result.value, 4)),
            "baseline": best[0] if best else "none",
            "baseline_value": dg.MetadataValue.float(round(best[1], 4)) if best else "none",
            "beats_baselines": result.beats_baselines(),
            "current_value": dg.MetadataValue.float(round(result.current_value, 4))
            if result.current_value is not None
            else "no model in use yet",
            "promoted": decision.promoted,
            "gate_reason": decision.reason,
            "holdout_metrics": dg.MetadataValue.md(
                pd.DataFrame(all_metrics).T.round(4).to_markdown()
            ),
            "train_window": " to ".join(result.train_window),
            "holdout_window": " to ".join(result.holdout_window),
            "train_seconds": round(seconds, 1),
            "model_version": version.version,
            "model_path": str(version.path),
            **_presented(name, result.details, result.tables, result.charts),
        },
        check_results=[gate],
    )


def _skipped_training(context: dg.AssetExecutionContext, reason: str) -> dg.MaterializeResult:
    """A model the data cannot support: say why, pass the gate (nothing was refused)."""
    context.log.warning(f"Skipped: {reason}")
    return dg.MaterializeResult(
        metadata={"skipped": reason},
        check_results=[_gate_result(True, f"not trained: {reason}")],
    )


def retrain_reason(
    current: ModelVersion | None, every_days: int, tags: Mapping[str, str], now: datetime
) -> str | None:
    """Why this run trains the model, or None to keep scoring with the promoted version."""
    if current is None:
        return "no version promoted yet"
    if current.sha256 is None:  # saved before model files carried a digest: never loaded
        return f"version {current.version} has no SHA-256 and cannot be verified"
    if tags.get(RETRAIN_TAG) == "true":
        return f"retraining asked for (run tag {RETRAIN_TAG})"
    age = now - version_time(current.version)
    if age >= timedelta(days=every_days):
        return (
            f"version {current.version} is {age.days} days old "
            f"(models.retrain_every_days: {every_days})"
        )
    return None


def kept_version(current: ModelVersion, every_days: int, now: datetime) -> str:
    """Which promoted version keeps scoring, and when it is due for retraining."""
    trained = version_time(current.version)
    due = (trained + timedelta(days=every_days)).date()
    return (
        f"version {current.version}, trained {trained:%Y-%m-%d %H:%M} UTC "
        f"({(now - trained).days} days ago); next retraining due {due} "
        f"(models.retrain_every_days: {every_days}); retrain now with `make run RETRAIN=1` or "
        f"the {RETRAIN_JOB} job"
    )


def _kept_training(current: ModelVersion, every_days: int, now: datetime) -> dg.MaterializeResult:
    """The promoted version is recent: it keeps scoring, nothing is trained."""
    kept = kept_version(current, every_days, now)
    return dg.MaterializeResult(
        metadata={"kept": kept, "model_version": current.version},
        check_results=[_gate_result(True, f"not trained: kept {kept}")],
    )


def _read_frames(conn: Any, keys: Mapping[str, dg.AssetKey]) -> dict[str, "pd.DataFrame"]:
    return {name: read_asset(conn, key) for name, key in keys.items()}


def _scored_at(scores: "pd.DataFrame", version: ModelVersion) -> "pd.DataFrame":
    return scores.assign(
        model_version=version.version, scored_at=datetime.now(UTC).replace(tzinfo=None)
    )


def _score_new_customers(
    conn: Any,
    entry: ModelEntry,
    version: ModelVersion,
    columns: list,
    score_keys: Mapping[str, dg.AssetKey],
) -> str | None:
    """Scores fixed per customer (CustomerModel.scores_fixed_per_customer), when the table holds
    rows of the promoted `version` only, with its declared columns: delete the rows of the
    customers no longer in the one score input, score the customers of that input without rows
    and append them, in one transaction; what was done, for the metadata. None, with the table
    untouched, when it must be scored whole."""
    ((name, source),) = score_keys.items()
    table = entry.scores_table
    if not has_declared_columns(conn, table, columns):
        return None
    target = scores_relation(table)
    versions = conn.execute(f"select distinct model_version from {target}").fetchall()
    if versions != [(version.version,)]:
        return None
    inputs = asset_relation(source)  # the relation read_asset reads, named in `where`
    conn.begin()
    try:
        dropped = conn.execute(
            f"delete from {target} as scored where not exists "
            f"(select 1 from {inputs} as current where current.customer_id = scored.customer_id)"
        ).fetchone()[0]
        new = read_asset(
            conn,
            source,
            where=f"not exists (select 1 from {target} as scored "
            f"where scored.customer_id = {inputs}.customer_id)",
        )
        if len(new):
            scored = entry.model.score(version.load(), {name: new})
            write_scores(conn, table, _scored_at(scored.scores, version), columns, append=True)
        conn.commit()
    except BaseException:
        conn.rollback()
        raise
    return (
        f"version {version.version} unchanged: scored the {len(new):,} customer(s) of "
        f"{source.to_user_string()} without scores, dropped the {dropped:,} no longer in it; "
        "the others keep their rows"
    )


def build_model_assets(
    entry: ModelEntry,
    key_for: Callable[[str], dg.AssetKey],
    readiness: dg.AssetKey,
    contract: Mapping[str, list[tuple[str, str]]],
) -> list[dg.AssetsDefinition]:
    """The training asset (with its gate) and the scoring asset of one model.

    `key_for` maps an input name (a dbt model) to its asset key; `readiness` is the asset with
    the counts behind skip reasons; `contract` the declared columns of each scored table."""
    model, name = entry.model, entry.model.name
    train_keys = {input_name: key_for(input_name) for input_name in model.train_inputs}
    score_keys = {input_name: key_for(input_name) for input_name in model.score_inputs}
    key = model_asset_key(name)
    columns = contract[entry.scores_table]
    if model.scores_fixed_per_customer and len(score_keys) != 1:
        raise ValueError(
            f"{name}: scores fixed per customer are kept per customer of one score input; it "
            f"declares {list(score_keys)}"
        )

    def skip_reason(conn: Any) -> str | None:
        return model.skip_reason(read_asset(conn, readiness).iloc[0].to_dict())

    @dg.asset(
        key=key,
        group_name=TRAINING_GROUP,
        deps=[readiness, *train_keys.values()],
        pool=DUCKDB_POOL,
        kinds=set(entry.kinds),
        description=entry.train_description,
        check_specs=[
            dg.AssetCheckSpec(
                GATE_CHECK,
                asset=key,
                description=(
                    "Passes when this run's version beat every baseline and was not worse than "
                    "the model in use, on the same holdout, and was promoted; a failure (a "
                    "warning) keeps the last good model, which scores in its place."
                ),
            )
        ],
    )
    def _train(
        context: dg.AssetExecutionContext, duckdb: WarehouseResource
    ) -> dg.MaterializeResult:
        started = time.perf_counter()
        settings = get_settings()
        current = promoted_model(settings.model_dir, name)
        every_days = settings.config.models.retrain_every_days
        now = datetime.now(UTC).replace(tzinfo=None)
        keeps = f"version {current.version} keeps scoring" if current else "no scores yet"
        with duckdb.get_connection() as conn:
            if reason := skip_reason(conn):
                return _skipped_training(context, f"{reason} ({keeps})")
            reason = retrain_reason(current, every_days, context.run.tags, now)
            if reason is None:  # decided before the frames are read: a kept model reads none
                return _kept_training(current, every_days, now)
            frames = _read_frames(conn, train_keys)
        context.log.info(f"Training {name}: {reason}")
        if current is not None and current.sha256 is None:
            current = None  # not loaded; the new version is judged against the baselines only
        try:
            result = model.train(frames, current.load() if current else None)
        except CannotTrain as error:
            return _skipped_training(context, f"{error} ({keeps})")
        with duckdb.get_connection() as conn:
            return _finish_training(context, conn, name, result, current, started)

    # Scoring reads no training input, not even the readiness counts: a refresh with no model
    # due for retraining builds none of them (orchestration/defs/models.py, refresh_selection).
    @dg.asset(
        key=[SCORES_SCHEMA, entry.scores_table],
        group_name=SCORES_SCHEMA,
        deps=[key, *score_keys.values()],
        pool=DUCKDB_POOL,
        kinds={"duckdb"},
        description=entry.score_description,
    )
    def _score(
        context: dg.AssetExecutionContext, duckdb: WarehouseResource
    ) -> dg.MaterializeResult:
        with duckdb.get_connection() as conn:
            version = promoted_model(get_settings().model_dir, name)
            if version is None:
                reason = (
                    f"no version promoted yet (its training asset {key.to_user_string()} says why)"
                )
                # The table exists, empty, with its declared columns: downstream still builds.
                write_scores(conn, entry.scores_table, None, columns)
                context.log.warning(f"Skipped: {reason}")
                metadata = table_metadata(conn, SCORES_SCHEMA, entry.scores_table)
                return dg.MaterializeResult(metadata={**metadata, "skipped": reason})
            if model.scores_fixed_per_customer and (
                done := _score_new_customers(conn, entry, version, columns, score_keys)
            ):
                context.log.info(done)
                metadata = table_metadata(conn, SCORES_SCHEMA, entry.scores_table)
                return dg.MaterializeResult(
                    metadata={**metadata, "model_version": version.version, "scored": done}
                )
            scored: ScoreResult = model.score(version.load(), _read_frames(conn, score_keys))
            write_scores(conn, entry.scores_table, _scored_at(scored.scores, version), columns)
            metadata = table_metadata(conn, SCORES_SCHEMA, entry.scores_table)
        return dg.MaterializeResult(
            metadata={
                **metadata,
                "model_version": version.version,
                **_presented(name, scored.details, {}, scored.charts),
            }
        )

    return [_train, _score]
