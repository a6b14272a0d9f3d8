"""The persistent Dagster instance kept in the repository's ignored state folder."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from dagster import DagsterInstance

from orchestration.settings import DUCKDB_POOL, get_settings

INSTANCE_YAML = f"""# Written by orchestration/instance.py; edit there.
# One slot per pool: every step that opens the DuckDB file claims the "{DUCKDB_POOL}" pool, so runs
# from the CLI, the UI and the schedule wait for each other instead of failing on the file lock.
concurrency:
  pools:
    default_limit: 1
telemetry:
  enabled: false
nux:
  enabled: false
# The daemon (make ui) fails runs whose worker died and frees their pool slots.
run_monitoring:
  enabled: true
"""


PLANNED_EVENTS_AS_SUBSET = "DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS"


def ensure_instance(home: Path | None = None) -> Path:
    """Create DAGSTER_HOME (default: the deployment's) with the platform's dagster.yaml and point
    the environment at it."""
    home = home or get_settings().dagster_home
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    if not config.exists() or config.read_text() != INSTANCE_YAML:
        config.write_text(INSTANCE_YAML)
    os.environ["DAGSTER_HOME"] = str(home)
    # A run for a range of partitions records one "planned" event per asset (with the range), not
    # one per partition: a full refresh otherwise writes hundreds of events before its first step.
    # Dagster's documented trade-off: partitions of a failed run are not each marked failed.
    os.environ[PLANNED_EVENTS_AS_SUBSET] = "true"
    return home


PID_TAG = "shop_analytics/pid"  # set on runs executed in a `make run` process


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def recover_interrupted_runs(instance: DagsterInstance, pool: str = DUCKDB_POOL) -> list[str]:
    """Fail `make run` runs whose process is gone (killed, machine restarted) and free any pool
    slot still claimed by a run that is no longer in progress, so the next run does not wait
    forever. Returns the ids of the runs it cleaned up."""
    from dagster import DagsterRunStatus, RunsFilter

    recovered = []
    in_progress = [DagsterRunStatus.STARTED, DagsterRunStatus.STARTING, DagsterRunStatus.CANCELING]
    for run in instance.get_runs(filters=RunsFilter(statuses=in_progress)):
        pid = run.tags.get(PID_TAG)
        if pid is not None and not _alive(int(pid)):
            instance.report_run_failed(
                run, f"The make run process ({pid}) ended without finishing the run."
            )
            recovered.append(run.run_id)
    storage = instance.event_log_storage
    if storage.supports_global_concurrency_limits and pool in storage.get_concurrency_keys():
        for slot in storage.get_concurrency_info(pool).claimed_slots:
            run = instance.get_run_by_id(slot.run_id)
            if run is None or run.is_finished:
                storage.free_concurrency_slots_for_run(slot.run_id)
                recovered.append(slot.run_id)
    return sorted(set(recovered))
