"""Daily partitions of the time-stamped raw tables (order lines, web events).

Only the raw assets are partitioned: Dagster records an event per asset and partition, about
25 ms each here, so partitioning every daily dbt model too would add minutes to a full refresh.
The daily dbt models are incremental instead and rebuild the days of the run's partitions.
"""

from datetime import date, timedelta

import dagster as dg

from landing import Config

RANGE_START_TAG = "dagster/asset_partition_range_start"
RANGE_END_TAG = "dagster/asset_partition_range_end"
PARTITION_TAG = "dagster/partition"


def daily_partitions(config: Config) -> dg.DailyPartitionsDefinition:
    """One partition per day of the shop's calendar, from the config's first_day through today
    (an order placed this morning belongs to today's partition, refreshed again tomorrow), or
    through `last_day` for a log that has ended (no partitions for the empty years since)."""
    if config.last_day is not None:
        return dg.DailyPartitionsDefinition(
            start_date=config.first_day.isoformat(),
            end_date=(config.last_day + timedelta(days=1)).isoformat(),  # exclusive
            timezone=config.timezone,
        )
    return dg.DailyPartitionsDefinition(
        start_date=config.first_day.isoformat(), timezone=config.timezone, end_offset=1
    )


def partition_days(context: dg.AssetExecutionContext) -> tuple[date, date]:
    """The first and last day (inclusive) of the partition or partition range being run."""
    window = context.partition_time_window
    return window.start.date(), (window.end - timedelta(days=1)).date()


def run_days(context: dg.AssetExecutionContext) -> tuple[date, date] | None:
    """The days the run's partitions cover, for an unpartitioned step in a partitioned run (the
    daily dbt models); None when the run has no partitions (then they rebuild every day)."""
    tags = context.run.tags
    first = tags.get(RANGE_START_TAG) or tags.get(PARTITION_TAG)
    last = tags.get(RANGE_END_TAG) or tags.get(PARTITION_TAG)
    if not first or not last:
        return None
    return date.fromisoformat(first), date.fromisoformat(last)
