"""The model-level dbt test (dbt_project/tests/generic): column_rules guards a model's not-null,
bounded and accepted-value columns, its keys and its references with one dbt node, and a failure
names each column and rule at fault.

Self-contained: dbt tests fct_orders' three model-level tests on a tiny warehouse holding only a
hand-made marts.fct_orders and the two tables it references, marts.dim_customers and the seed
order_statuses (no pipeline run; a dbt invocation for every day and one for a day, about 8 s
each, mostly dbt's start and parse)."""

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
import yaml
from dagster_dbt.errors import DagsterDbtCliRuntimeError
from dbt_helpers import DBT

from orchestration.lib.dbt import dbt_resource
from orchestration.settings import DBT_PROJECT_DIR

FCT_ORDERS_TESTS = ["fct_orders__columns", "fct_orders__columns_not_refund"]
FCT_ORDERS_WARNING = "fct_orders__columns_warn"  # accepted channels, severity warn
# order_id, customer_id, status, channel, currency, is_refund, n_lines, n_units, gross_amount,
# discount_amount, net_amount
ORDERS = [
    ("o1", "c1", "completed", "web", "EUR", False, 1, 2, 20.0, 0.0, 20.0),
    ("o2", "c1", "completed", "web", None, False, 1, 1, 10.0, 0.0, 10.0),  # null currency
    ("o3", "c1", "cancelled", "app", None, False, 1, 1, 10.0, 0.0, 10.0),  # null currency
    ("o4", "c1", "completed", "web", "EUR", False, -1, 1, 10.0, 0.0, 10.0),  # n_lines out of range
    ("o5", "c1", "completed", "web", "EUR", False, 1, 1, -3.0, 0.0, -3.0),  # negative: out of range
    ("o6", "c1", "refund", "web", "EUR", True, 1, -1, -5.0, 0.0, -5.0),  # a refund may be negative
    (
        "o7",
        "c9",
        "completed",
        "fax",
        "EUR",
        False,
        1,
        1,
        5.0,
        0.0,
        5.0,
    ),  # unknown customer, channel
    ("o7", None, "lost", "web", "EUR", False, 1, 1, 5.0, 0.0, 5.0),  # o7 twice; unknown status
]
CUSTOMERS = ["c1", "c2"]  # marts.dim_customers
STATUSES = ["completed", "cancelled", "returned", "refund"]  # staging.order_statuses


def _tiny_warehouse(path: Path) -> None:
    with duckdb.connect(str(path)) as con:
        con.execute("create schema marts")
        con.execute("create schema staging")
        con.execute(
            "create table marts.dim_customers as select unnest(?) as customer_id", [CUSTOMERS]
        )
        con.execute("create table staging.order_statuses as select unnest(?) as status", [STATUSES])
        con.execute(
            """create table marts.fct_orders (
                order_id varchar, customer_id varchar, ordered_at timestamp, order_date date,
                status varchar, channel varchar, currency varchar, is_cancelled boolean,
                is_returned boolean, is_refund boolean, is_purchase boolean, is_revenue boolean,
                n_lines integer, n_units integer, gross_amount decimal(18, 4),
                discount_amount decimal(18, 4), net_amount decimal(18, 4))"""
        )
        for (
            order_id,
            customer,
            status,
            channel,
            currency,
            refund,
            lines,
            units,
            gross,
            discount,
            net,
        ) in ORDERS:
            con.execute(
                "insert into marts.fct_orders values (?, ?, timestamp '2025-01-01 10:00', "
                "date '2025-01-01', ?, ?, ?, ?, false, ?, ?, ?, ?, ?, ?, ?, ?)",
                [order_id, customer, status, channel, currency, status == "cancelled", refund]
                + [
                    status == "completed",
                    status != "cancelled",
                    lines,
                    units,
                    gross,
                    discount,
                    net,
                ],
            )


def _dbt_test(warehouse: Path, target: Path, env: dict[str, str]) -> dict[str, tuple[str, list]]:
    """`dbt test` of fct_orders' tests: each test's status and failing rows, sorted."""
    result = subprocess.run(
        [DBT, "test", "--select", *FCT_ORDERS_TESTS, FCT_ORDERS_WARNING]
        + ["--profiles-dir", str(DBT_PROJECT_DIR)]
        + ["--target-path", str(target), "--log-path", str(target / "logs")],
        cwd=DBT_PROJECT_DIR,
        env={**os.environ, "DUCKDB_PATH": str(warehouse), **env},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 1, result.stdout[-3000:] + result.stderr[-3000:]
    results = {
        r["unique_id"].split(".")[2]: r
        for r in json.loads((target / "run_results.json").read_text())["results"]
    }
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return {
            name: (r["status"], sorted(con.sql(r["compiled_code"]).fetchall(), key=str))
            for name, r in results.items()
        }


def test_model_level_tests_fail_naming_the_columns_at_fault(tmp_path):
    warehouse = tmp_path / "tiny.duckdb"
    _tiny_warehouse(warehouse)
    target = tmp_path / "target"
    results = _dbt_test(warehouse, target, {})
    assert {name: status for name, (status, _) in results.items()} == {
        **dict.fromkeys(FCT_ORDERS_TESTS, "fail"),
        FCT_ORDERS_WARNING: "warn",
    }
    # The failing rows: one per column and rule at fault, with its count (and the values out of
    # range or not accepted, the repeated keys and the values without a match).
    rows = {name: found for name, (_, found) in results.items()}
    assert rows["fct_orders__columns"] == [
        ("currency", "not null", 2, None, None),
        ("customer_id", "references dim_customers", 1, "c9", "c9"),  # a null one is not checked
        ("n_lines", "in range", 1, "-1", "-1"),
        ("order_id", "unique", 2, "o7", "o7"),
        ("status", "references order_statuses", 1, "lost", "lost"),
    ]
    assert rows[FCT_ORDERS_WARNING] == [("channel", "accepted values", 1, "fax", "fax")]
    # config where "not is_refund": o5's negative sale fails, o6's refund does not.
    assert rows["fct_orders__columns_not_refund"] == [
        ("gross_amount", "in range", 1, "-3.0000", "-3.0000"),
        ("net_amount", "in range", 1, "-3.0000", "-3.0000"),
    ]

    # A command for some days (Dagster's partitions) checks those days' rows (window:
    # order_date), the rows without a day, and the keys in them against the whole table.
    with duckdb.connect(str(warehouse)) as con:
        con.execute(  # the next day: a good row, a null currency, o7 a third time; no day
            """insert into marts.fct_orders
            select * replace ('o1_next' as order_id, order_date + 1 as order_date)
            from marts.fct_orders where order_id = 'o1'
            union all
            select * replace ('o8' as order_id, order_date + 1 as order_date, null as currency)
            from marts.fct_orders where order_id = 'o1'
            union all
            select * replace ('o7' as order_id, order_date + 1 as order_date)
            from marts.fct_orders where order_id = 'o1'
            union all
            select * replace ('o9' as order_id, null as order_date)
            from marts.fct_orders where order_id = 'o1'"""
        )
    next_day = {"SHOP_PARTITION_START": "2025-01-02", "SHOP_PARTITION_END": "2025-01-02"}
    results = _dbt_test(warehouse, target, next_day)
    assert results["fct_orders__columns"] == (
        "fail",
        [
            ("currency", "not null", 1, None, None),
            ("order_date", "not null", 1, None, None),
            ("order_id", "unique", 3, "o7", "o7"),  # twice on the first day, once on the next
        ],
    )
    assert results[FCT_ORDERS_WARNING] == ("pass", [])  # the first day's channel is not checked
    assert results["fct_orders__columns_not_refund"] == ("pass", [])


def test_column_rules_are_declared_per_model_not_per_column():
    """A column-level test (not_null, accepted_range, unique, relationships, accepted_values) or
    a model-level unique_combination is one more dbt node and one more Dagster check: list the
    column in its model's column_rules test."""
    elsewhere = []
    for path in sorted(
        [*(DBT_PROJECT_DIR / "models").rglob("*.yml"), *(DBT_PROJECT_DIR / "seeds").rglob("*.yml")]
    ):
        document = yaml.safe_load(path.read_text()) or {}
        tables = [t for s in document.get("sources", []) for t in s.get("tables", [])]
        for table in document.get("models", []) + document.get("seeds", []) + tables:
            for test in table.get("data_tests") or table.get("tests") or []:
                name = test if isinstance(test, str) else next(iter(test))
                if name != "column_rules":
                    elsewhere.append(f"{path.name}: {table['name']} {name}")
            for column in table.get("columns") or []:
                for test in column.get("data_tests") or column.get("tests") or []:
                    name = test if isinstance(test, str) else next(iter(test))
                    elsewhere.append(f"{path.name}: {table['name']}.{column['name']} {name}")
    assert not elsewhere, elsewhere


def test_dbt_in_the_step_process_reports_failures_stops_and_releases_the_warehouse(
    tmp_path, monkeypatch
):
    """The steps' dbt resource runs dbt in their own process (orchestration/lib/dbt.py): dbt's
    results reach dagster-dbt as a dbt process's would, a failing test or a dbt error fails the
    command with dbt's message, an interrupt stops dbt, and after every command the environment
    is as before and another process can open the warehouse for writing."""
    warehouse = tmp_path / "tiny.duckdb"
    _tiny_warehouse(warehouse)
    monkeypatch.setenv("DUCKDB_PATH", str(warehouse))
    target = tmp_path / "target"
    environment = dict(os.environ)

    def released() -> None:
        assert dict(os.environ) == environment
        subprocess.run(  # fails if dbt still holds the file's write lock
            [sys.executable, "-c", "import duckdb, sys; duckdb.connect(sys.argv[1]).close()"]
            + [str(warehouse)],
            check=True,
            timeout=60,
        )

    failing = dbt_resource.cli(
        ["test", "--select", " ".join(FCT_ORDERS_TESTS)], target_path=target, raise_on_error=False
    )
    results = [
        event.raw_event["data"]["node_info"]
        for event in failing.stream_raw_events()
        if event.raw_event["info"]["name"] == "LogTestResult"
    ]
    assert {r["node_name"]: r["node_status"] for r in results} == dict.fromkeys(
        FCT_ORDERS_TESTS, "fail"
    )
    assert failing.process.returncode == 1
    assert not failing.is_successful()
    released()

    with pytest.raises(DagsterDbtCliRuntimeError, match="no_such_macro"):
        dbt_resource.cli(["run-operation", "no_such_macro"], target_path=target).wait()
    released()

    # A full parse takes a second or more of Python; an interrupt as soon as dbt has printed its
    # first line ends it unfinished (a fixed delay would not: in a process that already ran dbt,
    # such as a worker that made the session's pipeline run, a parse can end within a second).
    parsing = dbt_resource.cli(
        ["parse", "--no-partial-parse"], target_path=tmp_path / "parse", raise_on_error=False
    )
    assert parsing.process.stdout.readline()  # dbt has started
    parsing.process.send_signal(signal.SIGINT)
    assert parsing.process.wait(timeout=60) == 2
    assert not (tmp_path / "parse" / "manifest.json").exists()
    parsing.wait()  # reads what dbt printed
    released()
