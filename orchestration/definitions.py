"""The platform's Dagster definitions: everything is built in orchestration/defs/."""

import dagster as dg

from orchestration.defs.exports import parquet_exports
from orchestration.defs.ingestion import raw_assets
from orchestration.defs.models import model_assets
from orchestration.defs.quality import suite_checks
from orchestration.defs.resources import resources
from orchestration.defs.schedules import daily_refresh, refresh_all_job
from orchestration.defs.transform import dbt_activation_models, dbt_feature_models

defs = dg.Definitions(
    assets=[*raw_assets, dbt_feature_models, *model_assets, dbt_activation_models, parquet_exports],
    asset_checks=suite_checks,
    jobs=[refresh_all_job],
    schedules=[daily_refresh],
    resources=resources,
)
