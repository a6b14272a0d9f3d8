"""The platform's Dagster definitions, built from the deployment's settings when Dagster loads
the code location (`@dg.definitions`); everything is built in orchestration/defs/."""

import dagster as dg

from orchestration.defs.activation import activation_checks
from orchestration.defs.erasure import erase_customer_job
from orchestration.defs.exports import exports
from orchestration.defs.ingestion import build_ingestion
from orchestration.defs.models import build_models, build_retrain_job
from orchestration.defs.partitions import month_partitions
from orchestration.defs.quality import build_suite_checks
from orchestration.defs.report import marketing_report
from orchestration.defs.resources import build_resources
from orchestration.defs.schedules import build_refresh
from orchestration.defs.transform import dbt_activation_models, dbt_models
from orchestration.lib import dagster_patches
from orchestration.settings import get_settings


@dg.definitions
def defs() -> dg.Definitions:
    settings = get_settings()
    dagster_patches.apply()  # a step waiting for the duckdb pool must sleep, not spin
    partitions = month_partitions(settings.config)
    raw_assets, reconciliation_checks = build_ingestion(settings, partitions)
    refresh_job, daily_refresh, landing_files = build_refresh(settings, partitions)
    assets = [
        *raw_assets,
        dbt_models,
        *build_models(settings.config),
        dbt_activation_models,
        exports,
        marketing_report,
    ]
    return dg.Definitions(
        assets=assets,
        asset_checks=[
            *reconciliation_checks,
            *build_suite_checks(settings.config),
            *activation_checks,
        ],
        jobs=[refresh_job, build_retrain_job(assets), erase_customer_job],
        schedules=[daily_refresh],
        sensors=[landing_files],
        resources=build_resources(settings),
        # Every job (the refresh, a UI selection, the CLI) runs its steps one after another in
        # one process: DuckDB has a single writer, and each extra process would pay seconds of
        # start-up.
        executor=dg.in_process_executor,
    )
