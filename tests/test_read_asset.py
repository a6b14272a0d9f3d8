"""Frames the models read from the warehouse (read_asset): fetched a chunk at a time, yet the
same frame, dtypes included, as one fetch of the whole ordered table."""

import dagster as dg
import duckdb
import pandas as pd
import pytest

from orchestration.lib import warehouse


@pytest.mark.parametrize("rows", [0, 1, 2_048 * 3 + 5])
def test_read_asset_in_chunks_is_the_frame_of_one_fetch(monkeypatch, rows):
    """Columns whose NULLs fall in one chunk only (an integer, a boolean), text, timestamps and
    dates, in a table of several chunks, of one row and empty."""
    monkeypatch.setattr(warehouse, "READ_CHUNK_VECTORS", 1)  # 2,048 rows a chunk
    with duckdb.connect() as conn:
        conn.execute("create schema marts")
        conn.execute(
            f"""create table marts.t as
            select range as n,
                   case when range > 5000 then null else range end as late_null_int,
                   case when range < 10 then null else range % 2 = 0 end as early_null_bool,
                   'c' || (range % 997) as customer_id,
                   timestamp '2026-01-01' + to_seconds(range) as at,
                   date '2026-01-01' + cast(range % 300 as integer) as day,
                   range / 7 as ratio
            from range({rows})"""
        )
        frame = warehouse.read_asset(conn, dg.AssetKey(["marts", "t"]))
        whole = conn.execute("select * from marts.t order by all").df()
    assert len(frame) == rows
    pd.testing.assert_frame_equal(frame, whole, check_exact=True)
