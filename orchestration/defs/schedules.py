"""The daily refresh of the whole graph."""

import dagster as dg

from orchestration.settings import REFRESH_CRON, REFRESH_JOB, REFRESH_TIMEZONE

refresh_all_job = dg.define_asset_job(
    name=REFRESH_JOB,
    selection=dg.AssetSelection.all(),
    description="Ingest, transform, check, train and score everything.",
)

daily_refresh = dg.ScheduleDefinition(
    name="daily_refresh",
    job=refresh_all_job,
    cron_schedule=REFRESH_CRON,
    execution_timezone=REFRESH_TIMEZONE,
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Refresh every asset once a day.",
)
