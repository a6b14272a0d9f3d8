"""A dbt command for some days (Dagster's partitions; macro partition_window) rebuilds exactly
those days of each incremental model and leaves the other days as they were. The window is a
half-open range on the model's day or on the raw table's own timestamp (events of the day before,
up to 23:59, and of the day after must not get in): on a copy of the session's warehouse, the last
day's rows are removed and replaced by a stray one, a row of the day before is removed, and one
command for the last day must bring back exactly the last day's rows and nothing else."""

import shutil

import duckdb
import pytest
from dbt_helpers import dbt_run

from orchestration.settings import get_settings

# Each incremental model and its day column.
INCREMENTAL = {
    "intermediate.int_customer_daily_activity": "activity_date",
    "marts.fct_orders": "order_date",
    "marts.fct_order_items": "order_date",
}


def _rows(conn: duckdb.DuckDBPyConnection, table: str, where: str) -> list[tuple]:
    return sorted(conn.execute(f"select * from {table} where {where}").fetchall(), key=repr)


def _count_before(conn: duckdb.DuckDBPyConnection, table: str, day: str, first: object) -> int:
    """Rows of `table` whose `day` is before `first`."""
    return conn.execute(f"select count(*) from {table} where {day} < ?", [first]).fetchone()[0]


@pytest.mark.slow
def test_a_command_for_a_day_rebuilds_that_day_and_no_other(pipeline_run, tmp_path):
    assert pipeline_run.success
    warehouse = tmp_path / "warehouse.duckdb"
    shutil.copy2(get_settings().duckdb_path, warehouse)
    before, days = {}, {}
    with duckdb.connect(str(warehouse)) as conn:
        for table, day in INCREMENTAL.items():
            last = conn.execute(f"select max({day}) from {table}").fetchone()[0]
            previous = conn.execute(
                f"select max({day}) from {table} where {day} < ?", [last]
            ).fetchone()[0]
            days[table] = (last, previous)
            before[table] = {
                "last": _rows(conn, table, f"{day} = date '{last}'"),
                "previous": _rows(conn, table, f"{day} = date '{previous}'"),
                "others": _count_before(conn, table, day, previous),
            }
            assert before[table]["last"] and len(before[table]["previous"]) > 1, table
            # The last day: its rows gone, a stray row in their place (a copy of one of them).
            conn.execute(
                f"create temp table stray as select * from {table} where {day} = ? limit 1", [last]
            )
            conn.execute(f"delete from {table} where {day} = ?", [last])
            conn.execute(f"insert into {table} select * from stray")
            conn.execute(f"insert into {table} select * from stray")
            conn.execute("drop table stray")
            # The day before: one row gone, which the command must not bring back.
            conn.execute(
                f"delete from {table} where rowid = (select min(rowid) from {table} where {day} = ?)",
                [previous],
            )
    (last,) = {last for last, _ in days.values()}  # every model ends on the data's last day
    dbt_run(
        warehouse,
        tmp_path / "target",
        ["--select", *(table.split(".")[1] for table in INCREMENTAL)],
        partition_start=str(last),
        partition_end=str(last),
    )
    with duckdb.connect(str(warehouse), read_only=True) as conn:
        for table, day in INCREMENTAL.items():
            last, previous = days[table]
            assert _rows(conn, table, f"{day} = date '{last}'") == before[table]["last"], table
            after = _rows(conn, table, f"{day} = date '{previous}'")
            assert len(after) == len(before[table]["previous"]) - 1, table
            assert set(after) <= set(before[table]["previous"]), table
            assert _count_before(conn, table, day, previous) == before[table]["others"], table
            later = conn.execute(f"select count(*) from {table} where {day} > ?", [last])
            assert later.fetchone()[0] == 0, table
