"""The platform's Dagster definitions: everything is built in orchestration/defs/."""

import dagster as dg

import orchestration.lib.dagster_patches  # noqa: F401  (a waiting step must sleep, not spin)
from orchestration.defs.exports import exports
from orchestration.defs.ingestion import raw_assets, reconciliation_checks
from orchestration.defs.models import model_assets
from orchestration.defs.quality import suite_checks
from orchestration.defs.resources import resources
from orchestration.defs.schedules import daily_refresh, landing_files_sensor, refresh_all_job
from orchestration.defs.transform import (
    dbt_activation_models,
    dbt_daily_models,
    dbt_feature_models,
)

defs = dg.Definitions(
    assets=[
        *raw_assets,
        dbt_daily_models,
        dbt_feature_models,
        *model_assets,
        dbt_activation_models,
        exports,
    ],
    asset_checks=[*reconciliation_checks, *suite_checks],
    jobs=[refresh_all_job],
    schedules=[daily_refresh],
    sensors=[landing_files_sensor],
    resources=resources,
    # Every job (the refresh, a UI selection, the CLI) runs its steps one after another in one
    # process: DuckDB has a single writer, and each extra process would pay seconds of start-up.
    executor=dg.in_process_executor,
)
