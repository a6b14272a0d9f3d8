"""Quality checks on bounded rows: the run's days in full, a reproducible sample of the rest,
row count and uniqueness on the whole table (orchestration/lib/expectations.py)."""

from datetime import date, timedelta

import dagster as dg
import duckdb
import pytest

import orchestration.defs.quality as quality
from orchestration.defs.partitions import FIRST_DAY_TAG, LAST_DAY_TAG
from orchestration.lib.expectations import discover_suites, rows_to_validate, validate_table
from orchestration.lib.warehouse import WarehouseResource
from orchestration.settings import EXPECTATIONS_DIR

FIRST = date(2026, 1, 1)
DAYS = 20
PER_DAY = 10


def _suite(name: str):
    return next(s for s in discover_suites(EXPECTATIONS_DIR) if s.name == name)


def _warehouse(path, bad_day: date | None = None, duplicate_event: bool = False) -> str:
    """raw.order_lines and raw.web_events like landing/tables.py's, PER_DAY rows on each of
    DAYS days; one order line of `bad_day` has an unknown status."""
    database = str(path / "w.duckdb")
    conn = duckdb.connect(database)
    conn.execute("create schema raw")
    conn.execute(
        """
        create table raw.order_lines as
        select 'O' || i as order_id, 1::bigint as line_number, 'C' || (i % 7) as customer_id,
               (date '2026-01-01' + (i // ?)::int)::timestamp as ordered_at,
               'completed' as status, 'web' as channel, 'EUR' as currency, 'DE' as country,
               'P1' as product_id, 'Mug' as product_name, 'home' as category, 'b' as brand,
               1::bigint as quantity, 5.0::decimal(18, 4) as unit_price,
               0.0::decimal(18, 4) as discount, 5.0::decimal(18, 4) as amount,
               'orders.csv' as _source_file, i::bigint as _row_number,
               date '2026-01-01' + (i // ?)::int as _partition_day,
               now()::timestamp as _loaded_at
        from range(?) t(i)
        """,
        [PER_DAY, PER_DAY, DAYS * PER_DAY],
    )
    conn.execute(
        """
        create table raw.web_events as
        select 'E' || i as event_id, 'S' || (i // 3) as session_id, 'C' || (i % 7) as customer_id,
               (date '2026-01-01' + (i // ?)::int)::timestamp as event_at,
               'page_view' as event_type, 'mobile' as device,
               date '2026-01-01' + (i // ?)::int as _partition_day
        from range(?) t(i)
        """,
        [PER_DAY, PER_DAY, DAYS * PER_DAY],
    )
    if bad_day is not None:
        conn.execute(
            "update raw.order_lines set status = 'shipped' where order_id = ("
            "select min(order_id) from raw.order_lines where _partition_day = ?)",
            [bad_day],
        )
    if duplicate_event:  # the last day's first event repeats an event id of the first day
        conn.execute(
            "update raw.web_events set event_id = 'E0' where _partition_day = ? and "
            "event_id = (select min(event_id) from raw.web_events where _partition_day = ?)",
            [FIRST + timedelta(days=DAYS - 1)] * 2,
        )
    conn.close()
    return database


def test_a_bad_value_on_a_reloaded_day_always_fails(tmp_path):
    bad = FIRST + timedelta(days=DAYS - 1)
    database = _warehouse(tmp_path, bad_day=bad)
    with duckdb.connect(database, read_only=True) as conn:
        for seed in range(5):  # whatever the sample of the other days, the day is read in full
            report = validate_table(conn, _suite("raw_order_lines"), (bad, bad), 5, seed=seed)
            assert not report.outcome.success
            assert report.selection.day_rows == PER_DAY
            failed = {(f.expectation, f.column) for f in report.outcome.failures}
            assert failed == {("expect_column_values_to_be_in_set", "status")}


def test_metadata_names_the_days_and_the_sample(tmp_path, monkeypatch):
    database = _warehouse(tmp_path)
    monkeypatch.setattr(quality, "QUALITY_SAMPLE_ROWS", 25)
    last = FIRST + timedelta(days=DAYS - 1)
    result = dg.materialize(
        [quality.build_suite_check(_suite("raw_order_lines"))],
        resources={"duckdb": WarehouseResource(database=database)},
        tags={
            FIRST_DAY_TAG: (last - timedelta(days=1)).isoformat(),
            LAST_DAY_TAG: last.isoformat(),
        },
        selection=dg.AssetSelection.all_asset_checks(),
    )
    (evaluation,) = result.get_asset_check_evaluations()
    metadata = {key: value.value for key, value in evaluation.metadata.items()}
    assert evaluation.passed
    assert metadata["validated"] == (
        "days 2026-01-19..2026-01-20 in full (20 rows) + sample of 25 of 180 other rows "
        "(reservoir, seed 42)"
    )
    assert metadata["rows_validated"] == 45
    assert metadata["table_rows"] == DAYS * PER_DAY
    assert metadata["days_in_full"] == "2026-01-19..2026-01-20"
    assert (metadata["sample_rows"], metadata["sample_seed"]) == (25, 42)
    assert metadata["whole_table_in_duckdb"] == "row count of the whole table"
    for key in ("suite", "expectations_evaluated", "expectations_failed", "seconds"):
        assert key in metadata


def test_the_sample_is_reproducible(tmp_path):
    database = _warehouse(tmp_path)
    day = (FIRST, FIRST)
    suite = _suite("raw_web_events")
    with duckdb.connect(database, read_only=True) as conn:
        conn.execute("set threads = 2")
        first, selection = rows_to_validate(conn, suite, day, 30)
        again, _ = rows_to_validate(conn, suite, day, 30)
        other_seed, _ = rows_to_validate(conn, suite, day, 30, seed=7)
    assert (selection.day_rows, selection.sample_rows, len(first)) == (PER_DAY, 30, 40)
    key = ["session_id", "event_at", "customer_id"]
    rows = first.sort_values(key).reset_index(drop=True)
    assert rows.equals(again.sort_values(key).reset_index(drop=True))
    assert not rows.equals(other_seed.sort_values(key).reset_index(drop=True))


@pytest.mark.parametrize("days", [None, (FIRST, FIRST)])
def test_a_table_under_the_bound_is_validated_whole(tmp_path, days):
    database = _warehouse(tmp_path)
    with duckdb.connect(database, read_only=True) as conn:
        report = validate_table(conn, _suite("raw_order_lines"), days, DAYS * PER_DAY)
    assert report.outcome.success
    assert report.selection.whole and report.selection.rows == DAYS * PER_DAY
    expected = (
        "whole table (200 rows)"
        if days is None
        else "day 2026-01-01 in full (10 rows) + all 190 other rows (whole table)"
    )
    assert report.validated == expected


def test_uniqueness_and_row_count_are_judged_on_the_whole_table(tmp_path):
    """A duplicate between a reloaded day and an older day fails even when the older row is in
    no sample; the row count is the table's, not the sample's."""
    database = _warehouse(tmp_path, duplicate_event=True)
    last = FIRST + timedelta(days=DAYS - 1)
    suite = _suite("raw_web_events")
    with duckdb.connect(database, read_only=True) as conn:
        report = validate_table(conn, suite, (last, last), 1)
        unbounded = validate_table(conn, suite, None, 1)
    for result in (report, unbounded):
        (failure,) = result.outcome.failures
        assert (failure.expectation, failure.column) == (
            "expect_column_values_to_be_unique",
            "event_id",
        )
        assert failure.observed.startswith("2 unexpected values") and "E0" in failure.details
    assert report.selection.rows == PER_DAY + 1


def test_more_reloaded_rows_than_the_full_limit_are_sampled_and_said(tmp_path):
    """A full refresh of a large shop: its days are not pulled into pandas whole."""
    database = _warehouse(tmp_path)
    last = FIRST + timedelta(days=DAYS - 1)
    with duckdb.connect(database, read_only=True) as conn:
        suite = _suite("raw_order_lines")
        frame, selection = rows_to_validate(conn, suite, (FIRST, last), 15, full_limit=50)
        assert len(frame) == 15
        assert selection.describe().startswith(
            f"days {FIRST}..{last} hold {DAYS * PER_DAY} rows, more than the 50 validated in "
            f"full at once: sample of 15 of {DAYS * PER_DAY} rows"
        )
        # Under the limit the days are still read in full.
        frame, selection = rows_to_validate(conn, suite, (last, last), 15, full_limit=50)
        assert selection.too_many_days is None and selection.day_rows == PER_DAY
