"""dbt models as Dagster assets (dagster-dbt), keyed by warehouse schema and table.

Two @dbt_assets, one `dbt build` each:
- `dbt_models`: the seeds, the staging views, the intermediate views, the incremental models tagged
  `daily` (orders, order lines, daily browsing), and the customer features, labels, interactions
  and the models' inputs (`ml_inputs/`) built from them as of the latest day. A run for some days
  deletes and re-inserts exactly those days of the incremental models (WINDOW_VARIABLES below; see
  orchestration/defs/partitions.py); a run without partitions rebuilds every day.
- `dbt_activation` (customer_360, schema `scores`) reads the scored tables, so it runs after them.
One command for everything before the models, not one for the daily models and one for the
features: each dbt command costs seconds before its first model (the adapter, partial parsing; dbt's
import on the run's first command) and 1.5 s after its last (artefacts), whatever the shop's size.
dbt runs in the step's process (orchestration/lib/dbt.py, InProcessDbt).
Every invocation gets the config's model settings as dbt vars. The project, its translator and
the dbt CLI resource are in orchestration/lib/dbt.py.
"""

import functools
import json
from collections.abc import Iterator
from datetime import date
from typing import Any

import dagster as dg
from dagster_dbt import DbtCliResource, dbt_assets

from orchestration.defs.partitions import (
    RELOADED_DAYS_KEY,
    calendar_days,
    format_days,
    run_days,
    widen_days,
)
from orchestration.lib.dbt import dbt_project, environment, translator
from orchestration.lib.warehouse import WarehouseResource
from orchestration.settings import DUCKDB_POOL, get_settings

ACTIVATION_SELECTION = "path:models/activation"


# What the two @dbt_assets share: the project, the asset keys and groups, the warehouse pool.
shop_dbt_assets = functools.partial(
    dbt_assets,
    manifest=dbt_project.manifest_path,
    project=dbt_project,
    dagster_dbt_translator=translator,
    pool=DUCKDB_POOL,
)


# The days a run reloads reach the incremental models as environment variables (macro
# partition_filter): with them as vars, every run would change dbt's vars and re-parse the project.
WINDOW_VARIABLES = ("SHOP_PARTITION_START", "SHOP_PARTITION_END")


def _build(
    context: dg.AssetExecutionContext,
    dbt: DbtCliResource,
    duckdb: WarehouseResource,
    days: tuple[date, date] | None = None,
) -> Iterator[Any]:
    """`dbt build` of the asset's selection, with the deployment's vars and its own target folder
    (the same for every invocation, so dbt re-parses only the files that changed)."""
    with duckdb.get_connection():
        pass  # fails with a clear message if a program outside Dagster holds the warehouse
    settings = get_settings()
    window = [day.isoformat() for day in days] if days else ["", ""]
    with environment(dict(zip(WINDOW_VARIABLES, window, strict=True))):
        invocation = dbt.cli(
            ["build", "--vars", json.dumps(settings.config.dbt_vars())],
            context=context,
            target_path=settings.dbt_target_dir,
        )
        try:
            yield from invocation.stream()
        finally:  # a failure while reading dbt's events must not leave dbt holding the warehouse
            if invocation.process.poll() is None:
                invocation.process.terminate()
                invocation.process.wait(timeout=30)


@shop_dbt_assets(
    exclude=ACTIVATION_SELECTION,
    name="dbt_models",
)
def dbt_models(
    context: dg.AssetExecutionContext, dbt: DbtCliResource, duckdb: WarehouseResource
) -> Iterator[Any]:
    """Staging views, the day-by-day incremental models for the days the run refreshes (widened by
    the days the run's raw loads replaced: a new or corrected landing file), and the features,
    labels and interactions as of the latest day, with their dbt tests (checks)."""
    # None for a run without partitions or for every day of the calendar: the incremental models
    # then rebuild every day, and their tests check every row (column_rules' window).
    config = get_settings().config
    days = run_days(context.run.tags, config)
    if days is not None:
        days = widen_days(days, _reloaded_days(context))
        if days == calendar_days(config):
            days = None
        context.log.info(f"Rebuilding the daily models for {format_days(days)}")
    yield from _build(context, dbt, duckdb, days)


def _reloaded_days(context: dg.AssetExecutionContext) -> list[str]:
    """The RELOADED_DAYS_KEY metadata of the raw tables this run materialized."""
    records = context.instance.get_records_for_run(
        context.run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION
    ).records
    values = []
    for record in records:
        materialization = record.event_log_entry.asset_materialization
        entry = materialization.metadata.get(RELOADED_DAYS_KEY) if materialization else None
        if entry is not None:
            values.append(entry.value)
    return values


@shop_dbt_assets(
    select=ACTIVATION_SELECTION,
    name="dbt_activation",
)
def dbt_activation_models(
    context: dg.AssetExecutionContext, dbt: DbtCliResource, duckdb: WarehouseResource
) -> Iterator[Any]:
    """customer_360: the wide activation table joining features and every score."""
    yield from _build(context, dbt, duckdb)
