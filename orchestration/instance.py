"""The persistent Dagster instance kept in the repository's ignored state folder."""

from __future__ import annotations

import atexit
import contextlib
import os
import re
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import yaml

if TYPE_CHECKING:
    from dagster import DagsterInstance

from orchestration.settings import DUCKDB_POOL, POOL_POLL_SECONDS, get_settings

INSTANCE_HEADER = "# Written by orchestration/instance.py; edit there."
# Runs from the CLI, the UI and the schedule share one DuckDB file: one step at a time on it.
REQUIRED_POOL_LIMIT = 1
INSTANCE_YAML = f"""{INSTANCE_HEADER}
# One slot per pool: every step that opens the DuckDB file claims the "{DUCKDB_POOL}" pool, so runs
# from the CLI, the UI and the schedule wait for each other instead of failing on the file lock.
concurrency:
  pools:
    default_limit: {REQUIRED_POOL_LIMIT}
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
    _write_instance_yaml(home / "dagster.yaml")
    os.environ["DAGSTER_HOME"] = str(home)
    # A run for a range of partitions records one "planned" event per asset (with the range), not
    # one per partition: a full refresh otherwise writes hundreds of events before its first step.
    # Dagster's documented trade-off: partitions of a failed run are not each marked failed.
    os.environ[PLANNED_EVENTS_AS_SUBSET] = "true"
    return home


# What a dagster.yaml the user wrote gets from the platform when it lacks them: the pool limit
# (REQUIRED_POOL_LIMIT), and the platform's defaults, added only when the user's file does not
# mention them at all.
DEFAULT_SECTIONS = ("telemetry", "nux", "run_monitoring")
MERGED_HEADER = "# Your dagster.yaml, completed by orchestration/instance.py"
DOCUMENT_MARKER = re.compile(r"^(---|\.\.\.)", re.MULTILINE)  # appending after these is unsafe


def _write_instance_yaml(path: Path) -> None:
    """The platform's dagster.yaml: written when missing, updated when the platform wrote it (its
    first line is INSTANCE_HEADER); a file the user wrote is kept and only completed (see
    _merge_user_yaml), never replaced."""
    if not path.exists():
        _replace_text(path, INSTANCE_YAML)
        return
    text = path.read_text()
    if text == INSTANCE_YAML:
        return
    if text.startswith(INSTANCE_HEADER):
        _replace_text(path, INSTANCE_YAML)
        return
    _merge_user_yaml(path, text)


def _replace_text(path: Path, text: str) -> None:
    """Write the file whole or not at all: `make run`, `make ui` and the tests' workers may start
    together, and one must never read another's half-written dagster.yaml (it would be taken for
    a file the user wrote)."""
    staging = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    staging.write_text(text)
    os.replace(staging, path)


def _merge_user_yaml(path: Path, text: str) -> None:
    """Add to a user's dagster.yaml only what the platform needs and the user did not set. The
    user's keys are all kept (a different pool limit too, with a warning); the original is copied
    to dagster.yaml.bak once before the first change."""
    try:
        settings = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise ValueError(
            f"{path}: not valid YAML, so the platform cannot add its pool limit "
            f"(concurrency.pools.default_limit: {REQUIRED_POOL_LIMIT}): {error}"
        ) from None
    settings = {} if settings is None else settings
    if not isinstance(settings, dict):
        raise ValueError(
            f"{path}: expected a mapping of Dagster instance settings (storage, concurrency, "
            f"...), got {type(settings).__name__}"
        )
    original = dict(settings)
    platform = yaml.safe_load(INSTANCE_YAML)
    added = [key for key in DEFAULT_SECTIONS if key not in settings]
    concurrency = settings.get("concurrency")
    if concurrency is None:
        concurrency = {}
    pools = concurrency.get("pools") if isinstance(concurrency, dict) else None
    pools = {} if pools is None else pools
    limit_key = "concurrency.pools.default_limit"
    if not isinstance(concurrency, dict) or not isinstance(pools, dict):
        print(
            f"warning: {path}: {limit_key} cannot be added ('concurrency' or its 'pools' is not a "
            f"mapping); runs may fail on the DuckDB file lock without a limit of "
            f"{REQUIRED_POOL_LIMIT}",
            file=sys.stderr,
        )
    elif "default_limit" not in pools:
        pools = {**pools, "default_limit": REQUIRED_POOL_LIMIT}
        settings["concurrency"] = {**concurrency, "pools": pools}
        added.insert(0, f"{limit_key}: {REQUIRED_POOL_LIMIT}")
    elif pools["default_limit"] != REQUIRED_POOL_LIMIT:
        print(
            f"warning: {path}: keeping your {limit_key}: {pools['default_limit']}; the platform "
            f"expects {REQUIRED_POOL_LIMIT} (one step at a time on the DuckDB file), so steps may "
            "fail on its lock",
            file=sys.stderr,
        )
    if not added:
        return
    for key in DEFAULT_SECTIONS:
        settings.setdefault(key, platform[key])
    backup = path.with_name(path.name + ".bak")
    if not backup.exists():
        backup.write_text(text)
    header = (
        f"{MERGED_HEADER} (added: {', '.join(added)});\n"
        f"# the file as you wrote it is in {backup.name}.\n"
    )
    if text.startswith(MERGED_HEADER):  # completed before: one header, the latest
        text = text.split("\n", 2)[2] if text.count("\n") >= 2 else ""
    changed = any(settings[key] != original[key] for key in original)
    if not changed and not DOCUMENT_MARKER.search(text):
        # Only whole sections are new: append them, so the user's text (comments too) stays.
        appended = {key: settings[key] for key in settings if key not in original}
        body = text.rstrip("\n") + "\n" + yaml.safe_dump(appended, sort_keys=False)
    else:  # a section the user has is completed: rewritten from the parsed settings
        body = yaml.safe_dump(settings, sort_keys=False)
    _replace_text(path, header + body)
    print(
        f"{path}: kept your Dagster instance settings and added {', '.join(added)} "
        f"(original in {backup.name})",
        file=sys.stderr,
    )


PID_TAG = "shop_analytics/pid"  # set on runs executed in a `make run` process


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


# A turn in the pool taken by a process outside any Dagster step (pool_turn) is held under a run id
# of this form, with the process id, so recover_interrupted_runs can tell a live one from a leftover.
OUTSIDE_CLAIM_PREFIX = "outside-dagster-"


def _outside_claim_pid(run_id: str) -> int | None:
    """The process id in a pool_turn claim's run id, else None (a Dagster run)."""
    if not run_id.startswith(OUTSIDE_CLAIM_PREFIX):
        return None
    pid = run_id.removeprefix(OUTSIDE_CLAIM_PREFIX).split("-", 1)[0]
    return int(pid) if pid.isdigit() else None


@contextlib.contextmanager
def pool_turn(holder: str, pool: str = DUCKDB_POOL) -> Iterator[bool]:
    """Wait for a slot of `pool` in the instance at DAGSTER_HOME and hold it for the block, like a
    Dagster step of that pool: for code outside any step that opens the warehouse (the CLI's lock
    check before a run, `make run`'s table summary), so it and the runs' steps take turns instead
    of meeting DuckDB's lock. `holder` names it in the instance's pool view. Yields True when a
    slot is held; False (no wait) without DAGSTER_HOME or when the pool has no limit."""
    from dagster import DagsterInstance

    if not os.environ.get("DAGSTER_HOME"):
        yield False
        return
    with DagsterInstance.get() as instance:
        storage = instance.event_log_storage
        if not storage.supports_global_concurrency_limits:
            yield False
            return
        if pool not in storage.get_concurrency_keys():
            storage.initialize_concurrency_limit_to_default(pool)  # as a step's first claim does
        if not storage.get_concurrency_info(pool).slot_count:
            yield False
            return
        # A slot left by a killed run or process would be waited for forever: free it first.
        for recovered in recover_interrupted_runs(instance, pool):
            print(
                f"Cleaned up interrupted run {recovered}: marked failed, its warehouse slot freed"
            )
        run_id = f"{OUTSIDE_CLAIM_PREFIX}{os.getpid()}-{uuid.uuid4().hex[:12]}"

        def free() -> None:
            storage.free_concurrency_slot_for_step(run_id, holder)

        atexit.register(free)  # an exception or exit while waiting or holding frees it too
        try:
            waited = False
            while not storage.claim_concurrency_slot(pool, run_id, holder).is_claimed:
                if not waited:
                    print(
                        f"Waiting for the warehouse: a run's step is using it (pool '{pool}')",
                        file=sys.stderr,
                        flush=True,
                    )
                    waited = True
                time.sleep(POOL_POLL_SECONDS)
            yield True
        finally:
            free()
            atexit.unregister(free)


def recover_interrupted_runs(instance: DagsterInstance, pool: str = DUCKDB_POOL) -> list[str]:
    """Fail `make run` runs whose process is gone (killed, machine restarted) and free any pool
    slot still claimed or awaited by a run that is no longer in progress, or by a pool_turn whose
    process is gone, so the next run does not wait forever. Returns the ids it cleaned up."""
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
        info = storage.get_concurrency_info(pool)
        for run_id in {slot.run_id for slot in [*info.claimed_slots, *info.pending_steps]}:
            outside_pid = _outside_claim_pid(run_id)
            if outside_pid is not None:
                gone = not _alive(outside_pid)
            else:
                run = instance.get_run_by_id(run_id)
                gone = run is None or run.is_finished
            if gone:
                storage.free_concurrency_slots_for_run(run_id)
                recovered.append(run_id)
    return sorted(set(recovered))
