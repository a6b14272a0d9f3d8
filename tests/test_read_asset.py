"""Frames the models read from the warehouse (read_asset): fetched a chunk at a time, yet the
same frame, dtypes included, as one fetch of the whole table; and the tables the models read are
stored sorted, so the frame of a table is always the same (read_asset does not sort)."""

import dagster as dg
import duckdb
import pandas as pd
import pytest

from orchestration.lib import warehouse as warehouse_lib


@pytest.mark.parametrize("rows", [0, 1, 2_048 * 3 + 5])
def test_read_asset_in_chunks_is_the_frame_of_one_fetch(monkeypatch, rows):
    """Columns whose NULLs fall in one chunk only (an integer, a boolean), text, timestamps and
    dates, in a table of several chunks, of one row and empty."""
    monkeypatch.setattr(warehouse_lib, "READ_CHUNK_VECTORS", 1)  # 2,048 rows a chunk
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
        frame = warehouse_lib.read_asset(conn, dg.AssetKey(["marts", "t"]))
        whole = conn.execute("select * from marts.t").df()
    assert len(frame) == rows
    pd.testing.assert_frame_equal(frame, whole, check_exact=True)


def test_every_table_a_model_reads_is_stored_sorted(warehouse):
    """Each dbt model a model step reads (train and score inputs, the readiness counts) ends with
    `order by` its key: on the session's warehouse its frame is the whole table sorted by every
    column, row for row. A model without it (a parallel aggregate stores its rows in whatever
    order the threads finished) fails here."""
    from orchestration.defs.models import _dbt_key, model_entries
    from orchestration.settings import get_settings

    inputs = {"model_readiness"}
    for entry in model_entries(get_settings().config):
        inputs |= {*entry.model.train_inputs, *entry.model.score_inputs}
    assert "customer_product_interactions" in inputs
    for name in sorted(inputs):
        schema, table = _dbt_key(name).path
        frame = warehouse_lib.read_asset(warehouse, dg.AssetKey([schema, table]))
        assert len(frame) > 1 or name == "model_readiness", name
        ordered = warehouse.execute(f'select * from "{schema}"."{table}" order by all').df()
        pd.testing.assert_frame_equal(frame, ordered, check_exact=True, obj=name)
