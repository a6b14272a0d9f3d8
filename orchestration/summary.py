"""The summary `make run` prints: rows per table, segments, model metrics, time per stage."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime

import pandas as pd
from dagster import DagsterEventType, DagsterInstance

from ml.registry import UntrustedModelError, promoted_model
from orchestration.defs.models import model_entries
from orchestration.lib.model_assets import kept_version, model_asset_key
from orchestration.lib.model_runs import latest_model_run
from orchestration.lib.warehouse import WarehouseLockedError, connect
from orchestration.settings import RAW_SCHEMA, SCORES_SCHEMA, get_settings

SCHEMAS = (RAW_SCHEMA, "marts", SCORES_SCHEMA)  # the tables people read


INGESTION = "ingestion"
QUALITY_CHECKS = "quality checks"
DBT_MODELS = "dbt models"
TRAINING = "model training"
SCORING = "scoring"
ACTIVATION = "activation"
OTHER = "other"
# The pipeline's stages, in order (the summary and `make benchmark` report time per stage).
STAGES = (INGESTION, QUALITY_CHECKS, DBT_MODELS, TRAINING, SCORING, ACTIVATION, OTHER)


def stage_of(step_key: str) -> str:
    """The pipeline stage a step belongs to, from its step key."""
    if "great_expectations" in step_key or step_key.endswith("rows_reconciled"):
        return QUALITY_CHECKS
    for prefix, stage in (
        ("raw__", INGESTION),
        ("dbt_models", DBT_MODELS),
        ("models__", TRAINING),
        ("scores__marketing_report", ACTIVATION),
        ("scores__", SCORING),
        ("dbt_activation", ACTIVATION),
    ):
        if step_key.startswith(prefix):
            return stage
    return OTHER


def _metadata_value(metadata: dict, key: str) -> object:
    value = metadata.get(key)
    return getattr(value, "value", value)


def step_errors(instance: DagsterInstance, run_id: str, max_lines: int = 12) -> dict[str, str]:
    """The error each failed step raised (the innermost cause: the platform's own message,
    which names the file, the column or the key), first lines only."""
    errors = {}
    for entry in instance.all_logs(run_id, of_type=DagsterEventType.STEP_FAILURE):
        error = entry.dagster_event.step_failure_data.error
        while error is not None and error.cause is not None:
            error = error.cause
        if error is not None:
            message = error.message.strip()
            if error.cls_name == "Failure":  # raised by the platform: its description is the news
                message = message.split(": ", 1)[-1]
            lines = message.splitlines()
            errors[entry.step_key] = "\n".join(lines[:max_lines])
    return errors


def print_model_runs(instance: DagsterInstance, conn: object, run_id: str) -> None:
    """Each model's holdout metric beside its baselines and the model in use, and the gate."""
    print("\nModels on held-out data, beside their baselines (scores.model_runs; charts in the UI)")
    settings = get_settings()
    now = datetime.now(UTC).replace(tzinfo=None)
    for name in (entry.model.name for entry in model_entries(settings.config)):
        event = instance.get_latest_materialization_event(model_asset_key(name))
        if event is None or event.run_id != run_id:
            try:
                current = promoted_model(settings.model_dir, name)
            except UntrustedModelError:  # its training step failed saying why
                current = None
            if current is None:
                print(f"  {name}: not trained in this run")
            else:  # left out of the run (refresh_selection): not due for retraining
                kept = kept_version(current, settings.config.models.retrain_every_days, now)
                print(f"  {name}: not due for retraining, kept {kept}")
            continue
        metadata = event.asset_materialization.metadata
        if "skipped" in metadata:
            print(f"  {name}: skipped: {_metadata_value(metadata, 'skipped')}")
            continue
        if "kept" in metadata:  # not due for retraining: the promoted version scored
            print(f"  {name}: not due for retraining, kept {_metadata_value(metadata, 'kept')}")
            continue
        row = latest_model_run(conn, name, run_id)
        if row is None:
            continue
        better = "higher" if row["higher_is_better"] else "lower"
        print(
            f"\n  {name}: gate metric {row['metric']} ({better} is better); trained "
            f"{row['train_start']} to {row['train_end']}, held out "
            f"{row['holdout_start']} to {row['holdout_end']}"
        )
        table = pd.DataFrame(row["metrics"]).T
        print("    " + table.to_string(float_format=_number).replace("\n", "\n    "))
        verdict = "promoted" if row["promoted"] else "NOT promoted (the model in use keeps scoring)"
        print(f"    -> {verdict}: {row['gate_reason']}")


def _number(value: float) -> str:
    return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.4g}"


def print_summary(instance: DagsterInstance, run_id: str, wall_seconds: float) -> None:
    run = instance.get_run_by_id(run_id)
    print(f"\n=== Run {run_id}: {run.status.value if run else 'unknown'} ===")

    times: dict[str, float] = defaultdict(float)
    failed = []
    for stats in instance.get_run_step_stats(run_id):
        if stats.start_time and stats.end_time:
            times[stage_of(stats.step_key)] += stats.end_time - stats.start_time
        if stats.status and stats.status.value != "SUCCESS":
            failed.append(f"{stats.step_key} ({stats.status.value.lower()})")
    print("\nWall time per stage")
    for stage, seconds in times.items():
        print(f"  {stage:<22} {seconds:6.1f} s")
    print(f"  {'total (make run)':<22} {wall_seconds:6.1f} s")
    if failed:
        print("\nSteps that did not succeed: " + ", ".join(failed))
        for step, message in step_errors(instance, run_id).items():
            print(f"  {step}: " + message.replace("\n", "\n    "))
        print("The whole log of each step: open the run in the UI (make ui).")

    settings = get_settings()
    try:
        conn = connect(settings.duckdb_path)
    except WarehouseLockedError as error:
        print(f"\nNo table summary: {error}")
        return
    with conn:
        print_model_runs(instance, conn, run_id)
        tables = conn.execute(
            "select table_schema, table_name from information_schema.tables "
            f"where table_schema in {SCHEMAS} and table_type = 'BASE TABLE' order by 1, 2"
        ).fetchall()
        print("\nRows per table")
        for schema, table in tables:
            count = conn.execute(f'select count(*) from "{schema}"."{table}"').fetchone()[0]
            print(f"  {schema + '.' + table:<42} {count:>12,}")
        if ("raw", "quarantine") in tables:
            quarantined = conn.execute(
                "select source_table, reason, count(*) from raw.quarantine group by 1, 2 order by 3 desc"
            ).fetchall()
            print(
                f"\nRows quarantined: {sum(row[2] for row in quarantined):,} (details in raw.quarantine)"
            )
            for table, reason, count in quarantined[:10]:
                print(f"  {table:<12} {count:>8,}  {reason}")
        if (SCORES_SCHEMA, "customer_segments") in tables:
            print("\nSegment sizes")
            for segment, count in conn.execute(
                f"select segment, count(*) from {SCORES_SCHEMA}.customer_segments group by 1 order by 2 desc"
            ).fetchall():
                print(f"  {segment:<22} {count:>8,}")

    print(f"\nWarehouse: {settings.duckdb_path}")
    print(f"Exports (Parquet and CSV): {settings.export_dir}")
    if settings.marketing_report.exists():
        print(f"Marketing report: {settings.marketing_report}")
    print("Open the UI: make ui, then http://127.0.0.1:3000")
