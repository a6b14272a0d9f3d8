"""Monthly partitions of the time-stamped raw tables (order lines, web events), with exact days.

A partition is a month of the shop's calendar; a run names both the months it touches (Dagster's
partition range, which the UI shows and backfills) and the exact days it reloads (two run tags of
the platform). The daily schedule reloads yesterday and today inside the current month; a UI
backfill of some months reloads every day of them. Dagster records an event per asset and
partition, about 25 ms each on its SQLite storage: daily partitions cost a full refresh of two
years about 1,500 of them before any data work, monthly ones about 50.

Only the raw assets are partitioned; the daily dbt models are incremental and rebuild the days of
the run.
"""

from collections.abc import Mapping
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import dagster as dg

from landing import Config

RANGE_START_TAG = "dagster/asset_partition_range_start"
RANGE_END_TAG = "dagster/asset_partition_range_end"
PARTITION_TAG = "dagster/partition"
FIRST_DAY_TAG = "shop_analytics/first_day"
LAST_DAY_TAG = "shop_analytics/last_day"


def month_partitions(config: Config) -> dg.MonthlyPartitionsDefinition:
    """One partition per month of the shop's calendar, from the month of first_day through the
    current month (an order placed this morning is in it), or through the month of `last_day`
    for a log that has ended (no partitions for the empty years since)."""
    start = config.first_day.replace(day=1).isoformat()
    if config.last_day is not None:
        return dg.MonthlyPartitionsDefinition(
            start_date=start,
            end_date=_next_month(config.last_day).isoformat(),  # exclusive
            timezone=config.timezone,
        )
    return dg.MonthlyPartitionsDefinition(start_date=start, timezone=config.timezone, end_offset=1)


def _next_month(day: date) -> date:
    return (day.replace(day=1) + timedelta(days=32)).replace(day=1)


def calendar_days(config: Config) -> tuple[date, date]:
    """The first and last day (inclusive) rows may fall on: first_day through last_day, or
    through today in the shop's time zone."""
    today = datetime.now(ZoneInfo(config.timezone)).date()
    return config.first_day, config.last_day or today


def days_tags(config: Config, first: date, last: date) -> dict[str, str]:
    """Run tags for reloading the days first..last (clamped to the calendar): the exact days, and
    the range of months that holds them."""
    start, end = calendar_days(config)
    first, last = max(first, start), min(last, end)
    if first > last:  # entirely outside the calendar: reload the latest day
        first = last = end
    return {
        FIRST_DAY_TAG: first.isoformat(),
        LAST_DAY_TAG: last.isoformat(),
        RANGE_START_TAG: first.replace(day=1).isoformat(),
        RANGE_END_TAG: last.replace(day=1).isoformat(),
    }


def all_days_tags(config: Config) -> dict[str, str]:
    """Run tags for a full refresh: every day of the calendar."""
    return days_tags(config, *calendar_days(config))


# Raw asset metadata: the days whose rows a load replaced (the run's days, widened by those of a
# new or corrected file's rows before and after), which the daily dbt models then rebuild.
RELOADED_DAYS_KEY = "reloaded_days"
EVERY_DAY = "every day"


def format_days(days: tuple[date, date] | None) -> str:
    """`2026-10-01..2026-10-31`, or EVERY_DAY for None."""
    return f"{days[0].isoformat()}..{days[1].isoformat()}" if days else EVERY_DAY


def widen_days(days: tuple[date, date] | None, reloaded: list[str]) -> tuple[date, date] | None:
    """The run's days widened by the raw loads' RELOADED_DAYS_KEY values (None: every day)."""
    if days is None or EVERY_DAY in reloaded:
        return None
    first, last = days
    for value in reloaded:
        start, end = (date.fromisoformat(part) for part in value.split(".."))
        first, last = min(first, start), max(last, end)
    return first, last


def run_days(tags: Mapping[str, str], config: Config) -> tuple[date, date] | None:
    """The days (inclusive) a run reloads: its exact-day tags when it has them (the schedule,
    the sensor, `make run`), else every day of its months (a run or backfill launched from the
    UI), clamped to the calendar. None when the run has no partitions: the daily dbt models
    then rebuild every day."""
    if FIRST_DAY_TAG in tags and LAST_DAY_TAG in tags:
        return date.fromisoformat(tags[FIRST_DAY_TAG]), date.fromisoformat(tags[LAST_DAY_TAG])
    first_key = tags.get(RANGE_START_TAG) or tags.get(PARTITION_TAG)
    last_key = tags.get(RANGE_END_TAG) or tags.get(PARTITION_TAG)
    if not first_key or not last_key:
        return None
    first = date.fromisoformat(first_key)  # a month's key is its first day
    last = _next_month(date.fromisoformat(last_key)) - timedelta(days=1)
    start, end = calendar_days(config)
    return max(first, start), min(last, end)
