"""The instance's SQLite event log with orchestration/lib/dagster_patches.py's engine per file:
events are written and read back as before, through one engine per database file, and a wiped
storage starts its files again."""

import dagster as dg
from dagster import DagsterInstance

from orchestration.instance import ensure_instance
from orchestration.lib import dagster_patches


def _materialize(instance: DagsterInstance, times: int) -> None:
    for index in range(times):
        instance.report_runless_asset_event(
            dg.AssetMaterialization("orders", metadata={"index": index})
        )


def test_sqlite_event_log_keeps_one_engine_per_file_and_starts_again_after_a_wipe(
    tmp_path, monkeypatch
):
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))  # ensure_instance points it elsewhere
    dagster_patches.apply()
    instance = DagsterInstance.from_config(str(ensure_instance(tmp_path / "dagster")))
    storage = instance.event_log_storage

    _materialize(instance, 20)
    events = instance.fetch_materializations(dg.AssetKey("orders"), limit=100).records
    assert sorted(e.asset_materialization.metadata["index"].value for e in events) == list(
        range(20)
    )
    # Each event went to the run's file and the index: two files, two engines, not forty.
    assert len(storage._shop_engines) == 2

    storage.wipe()
    _materialize(instance, 3)
    assert len(instance.fetch_materializations(dg.AssetKey("orders"), limit=100).records) == 3
