"""Great Expectations suites as Dagster checks: failures name the expectation and block downstream."""

import json

import dagster as dg
import pandas as pd
import pytest

from orchestration.defs.quality import build_suite_check
from orchestration.lib.expectations import discover_suites, validate
from orchestration.lib.warehouse import WarehouseResource
from orchestration.settings import EXPECTATIONS_DIR


def _suite(name: str):
    return next(s for s in discover_suites(EXPECTATIONS_DIR) if s.name == name)


def test_every_suite_file_is_valid_and_targets_a_table():
    suites = discover_suites(EXPECTATIONS_DIR)
    assert {"raw_order_lines", "raw_web_events", "customer_features"} <= {s.name for s in suites}
    for suite in suites:
        assert suite.columns, suite.name
        assert "." in suite.table


def test_failure_names_expectation_column_and_observed_values():
    frame = pd.DataFrame(
        {
            "customer_id": ["C1", "C2", "C3"],
            "ordered_at": pd.to_datetime(["2026-01-01", None, "2026-01-01"]),
            "status": ["completed", "shipped", "completed"],
            "quantity": [1, 2, 3],
            "unit_price": [1.0, 2.0, 3.0],
            "discount": [0.0, 0.0, 0.0],
            "currency": ["EUR"] * 3,
        }
    )
    outcome = validate(frame, _suite("raw_order_lines"))
    assert not outcome.success
    failed = {(f.expectation, f.column) for f in outcome.failures}
    assert failed == {
        ("expect_column_values_to_not_be_null", "ordered_at"),
        ("expect_column_values_to_be_in_set", "status"),
    }
    status = next(f for f in outcome.failures if f.column == "status")
    assert "1 unexpected" in status.observed and "shipped" in status.details


def test_misspelled_expectation_fails_instead_of_being_dropped(tmp_path):
    definition = json.loads((EXPECTATIONS_DIR / "raw_order_lines.json").read_text())
    definition["expectations"].append(
        {"type": "expect_column_values_to_be_purple", "kwargs": {"column": "x"}}
    )
    (tmp_path / "broken.json").write_text(json.dumps(definition))
    (suite,) = discover_suites(tmp_path)
    with pytest.raises(ValueError, match="expect_column_values_to_be_purple"):
        validate(pd.DataFrame({"order_id": ["O1"]}), suite)


def test_failing_raw_suite_blocks_downstream_assets(tmp_path):
    @dg.asset(key=["raw", "order_lines"])
    def bad_orders(duckdb: WarehouseResource) -> None:
        with duckdb.get_connection() as conn:
            conn.execute("create schema raw")
            conn.execute(
                "create table raw.order_lines as select 'C1' as customer_id, "
                "now() as ordered_at, 'shipped' as status, 1 as quantity, 1.0 as unit_price, "
                "0.0 as discount, 'EUR' as currency"
            )

    downstream_ran = []

    @dg.asset(deps=[bad_orders])
    def downstream() -> None:
        downstream_ran.append(True)

    result = dg.materialize(
        [bad_orders, downstream, build_suite_check(_suite("raw_order_lines"))],
        resources={"duckdb": WarehouseResource(database=str(tmp_path / "w.duckdb"))},
        raise_on_error=False,
    )
    (evaluation,) = result.get_asset_check_evaluations()
    assert not evaluation.passed
    assert (
        "expect_column_values_to_be_in_set on status" in evaluation.metadata["first_failure"].value
    )
    assert not downstream_ran
