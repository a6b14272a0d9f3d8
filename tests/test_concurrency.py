"""A step that needs the warehouse while another run holds it waits on the `duckdb` pool instead
of failing on DuckDB's file lock: the case of a scheduled run, a UI launch and `make run`
overlapping."""

import os
import subprocess
import sys
import time
from pathlib import Path

import duckdb
from conftest import config_with_data_dir
from dagster import DagsterInstance

from orchestration.instance import ensure_instance
from orchestration.settings import DUCKDB_POOL, REPO_ROOT


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


def test_run_waits_for_the_pool_while_another_run_writes(landing, tmp_path, monkeypatch):
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
    storage.initialize_concurrency_limit_to_default(DUCKDB_POOL)
    storage.claim_concurrency_slot(DUCKDB_POOL, "other-run", "other-step", 0)
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
        storage.free_concurrency_slot_for_step("other-run", "other-step")

    output, _ = process.communicate(timeout=120)
    assert process.returncode == 0, output[-3000:]
    assert "Could not set lock" not in output
    with duckdb.connect(str(warehouse), read_only=True) as conn:
        assert conn.execute("select count(*) from raw.customers").fetchone()[0] > 0
