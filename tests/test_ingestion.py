"""Ingestion never loses a row: each landing row is loaded or quarantined with file, row and reason."""

import json
from datetime import datetime, timedelta

import duckdb
import pandas as pd
import pytest

from orchestration.lib.ingest import MissingColumnError, load_table, reconcile

GOOD = {
    "order_id": "O1",
    "customer_id": "C1",
    "ordered_at": datetime(2026, 1, 5, 10),
    "status": "completed",
}


def _write(path, rows):
    pd.DataFrame(rows).to_parquet(path)
    return str(path)


@pytest.fixture
def conn():
    with duckdb.connect() as connection:
        yield connection


def test_every_row_is_loaded_or_quarantined_with_its_reason(conn, tmp_path):
    rows = [
        GOOD,
        {**GOOD, "order_id": "O2", "customer_id": " "},
        {**GOOD, "order_id": None},
        {**GOOD, "order_id": "O3", "ordered_at": datetime.now() + timedelta(days=30)},
        {**GOOD, "order_id": "O4", "status": "shipped"},
        GOOD,  # exact duplicate
        {**GOOD, "status": "cancelled"},  # same order id, other values
        {**GOOD, "order_id": "O5"},
    ]
    path = _write(tmp_path / "orders.parquet", rows)
    report = load_table(conn, "orders", [path])
    assert (report.rows_read, report.rows_loaded, report.rows_quarantined) == (8, 2, 6)
    assert conn.execute("select list(order_id order by order_id) from raw.orders").fetchone()[
        0
    ] == ["O1", "O5"]
    quarantined = conn.execute(
        "select row_number, reason, record from raw.quarantine order by row_number"
    ).fetchall()
    reasons = {row: reason for row, reason, _ in quarantined}
    assert reasons[2] == "missing customer_id"
    assert reasons[3] == "missing order_id"
    assert reasons[4].startswith("ordered_at in the future")
    assert reasons[5] == "unknown status 'shipped' (expected one of completed, cancelled, returned)"
    assert reasons[6] == "exact duplicate of an earlier row"
    assert reasons[7] == "duplicate order_id with different values"
    assert json.loads(quarantined[3][2])["status"] == "shipped"  # the rejected record is kept
    assert reconcile(conn, "orders") == []


def test_file_delivered_twice_is_quarantined_as_duplicates(conn, tmp_path):
    first = _write(tmp_path / "orders_a.parquet", [GOOD, {**GOOD, "order_id": "O2"}])
    again = _write(tmp_path / "orders_b.parquet", [GOOD, {**GOOD, "order_id": "O2"}])
    report = load_table(conn, "orders", [first, again])
    assert (report.rows_loaded, report.rows_quarantined) == (2, 2)
    files = conn.execute("select distinct source_file from raw.quarantine").fetchall()
    assert files == [(again,)]


def test_missing_column_names_file_and_column_and_loads_nothing(conn, tmp_path):
    load_table(conn, "orders", [_write(tmp_path / "good.parquet", [GOOD])])
    bad = _write(tmp_path / "bad.parquet", [{k: v for k, v in GOOD.items() if k != "status"}])
    with pytest.raises(MissingColumnError, match=r"bad\.parquet: missing column\(s\) status"):
        load_table(conn, "orders", [bad])
    assert (
        conn.execute("select count(*) from raw.orders").fetchone()[0] == 1
    )  # previous load intact


def test_reconciliation_reports_rows_that_went_missing(conn, tmp_path):
    load_table(
        conn, "orders", [_write(tmp_path / "orders.parquet", [GOOD, {**GOOD, "order_id": "O2"}])]
    )
    conn.execute("delete from raw.orders where order_id = 'O2'")
    (problem,) = reconcile(conn, "orders")
    assert "read 2, loaded 2 (1 in orders)" in problem


def test_pipeline_quarantined_nothing_from_the_clean_synthetic_shop(warehouse):
    assert warehouse.execute("select count(*) from raw.quarantine").fetchone()[0] == 0
    logged = warehouse.execute(
        "select sum(rows_read), sum(rows_loaded) from raw.load_log"
    ).fetchone()
    assert logged[0] == logged[1] > 0
