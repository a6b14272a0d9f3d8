"""When the graph refreshes: a daily schedule, and a sensor for new or changed landing files.

Both launch the refresh job for a range of days: the raw tables and the daily dbt models reload
exactly those days; features and scores are then rebuilt as of the latest day, and the models due
for retraining (models.retrain_every_days) trained, with the tables only their training reads
(orchestration/defs/models.py, refresh_selection).
"""

import hashlib
import json
from datetime import timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import dagster as dg

from landing import Config, file_days
from orchestration.defs.models import models_due, refresh_selection
from orchestration.defs.partitions import calendar_days, days_tags
from orchestration.settings import REFRESH_JOB, Settings


def _landing_state(config: Config) -> dict[str, str]:
    """Every configured source file with its size and modification time."""
    state = {}
    for table in config.sources:
        for path in config.source_files(table):
            stat = path.stat()
            state[f"{table}:{path}"] = f"{stat.st_size}:{stat.st_mtime_ns}"
    return state


def _refresh_request(
    context: dg.ScheduleEvaluationContext | dg.SensorEvaluationContext,
    settings: Settings,
    tags: dict[str, str],
    run_key: str | None = None,
) -> dg.RunRequest:
    """A refresh of the days in `tags`, training only the models due for it."""
    selection = refresh_selection(context.repository_def.asset_graph, models_due(settings, tags))
    return dg.RunRequest(run_key=run_key, tags=tags, asset_selection=selection)


def build_refresh(
    settings: Settings, partitions: dg.PartitionsDefinition
) -> tuple[Any, dg.ScheduleDefinition, dg.SensorDefinition]:
    """The refresh job, its daily schedule and the landing-file sensor."""
    config = settings.config
    refresh_all_job = dg.define_asset_job(
        name=REFRESH_JOB,
        selection=dg.AssetSelection.all(),
        partitions_def=partitions,
        description=(
            "Ingest the selected days, rebuild the daily models for them, then check, train and "
            "score everything as of the latest day."
        ),
    )

    @dg.schedule(
        name="daily_refresh",
        job=refresh_all_job,
        cron_schedule=settings.refresh_cron,
        execution_timezone=settings.refresh_timezone,
        default_status=dg.DefaultScheduleStatus.RUNNING,
        description="Every day: reload yesterday and today, then rebuild features and scores.",
    )
    def daily_refresh(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
        # Today in the shop's zone, not the schedule's: rows stamped later today are in it.
        today = context.scheduled_execution_time.astimezone(ZoneInfo(config.timezone)).date()
        return _refresh_request(
            context, settings, days_tags(config, today - timedelta(days=1), today)
        )

    @dg.sensor(
        name="landing_files",
        job=refresh_all_job,
        minimum_interval_seconds=60,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description=(
            "Watches the config's source files. A new or changed file launches a refresh of the "
            "days its rows fall on. The first evaluation only records the files already there."
        ),
    )
    def landing_files_sensor(context: dg.SensorEvaluationContext) -> dg.SensorResult:
        state = _landing_state(config)
        if context.cursor is None:
            return dg.SensorResult(
                cursor=json.dumps(state), skip_reason="Recorded the landing files"
            )
        seen = json.loads(context.cursor)
        changed = sorted(key for key, value in state.items() if seen.get(key) != value)
        if not changed:
            return dg.SensorResult(cursor=json.dumps(state), skip_reason="No new or changed files")
        ranges = [file_days(config, *key.split(":", 1)) for key in changed]
        ranges = [days for days in ranges if days]
        today = calendar_days(config)[1]
        # Files without a day (customers, products) reload with today's partition.
        first = min((days[0] for days in ranges), default=today)
        last = max((days[1] for days in ranges), default=today)
        names = ", ".join(Path(key.split(":", 1)[1]).name for key in changed)
        context.log.info(f"New or changed: {names}; refreshing {first}..{last}")
        run_key = hashlib.sha1(json.dumps({k: state[k] for k in changed}).encode()).hexdigest()
        return dg.SensorResult(
            run_requests=[
                _refresh_request(context, settings, days_tags(config, first, last), run_key)
            ],
            cursor=json.dumps(state),
        )

    return refresh_all_job, daily_refresh, landing_files_sensor
