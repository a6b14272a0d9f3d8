"""Faults: a run killed mid-write, and a warehouse held open by a program outside Dagster."""

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import duckdb
import pytest
from conftest import config_with_data_dir

from landing import load_config
from orchestration.lib.warehouse import WarehouseResource
from orchestration.settings import REPO_ROOT, Settings, get_settings

# Tables compared between an interrupted-then-rerun refresh and an uninterrupted one (the
# tables only training reads are not built: no model is due). Scoring times differ by design;
# doubles are compared to 6 decimals because DuckDB's parallel sums of doubles may differ in the
# last bits from one run to the next.
COMPARED = (
    "marts.customer_features",
    "scores.customer_segments",
    "scores.churn_scores",
    "scores.recommendations",
    "scores.customer_value",
    "scores.customer_360",
    "scores.segment_profiles",
)
NOT_COMPARED = {"model_version", "scored_at"}


def _comparable(conn: duckdb.DuckDBPyConnection, table: str) -> str:
    schema, name = table.split(".")
    columns = conn.execute(
        "select column_name, data_type from information_schema.columns "
        "where table_catalog = 'warehouse' and table_schema = ? and table_name = ? order by ordinal_position",
        [schema, name],
    ).fetchall()
    return ", ".join(
        f'round("{column}", 6)' if dtype == "DOUBLE" else f'"{column}"'
        for column, dtype in columns
        if column not in NOT_COMPARED
    )


def _env(tmp_path, landing) -> dict[str, str]:
    return {
        **os.environ,
        "SHOP_CONFIG": str(config_with_data_dir(tmp_path)),
        "DAGSTER_HOME": str(tmp_path / "dagster"),
    }


def _refresh(env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "orchestration.cli", "run"],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )


@pytest.mark.slow
def test_sigkill_mid_write_leaves_a_readable_warehouse_and_rerun_matches(
    pipeline_run, landing, tmp_path
):
    env = _env(tmp_path, landing)
    # The session's promoted models, as a deployment that has been running has them: neither run
    # trains (training after a failure is test_model_registry's), so the rerun's scores come from
    # the same versions as the reference's.
    config = Path(env["SHOP_CONFIG"])
    shutil.copytree(get_settings().model_dir, Settings(config, load_config(config)).model_dir)
    process = _refresh(env)
    for line in process.stdout:  # wait until the dbt build (the longest write) has started
        if "great_expectations_raw_web_events" in line:
            break
    time.sleep(3)
    assert process.poll() is None, "the run finished before it could be killed"
    os.killpg(process.pid, signal.SIGKILL)  # the run, dbt running in it, mid-write
    process.wait()

    with duckdb.connect(str(tmp_path / "warehouse.duckdb"), read_only=True) as conn:
        assert conn.execute("select count(*) from raw.order_lines").fetchone()[0] > 0

    rerun = _refresh(env)
    try:
        output, _ = rerun.communicate(timeout=600)
    finally:
        if rerun.poll() is None:  # never leave a run behind, spinning or waiting
            os.killpg(rerun.pid, signal.SIGKILL)
    assert rerun.returncode == 0, output[-3000:]

    with duckdb.connect(str(tmp_path / "warehouse.duckdb"), read_only=True) as conn:
        conn.execute(f"attach '{get_settings().duckdb_path}' as reference (read_only)")
        for table in COMPARED:
            columns = _comparable(conn, table)
            ours = f"select {columns} from warehouse.{table}"
            theirs = f"select {columns} from reference.{table}"
            differing = conn.execute(
                f"select count(*) from (({ours} except all {theirs}) union all ({theirs} except all {ours}))"
            ).fetchone()[0]
            assert differing == 0, f"{table}: {differing} rows differ from an uninterrupted run"


@pytest.fixture
def outside_holder(tmp_path):
    """A process outside Dagster (like a notebook) holding the warehouse open for writing."""
    path = tmp_path / "warehouse.duckdb"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); print('ready', flush=True); time.sleep(600)",
            str(path),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout.readline().strip() == "ready"
    yield path, holder.pid
    holder.kill()
    holder.wait()


def test_locked_warehouse_names_the_holder_in_make_run(outside_holder, landing, tmp_path):
    path, pid = outside_holder
    result = subprocess.run(
        [sys.executable, "-m", "orchestration.cli", "run"],
        cwd=REPO_ROOT,
        env=_env(tmp_path, landing),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2
    assert f"locked by process {pid}" in result.stderr and "Close that connection" in result.stderr
    assert "Traceback" not in result.stdout + result.stderr


def test_locked_warehouse_fails_a_step_with_the_holder_named(outside_holder):
    path, pid = outside_holder
    with (
        pytest.raises(dg.Failure, match=f"locked by process {pid}"),
        WarehouseResource(database=str(path)).get_connection(),
    ):
        pass


def test_warehouse_connections_draw_no_progress_bar(tmp_path):
    """DuckDB draws a progress bar on the terminal for queries over 2 s, beneath Python's
    stdout, through `make run`'s progress lines: the platform's connections turn it off."""
    with WarehouseResource(database=str(tmp_path / "warehouse.duckdb")).get_connection() as conn:
        assert conn.execute("select current_setting('enable_progress_bar')").fetchone() == (False,)
        cursor = conn.cursor()  # what threads and helpers use
        assert cursor.execute("select current_setting('enable_progress_bar')").fetchone() == (
            False,
        )
