"""Backtests must not leak: features built as of a cutoff on the full history must equal the
features built by the same dbt models on a warehouse where nothing after the cutoff exists."""

import shutil

import duckdb
import numpy as np
import pandas as pd
import pytest
from dbt_helpers import dbt_run

from orchestration.settings import get_settings


@pytest.fixture(scope="module")
def truncated_world(warehouse, tmp_path_factory):
    """A copy of the session warehouse where every row after the oldest labelled cutoff is gone,
    with features rebuilt as of that cutoff; returns (cutoff, the copy)."""
    cutoff = warehouse.execute("select min(as_of_date) from marts.churn_labels").fetchone()[0]
    folder = tmp_path_factory.mktemp("as_of")
    copy = folder / "warehouse.duckdb"
    shutil.copy(get_settings().duckdb_path, copy)
    after = f"timestamp '{cutoff}' + interval 1 day"
    with duckdb.connect(str(copy)) as conn:
        deleted = sum(
            conn.execute(f"delete from raw.{table} where {column} >= {after}").fetchone()[0]
            for table, column in (
                ("order_lines", "ordered_at"),
                ("web_events", "event_at"),
                ("customers", "signup_at"),
                ("reviews", "reviewed_at"),
            )
        )
    assert deleted > 10_000  # the test means something only if much of the future is gone
    dbt_run(
        copy,
        folder / "target",
        ["--select", "+customer_feature_snapshots", "+churn_labels", "--full-refresh"],
        as_of_date=str(cutoff),
    )
    return cutoff, copy


def test_features_as_of_a_cutoff_see_nothing_after_it(warehouse, truncated_world):
    cutoff, copy = truncated_world
    query = (
        "select * exclude (snapshot_index) from marts.customer_feature_snapshots "
        "where as_of_date = ? order by customer_id"
    )
    full = warehouse.execute(query, [cutoff]).df()
    with duckdb.connect(str(copy), read_only=True) as conn:
        truncated = conn.execute(query, [cutoff]).df()
        latest = conn.execute("select max(as_of_date) from marts.customer_feature_snapshots")
        assert latest.fetchone()[0] == cutoff  # the as_of_date var set the latest snapshot
    assert len(full) > 1000
    assert list(full["customer_id"]) == list(truncated["customer_id"])
    for column in full.columns:
        if pd.api.types.is_numeric_dtype(full[column]):
            np.testing.assert_allclose(
                full[column].to_numpy(float),
                truncated[column].to_numpy(float),
                rtol=1e-9,
                equal_nan=True,
                err_msg=column,
            )
        else:
            assert full[column].equals(truncated[column]), column


def test_labels_for_a_cutoff_come_only_from_the_horizon_after_it(warehouse):
    """Every labelled order lies in (as_of_date, as_of_date + horizon]: recount from fct_orders."""
    mismatches = warehouse.execute(
        """
        select count(*) from marts.churn_labels l
        where l.orders_in_horizon != (
            select count(*) from marts.fct_orders o
            where o.customer_id = l.customer_id and o.is_purchase
              and o.order_date > l.as_of_date and o.order_date <= l.horizon_end_date
        )
        """
    ).fetchone()[0]
    assert mismatches == 0
