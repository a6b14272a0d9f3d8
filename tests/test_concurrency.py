"""Runs from the daily schedule, the UI, the landing sensor and `make run` share one DuckDB file,
which allows one writer. Every step that opens it claims the one slot of the Dagster pool `duckdb`,
and code outside a step that opens it (`make run`'s lock check and table summary) waits for a
turn in the same pool: they wait for each other instead of failing on DuckDB's lock.

- a step waits (without spinning) while another run holds the pool and the file;
- `make run` waits for a run's step instead of reporting it as a program holding the file;
- a turn in the pool left by a killed process is freed by the next `make run`;
- the four started together all succeed, with no lock error in any log, and leave the tables
  that the same runs leave one after another.
"""

import os
import re
import shutil
import subprocess
import sys
import time
from datetime import date, datetime
from datetime import time as day_time
from pathlib import Path
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import dagster as dg
import duckdb
import pytest
import yaml
from conftest import config_with_data_dir
from dagster import DagsterInstance
from dagster_graphql import DagsterGraphQLClient
from process_helpers import CLI, graphql, start, start_ui, stop, wait_for_ui

from landing import load_config
from orchestration.defs.partitions import LAST_DAY_TAG, month_partitions
from orchestration.defs.schedules import build_refresh
from orchestration.instance import (
    OUTSIDE_CLAIM_PREFIX,
    ensure_instance,
    recover_interrupted_runs,
)
from orchestration.lib.warehouse import LOCK_WAIT_SECONDS
from orchestration.settings import DUCKDB_POOL, REFRESH_JOB, REPO_ROOT, Settings, get_settings

# Whole pipeline runs or Dagster processes: `pytest -m "not slow"` skips them.
pytestmark = pytest.mark.slow

# DuckDB's lock errors, the platform's explanation of one (orchestration/lib/warehouse.py) and
# SQLite's (Dagster's storage): none may appear in the output or logs of any process.
LOCK_ERRORS = re.compile(
    rb"Could not set lock|Conflicting lock|is locked by|database is locked", re.IGNORECASE
)


def _cpu_seconds(pid: int) -> float:
    """User plus system CPU time a process has used so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _blocked_on_pool(instance: DagsterInstance) -> bool:
    return any(
        "blocked by limit for pool duckdb" in (record.message or "")
        for run in instance.get_runs()
        for record in instance.all_logs(run.run_id)
    )


def _claim_for_a_running_run(instance: DagsterInstance) -> str:
    """Another run in progress holding the pool's only slot: a run the instance knows as started
    (a slot of a run the instance does not know, or of a finished one, is freed as left over)."""
    from dagster._core.storage.dagster_run import DagsterRun, DagsterRunStatus

    run = instance.add_run(DagsterRun(job_name="other_job", status=DagsterRunStatus.STARTED))
    storage = instance.event_log_storage
    storage.initialize_concurrency_limit_to_default(DUCKDB_POOL)
    storage.claim_concurrency_slot(DUCKDB_POOL, run.run_id, "other-step", 0)
    return run.run_id


def test_run_waits_for_the_pool_while_another_run_writes(landing, tmp_path, monkeypatch):
    """A step that needs the warehouse while another run holds the pool's slot and DuckDB's lock
    waits for the slot, using almost no CPU, then runs."""
    monkeypatch.setenv("DAGSTER_HOME", os.environ["DAGSTER_HOME"])  # restored after the test
    home = ensure_instance(tmp_path / "dagster")  # the platform's dagster.yaml (pool limit 1)
    instance = DagsterInstance.from_config(str(home))
    warehouse = tmp_path / "warehouse.duckdb"
    env = {
        **os.environ,
        "DAGSTER_HOME": str(home),
        "SHOP_CONFIG": str(config_with_data_dir(tmp_path)),
    }

    # "Another run": holds the pool's only slot and DuckDB's write lock on the file.
    storage = instance.event_log_storage
    other_run = _claim_for_a_running_run(instance)
    holder = duckdb.connect(str(warehouse))
    try:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "dagster",
                "asset",
                "materialize",
                "-m",
                "orchestration.definitions",
                "--select",
                "raw/customers",
            ],
            cwd=REPO_ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        deadline = time.monotonic() + 120
        while not _blocked_on_pool(instance):
            assert process.poll() is None, process.communicate()[0][-3000:]
            assert time.monotonic() < deadline, "the step never waited for the pool"
            time.sleep(0.5)
        cpu_before = _cpu_seconds(process.pid)
        time.sleep(5)
        assert process.poll() is None, "the step ran while another run held the warehouse"
        waiting_cpu = _cpu_seconds(process.pid) - cpu_before
        assert waiting_cpu < 1.5, (
            f"the waiting run used {waiting_cpu:.1f} s of CPU in 5 s: it spins"
        )
    finally:
        holder.close()
        storage.free_concurrency_slot_for_step(other_run, "other-step")

    output, _ = process.communicate(timeout=120)
    assert process.returncode == 0, output[-3000:]
    assert "Could not set lock" not in output
    with duckdb.connect(str(warehouse), read_only=True) as conn:
        assert conn.execute("select count(*) from raw.customers").fetchone()[0] > 0


def test_make_run_waits_for_a_runs_step_instead_of_reporting_a_lock(landing, tmp_path, monkeypatch):
    """`make run` checks first that no program outside Dagster holds the warehouse. A step of
    another run holding it (the pool's slot and DuckDB's lock) is not such a program: `make run`
    waits for its turn in the pool, saying so, instead of stopping with "locked by ... outside
    Dagster" (what it did before its check took a turn, whenever a scheduled or UI run was in
    its dbt build), then goes on."""
    monkeypatch.setenv("DAGSTER_HOME", os.environ["DAGSTER_HOME"])  # restored after the test
    home = ensure_instance(tmp_path / "dagster")
    instance = DagsterInstance.from_config(str(home))
    storage = instance.event_log_storage
    env = {
        **os.environ,
        "DAGSTER_HOME": str(home),
        "SHOP_CONFIG": str(config_with_data_dir(tmp_path)),
    }
    other_run = _claim_for_a_running_run(instance)
    holder = duckdb.connect(str(tmp_path / "warehouse.duckdb"))  # the other run's step
    process = start([*CLI, "run"], env, tmp_path / "run.log")
    try:
        deadline = time.monotonic() + 120
        while "Waiting for the warehouse" not in (tmp_path / "run.log").read_text():
            assert process.poll() is None, (tmp_path / "run.log").read_text()[-3000:]
            assert time.monotonic() < deadline, "make run never waited for its turn"
            time.sleep(0.5)
        time.sleep(LOCK_WAIT_SECONDS + 1)  # longer than it waits for an outside program
        assert process.poll() is None, (tmp_path / "run.log").read_text()[-3000:]
        holder.close()
        storage.free_concurrency_slot_for_step(other_run, "other-step")
        while "Loading Dagster definitions" not in (tmp_path / "run.log").read_text():
            assert process.poll() is None, (tmp_path / "run.log").read_text()[-3000:]
            assert time.monotonic() < deadline, "make run did not go on after its turn came"
            time.sleep(0.5)
    finally:
        stop(process)  # past its check; the refresh itself is not this test's
        holder.close()
        storage.free_concurrency_slot_for_step(other_run, "other-step")
    assert not LOCK_ERRORS.search((tmp_path / "run.log").read_bytes())


def test_a_turn_left_by_a_dead_process_is_freed_and_a_live_one_kept(tmp_path, monkeypatch):
    """A turn in the pool taken outside a step (pool_turn) by a process that died (killed during
    `make run`'s check or summary) is freed by the next `make run`; a live one is kept."""
    monkeypatch.setenv("DAGSTER_HOME", os.environ["DAGSTER_HOME"])  # restored after the test
    home = ensure_instance(tmp_path / "dagster")
    instance = DagsterInstance.from_config(str(home))
    storage = instance.event_log_storage
    storage.initialize_concurrency_limit_to_default(DUCKDB_POOL)
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    dead, alive = (f"{OUTSIDE_CLAIM_PREFIX}{pid}-test" for pid in (gone.pid, os.getpid()))
    assert storage.claim_concurrency_slot(DUCKDB_POOL, dead, "check", 0).is_claimed
    assert not storage.claim_concurrency_slot(DUCKDB_POOL, alive, "summary", 0).is_claimed
    assert recover_interrupted_runs(instance) == [dead]
    assert storage.claim_concurrency_slot(DUCKDB_POOL, alive, "summary", 0).is_claimed
    assert recover_interrupted_runs(instance) == []
    storage.free_concurrency_slot_for_step(alive, "summary")


# --- The daily schedule, a UI launch, the landing sensor and `make run`, all at once ----------

SHOP_LOCATION = "shop_analytics"  # workspace.yaml
SHOP_REPOSITORY = "__repository__"  # the repository of a Definitions object
ASSET_JOB = "__ASSET_JOB"  # what the UI launches for assets selected in the asset graph
COMPARED_SCHEMAS = ("raw", "staging", "intermediate", "marts", "ml_inputs", "scores")
# Columns that say when the platform did something, not what the data is.
WHEN_DONE = {"_loaded_at", "loaded_at", "quarantined_at", "counted_at", "scored_at"}
# raw.file_counts describes each file's latest load, with that load's window: the window of
# whichever run loaded the file last, which depends on the order of the runs (one after another
# too). The file's own count is compared.
LATEST_LOAD = {
    ("raw", "file_counts"): {"rows_read_by_loader", "rows_in_window", "window_start", "window_end"}
}
LATE_SUFFIX = "-late"  # order ids of the orders the re-delivered file adds


DRY_RUN_RESULT = """
    __typename
    ... on DryRunInstigationTick {
        evaluationResult {
            runRequests { runKey tags { key value } assetSelection { path } }
            skipReason
            error { message }
        }
    }
    ... on PythonError { message stack }
"""


def _dry_run(url: str, kind: str, name: str, argument: str, value: object) -> dict:
    """Evaluate the served schedule or sensor once (the UI's "Test schedule"/"Test sensor"): its
    one run request, as the daemon would get it."""
    field = {"schedule": "scheduleDryRun", "sensor": "sensorDryRun"}[kind]
    selector = {"schedule": "ScheduleSelector", "sensor": "SensorSelector"}[kind]
    argument_type = {"timestamp": "Float", "cursor": "String"}[argument]
    data = graphql(
        url,
        f"mutation($selector: {selector}!, $value: {argument_type}) {{ {field}(selectorData: "
        f"$selector, {argument}: $value) {{ {DRY_RUN_RESULT} }} }}",
        {
            "selector": {
                "repositoryLocationName": SHOP_LOCATION,
                "repositoryName": SHOP_REPOSITORY,
                f"{kind}Name": name,
            },
            "value": value,
        },
    )[field]
    assert data["__typename"] == "DryRunInstigationTick", data
    result = data["evaluationResult"]
    assert result["error"] is None and len(result["runRequests"]) == 1, result
    request = result["runRequests"][0]
    selection = request["assetSelection"]
    return {
        "run_key": request["runKey"],
        "tags": {t["key"]: t["value"] for t in request["tags"]},
        "assets": [dg.AssetKey(key["path"]) for key in selection] if selection else None,
    }


def _deployment(session: Settings, folder: Path, landing: Path) -> dict[str, str]:
    """The session's config, with its data in `folder` and its sources in `landing`; returns the
    environment of the deployment's processes."""
    folder.mkdir(parents=True)
    config = yaml.safe_load(session.config_path.read_text())
    config["data_dir"] = str(folder)
    config["synthetic"]["landing_dir"] = str(landing)
    for source in config["sources"].values():
        source["path"] = str(landing / Path(source["path"]).name)
    (folder / "config.yml").write_text(yaml.safe_dump(config, sort_keys=False))
    environ = {key: value for key, value in os.environ.items() if key != "DUCKDB_PATH"}
    return {
        **environ,
        "SHOP_CONFIG": str(folder / "config.yml"),
        "DAGSTER_HOME": str(folder / "dagster"),
    }


def _start_where_the_session_ended(session: Settings, landing: Path, folders: list[Path]) -> None:
    """Each deployment folder gets the session's promoted models and its warehouse, with the
    session's landing folder replaced by `landing` wherever a table names it (raw rows' files,
    the load log, the quarantine, the file counts): the state a full refresh of `landing` left."""
    moved = folders[0] / "warehouse.duckdb"
    shutil.copy(session.duckdb_path, moved)
    old, new = str(session.landing_dir), str(landing)
    with duckdb.connect(str(moved)) as conn:
        columns = conn.execute(
            "select c.table_schema, c.table_name, c.column_name from information_schema.columns c "
            "join information_schema.tables t using (table_catalog, table_schema, table_name) "
            "where t.table_type = 'BASE TABLE' and c.data_type = 'VARCHAR'"
        ).fetchall()
        rewritten = 0
        for schema, table, column in columns:
            target, name = f'"{schema}"."{table}"', f'"{column}"'
            rewritten += conn.execute(
                f"update {target} set {name} = replace({name}, ?, ?) where contains({name}, ?)",
                [old, new, old],
            ).fetchone()[0]
    assert rewritten > 0, f"the session's warehouse never names its landing folder {old}"
    for folder in folders:
        if folder != folders[0]:
            shutil.copy(moved, folder / "warehouse.duckdb")
        shutil.copytree(session.model_dir, folder / "models")


def _deliver_late_orders(path: Path) -> tuple[date, int]:
    """Re-deliver the order-lines file with extra orders on its last day (copies of that day's
    orders under new ids), like a shop's export that caught up; returns the day and the lines
    added."""
    incoming = path.with_name(path.name + ".incoming")
    source = str(path).replace("'", "''")
    with duckdb.connect() as conn:
        conn.execute("set TimeZone = 'UTC'")
        day, added = conn.execute(
            f"with lines as (select cast(ordered_at as date) as day from read_parquet('{source}')) "
            "select max(day), count(*) filter (where day = (select max(day) from lines)) from lines"
        ).fetchone()
        conn.execute(
            f"copy (select * from read_parquet('{source}') union all "
            f"select * replace (order_id || '{LATE_SUFFIX}' as order_id) "
            f"from read_parquet('{source}') where cast(ordered_at as date) = '{day.isoformat()}') "
            f"to '{str(incoming).replace(chr(39), chr(39) * 2)}' (format parquet)"
        )
    incoming.replace(path)
    return day, added


def _finished_runs(instance: DagsterInstance, expected: int, deadline: float) -> list:
    while True:
        runs = instance.get_runs()
        if len(runs) >= expected and all(run.is_finished for run in runs):
            return runs
        assert time.monotonic() < deadline, [(run.run_id, run.status) for run in runs]
        time.sleep(2)


def _comparable_columns(conn: duckdb.DuckDBPyConnection, schema: str, table: str) -> str:
    skipped = WHEN_DONE | LATEST_LOAD.get((schema, table), set())
    columns = conn.execute(
        "select column_name, data_type from information_schema.columns where table_catalog = "
        "'warehouse' and table_schema = ? and table_name = ? order by ordinal_position",
        [schema, table],
    ).fetchall()
    # Doubles to 6 decimals: DuckDB's parallel sums may differ in the last bits between runs.
    return ", ".join(
        f'round("{column}", 6)' if dtype in ("DOUBLE", "FLOAT") else f'"{column}"'
        for column, dtype in columns
        if column not in skipped
    )


def _differences(ours: Path, reference: Path) -> dict[str, int]:
    """Rows of each table that are in one warehouse and not the other (compared as multisets)."""
    with duckdb.connect(str(ours), read_only=True) as conn:
        conn.execute(f"attach '{reference}' as reference (read_only)")
        tables = {
            catalog: set(
                conn.execute(
                    "select table_schema, table_name from information_schema.tables where "
                    f"table_catalog = ? and table_type = 'BASE TABLE' and table_schema in "
                    f"{COMPARED_SCHEMAS}",
                    [catalog],
                ).fetchall()
            )
            for catalog in ("warehouse", "reference")
        }
        assert tables["warehouse"] == tables["reference"], tables
        differing = {}
        for schema, table in sorted(tables["warehouse"]):
            columns = _comparable_columns(conn, schema, table)
            mine = f'select {columns} from warehouse."{schema}"."{table}"'
            theirs = f'select {columns} from reference."{schema}"."{table}"'
            count = conn.execute(
                f"select count(*) from (({mine} except all {theirs}) union all "
                f"({theirs} except all {mine}))"
            ).fetchone()[0]
            if count:
                differing[f"{schema}.{table}"] = count
        return differing


def test_schedule_ui_sensor_and_make_run_together_match_one_after_another(
    pipeline_run, landing, tmp_path, monkeypatch
):
    """The daily schedule's run, a UI launch, the landing sensor's run and `make run`, started
    together on one deployment of the test shop, all succeed; no output or log of any process
    (webserver, daemon, code server, run workers, dbt, `make run`, the instance's event logs and
    captured step output) holds a lock error; and the tables are those the same runs leave one
    after another.

    Start: where the session's full refresh of the test shop ended (its warehouse, with the
    landing paths moved to this test's copy of the files, and its promoted models), as a
    deployment that has been running. Then the order-lines file is re-delivered with extra
    orders on the data's last day, and `make ui` (`dagster dev`: webserver, daemon and code
    server) is started. Through its GraphQL API, like the daemon and the UI's buttons:
    - the schedule `daily_refresh`, evaluated by the code server for the tick of that day (the
      UI's "Test schedule"), and its run request launched with the daemon's tags: it reloads
      that day and the day before;
    - a UI launch from the asset graph: raw/order_lines for the month of that day;
    - the sensor `landing_files`, evaluated from the cursor it recorded before the delivery, and
      its request launched: every day of the changed file.
    They go through the instance's run queue and launcher (the daemon holds a queued run while
    the pool is busy). `make run` (every day) starts at the same moment. (`make run` started
    while a run's step holds the file is test_make_run_waits_for_a_runs_step_instead_of_...)

    Reference, instead of the four one after another: `make run` alone, from a copy of the same
    start, on the same files, in a folder of its own, started while the UI loads. Why it is the
    same: every run reloads its days from the same files, so a day's rows are the same whoever
    loads them last; every full run then rebuilds every table downstream after its own loads, so
    the last write of each table comes after a load of the new orders; the models are recent
    (models.retrain_every_days), so no run trains and all score with the same promoted version;
    the UI's run rebuilds nothing. The four in a row, in any order, end like `make run` alone.

    Compared, row by row as multisets: every table of raw (with the quarantine, the load log and
    the file counts), staging, intermediate, marts, ml_inputs and scores, model versions
    included (no training, so no version or training time can differ). Not compared: when the
    platform did something (load, quarantine, count and scoring times), and the window of the
    latest load in raw.file_counts (it names whichever run loaded the file last). Doubles to 6
    decimals: DuckDB's parallel sums may differ in the last bits."""
    assert pipeline_run.success
    monkeypatch.setenv("DAGSTER_HOME", os.environ["DAGSTER_HOME"])  # restored after the test
    session = get_settings()
    deadline = time.monotonic() + 1800  # a hung run fails the test, it does not hang the suite
    landing_copy = tmp_path / "landing"
    shutil.copytree(session.landing_dir, landing_copy)  # modification times kept
    env = _deployment(session, tmp_path / "together", landing_copy)
    reference_env = _deployment(session, tmp_path / "reference", landing_copy)
    config_path = Path(env["SHOP_CONFIG"])
    settings = Settings(config_path, load_config(config_path))

    # The sensor's first tick records the files as they are; then one is re-delivered.
    _, _, landing_sensor = build_refresh(settings, month_partitions(settings.config))
    before = landing_sensor(dg.build_sensor_context()).cursor
    assert before is not None
    last_day, added = _deliver_late_orders(landing_copy / "order_lines.parquet")
    assert added > 0

    home = ensure_instance(Path(env["DAGSTER_HOME"]))
    instance = DagsterInstance.from_config(str(home))
    logs = tmp_path / "logs"
    logs.mkdir()
    processes = {}
    processes["ui"], url = start_ui(env, logs / "ui.log")
    try:  # while `make ui` loads the code location
        _start_where_the_session_ended(
            session, landing_copy, [tmp_path / "together", tmp_path / "reference"]
        )
        # The reference needs nothing from the UI: it runs while the UI loads, not beside the four.
        processes["reference"] = start([*CLI, "run"], reference_env, logs / "reference.log")
        wait_for_ui(url, processes["ui"], logs / "ui.log", timeout=deadline - time.monotonic())

        tick = datetime.combine(last_day, day_time(5), ZoneInfo(settings.refresh_timezone))
        scheduled = _dry_run(url, "schedule", "daily_refresh", "timestamp", tick.timestamp())
        sensed = _dry_run(url, "sensor", "landing_files", "cursor", before)
        assert scheduled["tags"][LAST_DAY_TAG] == sensed["tags"][LAST_DAY_TAG] == str(last_day)
        client = DagsterGraphQLClient("127.0.0.1", port_number=urlsplit(url).port)

        def launch(job: str, tags: dict[str, str], assets: list | None = None) -> str:
            return client.submit_job_execution(
                job,
                repository_location_name=SHOP_LOCATION,
                repository_name=SHOP_REPOSITORY,
                tags=tags,
                asset_selection=assets,
            )

        # No model is due: the schedule and the sensor ask for the refresh without training.
        assert scheduled["assets"] and sensed["assets"] == scheduled["assets"]
        run_ids = [
            launch(
                REFRESH_JOB,
                {**scheduled["tags"], "dagster/schedule_name": "daily_refresh"},
                scheduled["assets"],
            ),
            launch(
                ASSET_JOB,
                {"dagster/partition": last_day.replace(day=1).isoformat()},
                [dg.AssetKey(["raw", "order_lines"])],
            ),
            launch(
                REFRESH_JOB,
                {
                    **sensed["tags"],
                    "dagster/sensor_name": "landing_files",
                    "dagster/run_key": sensed["run_key"],
                },
                sensed["assets"],
            ),
        ]
        processes["make run"] = start([*CLI, "run"], env, logs / "make_run.log")

        made = processes["make run"].wait(timeout=max(1, deadline - time.monotonic()))
        output = (logs / "make_run.log").read_text()
        assert made == 0, output[-4000:]
        assert "Models due for retraining (models.retrain_every_days: 7): none" in output
        runs = _finished_runs(instance, len(run_ids) + 1, deadline)
        failed = {run.run_id: run.status for run in runs if not run.is_success}
        assert not failed, failed
        # ... so none of them trained or rebuilt what only training reads.
        built = {
            record.asset_key.to_user_string()
            for run in runs
            for record in instance.get_records_for_run(
                run.run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION
            ).records
        }
        assert "scores/churn_scores" in built
        training = {"models/churn", "marts/customer_feature_snapshots", "ml_inputs/model_readiness"}
        assert not built & training, built & training
        reference_code = processes["reference"].wait(timeout=max(1, deadline - time.monotonic()))
        assert reference_code == 0, (logs / "reference.log").read_text()[-4000:]
    finally:
        for process in processes.values():
            stop(process)

    searched = [*logs.iterdir(), settings.dbt_target_dir / "dbt.log", *home.rglob("*")]
    searched += [
        Path(line.removeprefix("Full log: "))
        for line in output.splitlines()
        if line.startswith("Full log: ")
    ]
    locked = [path for path in searched if path.is_file() and LOCK_ERRORS.search(path.read_bytes())]
    assert not locked, f"lock errors in {locked}"

    assert _differences(settings.duckdb_path, tmp_path / "reference" / "warehouse.duckdb") == {}
    with duckdb.connect(str(settings.duckdb_path), read_only=True) as conn:
        late = conn.execute(
            f"select count(*) from raw.order_lines where order_id like '%{LATE_SUFFIX}'"
        ).fetchone()[0]
    assert late == added
