"""Monthly partitions with exact days: what the schedule, the sensor, `make run --days` and a UI
launch of some months each reload."""

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import dagster as dg
import pytest

from landing import load_config
from orchestration.defs.partitions import (
    FIRST_DAY_TAG,
    LAST_DAY_TAG,
    PARTITION_TAG,
    RANGE_END_TAG,
    RANGE_START_TAG,
    all_days_tags,
    calendar_days,
    days_tags,
    format_days,
    month_partitions,
    run_days,
    widen_days,
)
from orchestration.defs.schedules import build_refresh
from orchestration.settings import Settings, get_settings


@pytest.fixture(scope="module")
def config():
    return get_settings().config


def test_a_partition_is_a_month_of_the_calendar(config):
    keys = month_partitions(config).get_partition_keys()
    today = datetime.now(ZoneInfo(config.timezone)).date()
    assert keys[0] == config.first_day.replace(day=1).isoformat()
    assert keys[-1] == today.replace(day=1).isoformat()  # this morning's orders have a partition
    assert len(keys) == len({key[:7] for key in keys})  # one per month


def test_a_run_for_some_days_names_the_days_and_their_months(config):
    tags = days_tags(config, date(2026, 10, 31), date(2026, 11, 2))
    assert tags == {
        FIRST_DAY_TAG: "2026-10-31",
        LAST_DAY_TAG: "2026-11-02",
        RANGE_START_TAG: "2026-10-01",
        RANGE_END_TAG: "2026-11-01",
    }
    assert run_days(tags, config) == (date(2026, 10, 31), date(2026, 11, 2))


def test_days_outside_the_calendar_are_clamped(config):
    first, last = calendar_days(config)
    assert run_days(all_days_tags(config), config) == (first, last)
    assert run_days(days_tags(config, first - timedelta(days=90), first), config) == (first, first)
    # Entirely outside: the latest day.
    assert run_days(days_tags(config, date(1990, 1, 1), date(1990, 1, 2)), config) == (last, last)


def test_a_ui_launch_of_months_reloads_every_day_of_them(config):
    """A run launched from the UI has Dagster's partition tags only."""
    assert run_days({PARTITION_TAG: "2025-02-01"}, config) == (date(2025, 2, 1), date(2025, 2, 28))
    backfill = {RANGE_START_TAG: "2025-11-01", RANGE_END_TAG: "2025-12-01"}
    assert run_days(backfill, config) == (date(2025, 11, 1), date(2025, 12, 31))
    assert run_days({}, config) is None  # no partitions: the daily models rebuild every day


def test_a_log_that_has_ended_has_no_months_after_its_last_day(tmp_path):
    source = get_settings().config_path.read_text()
    path = tmp_path / "ended.yml"
    path.write_text(source.replace("first_day:", "last_day: 2025-03-15\nfirst_day:", 1))
    ended = load_config(path)
    assert month_partitions(ended).get_partition_keys()[-1] == "2025-03-01"
    assert calendar_days(ended)[1] == date(2025, 3, 15)
    assert run_days({PARTITION_TAG: "2025-03-01"}, ended) == (date(2025, 3, 1), date(2025, 3, 15))


def test_the_daily_schedule_reloads_yesterday_and_today():
    from orchestration.definitions import defs

    definitions = defs()
    schedule = definitions.resolve_schedule_def("daily_refresh")
    when = datetime(2026, 11, 1, 5, tzinfo=ZoneInfo("UTC"))
    context = dg.build_schedule_context(
        scheduled_execution_time=when, repository_def=definitions.get_repository_def()
    )
    request = schedule.evaluate_tick(context).run_requests[0]
    assert request.tags[FIRST_DAY_TAG] == "2026-10-31"
    assert request.tags[LAST_DAY_TAG] == "2026-11-01"
    assert (request.tags[RANGE_START_TAG], request.tags[RANGE_END_TAG]) == (
        "2026-10-01",
        "2026-11-01",
    )


def test_the_daily_schedule_takes_today_in_the_shops_time_zone(tmp_path):
    """At 05:00 UTC on 1 November it is still 31 October in Los Angeles: a shop there reloads
    30 and 31 October (before, 31 October and 1 November, a day that had not begun)."""
    from orchestration.definitions import defs

    text = get_settings().config_path.read_text()
    path = tmp_path / "shop.yml"  # the schedule needs no file the config names
    path.write_text(text.replace("timezone: UTC", "timezone: America/Los_Angeles"))
    settings = Settings(path, load_config(path))
    _, schedule, _ = build_refresh(settings, month_partitions(settings.config))
    when = datetime(2026, 11, 1, 5, tzinfo=ZoneInfo("UTC"))
    repository = defs().get_repository_def()  # the asset graph the request selects from
    context = dg.build_schedule_context(scheduled_execution_time=when, repository_def=repository)
    request = schedule.evaluate_tick(context)
    tags = request.run_requests[0].tags
    assert (tags[FIRST_DAY_TAG], tags[LAST_DAY_TAG]) == ("2026-10-30", "2026-10-31")


def test_the_daily_models_rebuild_the_days_a_corrected_file_touched():
    """The raw loads' reloaded_days widen the run's days for the daily dbt models; a full load
    among them means every day."""
    days = (date(2026, 11, 30), date(2026, 12, 1))
    moved = format_days((date(2026, 6, 2), date(2026, 6, 5)))
    assert moved == "2026-06-02..2026-06-05"
    assert widen_days(days, []) == days
    assert widen_days(days, [moved, format_days(days)]) == (date(2026, 6, 2), date(2026, 12, 1))
    assert widen_days(days, [moved, format_days(None)]) is None
    assert widen_days(None, [moved]) is None
