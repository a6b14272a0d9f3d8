"""The instance's SQLite event log with orchestration/lib/dagster_patches.py's engine and open
connection per file: events are written and read back as before, through one engine per
database file, another process writes to the same files meanwhile, and a wiped storage starts
its files again."""

import subprocess
import sys

import dagster as dg
from dagster import DagsterInstance
from dagster._core.execution.plan.instance_concurrency_context import _calculate_timeout_interval

from orchestration.instance import ensure_instance
from orchestration.lib import dagster_patches
from orchestration.settings import POOL_POLL_SECONDS

ANOTHER_PROCESS = """
import sys
import dagster as dg
from dagster import DagsterInstance
from orchestration.lib import dagster_patches
dagster_patches.apply()
instance = DagsterInstance.from_config(sys.argv[1])
for index in range(100, 105):
    instance.report_runless_asset_event(dg.AssetMaterialization("orders", metadata={"index": index}))
"""


def _materialize(instance: DagsterInstance, indexes: range) -> None:
    for index in indexes:
        instance.report_runless_asset_event(
            dg.AssetMaterialization("orders", metadata={"index": index})
        )


def _indexes(instance: DagsterInstance) -> list[int]:
    records = instance.fetch_materializations(dg.AssetKey("orders"), limit=1000).records
    return sorted(r.asset_materialization.metadata["index"].value for r in records)


def test_sqlite_event_log_keeps_one_engine_per_file_shares_files_and_starts_again_after_a_wipe(
    tmp_path, monkeypatch
):
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))  # ensure_instance points it elsewhere
    dagster_patches.apply()
    home = ensure_instance(tmp_path / "dagster")
    instance = DagsterInstance.from_config(str(home))
    storage = instance.event_log_storage

    _materialize(instance, range(20))
    assert _indexes(instance) == list(range(20))
    # Each event went to the run's file and the index: two files, two engines, not forty.
    assert len(storage._shop_engines) == 2

    # Our connections stay open between transactions: another process writes to the same files,
    # and we read its events and write after them.
    subprocess.run([sys.executable, "-c", ANOTHER_PROCESS, str(home)], check=True, timeout=120)
    _materialize(instance, range(20, 25))
    assert _indexes(instance) == [*range(25), *range(100, 105)]

    storage.wipe()
    _materialize(instance, range(3))
    assert _indexes(instance) == [0, 1, 2]


def test_a_step_waiting_for_the_pool_asks_again_every_poll_not_after_a_growing_backoff():
    """Dagster's interval between a blocked step's tries grows to 15 s; with the fix it stays at
    POOL_POLL_SECONDS however long the step has waited (each try's interval, as Dagster's
    InstanceConcurrencyContext computes it after a failed claim)."""
    dagster_patches.apply()
    intervals = [_calculate_timeout_interval(None, tries) for tries in (0, 5, 20, 31, 100)]
    assert intervals == [POOL_POLL_SECONDS] * 5
