"""Command line behind `make run` and `make ui`.

python -m orchestration.cli run    # generate the synthetic shop if missing, refresh everything, print a summary
python -m orchestration.cli ui     # Dagster webserver + daemon for the same instance and warehouse
python -m orchestration.cli report # materialize only the marketing report from the current warehouse
python -m orchestration.cli erase --customer ID  # erase one customer everywhere (job erase_customer)
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import threading
import time
import uuid
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from landing import ConfigError
from orchestration.instance import PID_TAG, ensure_instance, recover_interrupted_runs
from orchestration.lib.warehouse import WarehouseLockedError, connect
from orchestration.settings import REFRESH_JOB, REPO_ROOT, RETRAIN_TAG, Settings, get_settings

if TYPE_CHECKING:  # Dagster is imported when a command needs it, not on import
    from dagster import DagsterInstance, ExecuteInProcessResult, JobDefinition


def ensure_landing_data(settings: Settings, customers: int | None = None) -> bool:
    """Generate the synthetic shop if the config asks for it and its files are missing; False
    (with the reason printed) when a configured source has no file."""
    config = settings.config
    missing = [table for table in config.sources if not config.source_files(table)]
    if not missing:
        print(f"Landing data: {', '.join(config.sources)} found (config {settings.config_path})")
        return True
    if config.synthetic is None:
        for table in missing:
            print(
                f"sources.{table}.path in {settings.config_path}: no file matches "
                f"{config.resolve(config.sources[table].path)}",
                file=sys.stderr,
            )
        return False
    from simulator import ShopConfig, generate

    synthetic = config.synthetic
    shop = ShopConfig(
        customers=customers or synthetic.customers, products=synthetic.products, seed=synthetic.seed
    )
    print(
        f"Landing data missing in {settings.landing_dir}: generating the synthetic shop "
        f"({shop.customers:,} customers)"
    )
    started = time.perf_counter()
    generate(shop, settings.landing_dir, settings.truth_dir, progress=True)
    print(f"Generated in {time.perf_counter() - started:.1f} s")
    return True


class _Progress(threading.Thread):
    """Prints a line as each step of the run finishes, read from the instance's event log."""

    def __init__(self, instance, run_id: str, total: int, out: TextIO) -> None:  # noqa: ANN001
        super().__init__(daemon=True)
        self.instance, self.run_id, self.total, self.out = instance, run_id, total, out
        self.stop = threading.Event()
        self.started = time.perf_counter()

    def run(self) -> None:
        from dagster import DagsterEventType

        kinds = {
            DagsterEventType.STEP_SUCCESS,
            DagsterEventType.STEP_FAILURE,
            DagsterEventType.STEP_SKIPPED,
        }
        cursor, done = None, 0
        while True:
            stopping = self.stop.is_set()  # read before the last poll: nothing is missed
            # Only the step events after the last poll (reading every event of the run twice a
            # second cost the run itself about a tenth of a core).
            connection = self.instance.get_records_for_run(self.run_id, cursor, kinds)
            cursor = connection.cursor
            for record in connection.records:
                event = record.event_log_entry.dagster_event
                done += 1
                status = {
                    "STEP_SUCCESS": "ok",
                    "STEP_FAILURE": "FAILED",
                    "STEP_SKIPPED": "skipped",
                }[event.event_type_value]
                elapsed = time.perf_counter() - self.started
                print(
                    f"  [{done:>2}/{self.total}] {event.step_key:<55} {status:<7} {elapsed:6.1f} s",
                    file=self.out,
                    flush=True,
                )
            if stopping:
                return
            self.stop.wait(0.5)


def _new_run(instance: DagsterInstance, settings: Settings, kind: str) -> tuple[str, Path]:
    """Clean up the runs a killed process left behind; a new run id and its log file."""
    for recovered in recover_interrupted_runs(instance):
        print(f"Cleaned up interrupted run {recovered}: marked failed, its warehouse slot freed")
    run_id = str(uuid.uuid4())
    log_path = settings.state_dir / "logs" / f"{kind}-{run_id}.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    return run_id, log_path


def _execute(
    job: JobDefinition,
    instance: DagsterInstance,
    run_id: str,
    log_path: Path,
    tags: dict[str, str],
    run_config: dict | None = None,
) -> ExecuteInProcessResult:
    """Run `job` in this process. dbt and the libraries print a lot: it goes to the log file;
    the terminal keeps the progress lines."""
    with (
        open(log_path, "w") as log,
        contextlib.redirect_stdout(log),
        contextlib.redirect_stderr(log),
    ):
        return job.execute_in_process(
            instance=instance,
            run_id=run_id,
            run_config=run_config,
            raise_on_error=False,
            tags={PID_TAG: str(os.getpid()), **tags},
        )


def run(customers: int | None = None, days: str | None = None, retrain: bool = False) -> int:
    """Materialize every asset through Dagster against the persistent instance, then summarize.
    `days` ("2026-10-31" or "2026-10-01..2026-10-31") reloads only those days; `retrain` trains
    every model even if its promoted version is recent (models.retrain_every_days)."""
    wall = time.perf_counter()
    settings = get_settings()
    ensure_instance(settings.dagster_home)
    settings.duckdb_path.parent.mkdir(parents=True, exist_ok=True)
    try:
        connect(settings.duckdb_path).close()
    except WarehouseLockedError as error:
        print(f"Cannot refresh: {error}", file=sys.stderr)
        return 2
    if not ensure_landing_data(settings, customers):
        return 2

    print("Loading Dagster definitions ...", flush=True)
    from dagster import DagsterInstance

    from orchestration.definitions import defs
    from orchestration.defs.models import models_due, refresh_selection
    from orchestration.defs.partitions import FIRST_DAY_TAG, LAST_DAY_TAG, all_days_tags, days_tags
    from orchestration.summary import print_summary

    definitions = defs()
    job = definitions.resolve_job_def(REFRESH_JOB)
    if days:
        first, _, last = days.partition("..")
        partitions = days_tags(
            settings.config, date.fromisoformat(first), date.fromisoformat(last or first)
        )
    else:
        partitions = all_days_tags(settings.config)
    tags = {"launched_by": "make run", **partitions, **({RETRAIN_TAG: "true"} if retrain else {})}
    due = models_due(settings, tags)
    selection = refresh_selection(definitions.resolve_asset_graph(), due)
    if selection is not None:
        job = job.get_subset(asset_selection=set(selection))
        print(
            f"Models due for retraining (models.retrain_every_days: "
            f"{settings.config.models.retrain_every_days}): {', '.join(due) or 'none'}; the "
            "others keep their promoted versions, and the tables only their training reads are "
            "not rebuilt",
            flush=True,
        )
    instance = DagsterInstance.get()
    run_id, log_path = _new_run(instance, settings, "run")
    steps = len(job.graph.nodes)  # one step per asset op and per separately defined check
    print(
        f"Refreshing days {partitions[FIRST_DAY_TAG]}..{partitions[LAST_DAY_TAG]} and every "
        f"asset downstream: run {run_id} in the instance at {settings.dagster_home}",
        flush=True,
    )
    print(f"Full log: {log_path}", flush=True)
    progress = _Progress(instance, run_id, steps, sys.stdout)
    progress.start()
    result = _execute(job, instance, run_id, log_path, tags)
    progress.stop.set()
    progress.join()
    print_summary(instance, run_id, time.perf_counter() - wall)
    return 0 if result.success else 1


def report() -> int:
    """Materialize only the marketing report asset (scores/marketing_report) from the current
    warehouse, through Dagster on the persistent instance, and print the file's path."""
    settings = get_settings()
    ensure_instance(settings.dagster_home)
    if not settings.duckdb_path.exists():
        print(f"No warehouse at {settings.duckdb_path}: run `make run` first", file=sys.stderr)
        return 2
    try:
        connect(settings.duckdb_path, read_only=True).close()
    except WarehouseLockedError as error:
        print(f"Cannot read the warehouse: {error}", file=sys.stderr)
        return 2
    print("Loading Dagster definitions ...", flush=True)
    import dagster as dg
    from dagster import DagsterInstance

    from orchestration.definitions import defs
    from orchestration.summary import step_errors

    key = dg.AssetKey(["scores", "marketing_report"])
    instance = DagsterInstance.get()
    run_id, log_path = _new_run(instance, settings, "report")
    job = defs().resolve_implicit_global_asset_job_def().get_subset(asset_selection={key})
    result = _execute(job, instance, run_id, log_path, {"launched_by": "make report"})
    if not result.success:
        reason = "\n".join(step_errors(instance, run_id).values())
        print(f"The report failed (run {run_id}, log {log_path}): {reason}", file=sys.stderr)
        return 1
    metadata = result.asset_materializations_for_node("scores__marketing_report")[0].metadata
    empty = metadata["sections_empty"].value or {}
    for section, why in empty.items():
        print(f"  {section}: {why}")
    print(f"Marketing report: {settings.marketing_report}")
    return 0


def erase(customer_id: str) -> int:
    """Erase one customer everywhere through the Dagster job `erase_customer` (the UI's way too)
    on the persistent instance; print what was removed per table and file.

    An id found nowhere is still put on the erasure list (a later delivery of it is not loaded),
    and the command says so and exits 1: a mistyped id must not pass for an erasure."""
    customer_id = customer_id.strip()
    if not customer_id:
        print("make erase: CUSTOMER is empty; expected a customer id", file=sys.stderr)
        return 2
    settings = get_settings()
    ensure_instance(settings.dagster_home)
    if not settings.duckdb_path.exists():
        print(f"No warehouse at {settings.duckdb_path}: nothing to erase from", file=sys.stderr)
        return 2
    try:
        connect(settings.duckdb_path).close()
    except WarehouseLockedError as error:
        print(f"Cannot erase: {error}", file=sys.stderr)
        return 2
    print("Loading Dagster definitions ...", flush=True)
    from dagster import DagsterInstance

    from orchestration.definitions import defs
    from orchestration.defs.erasure import ERASE_JOB, ERASE_STEP
    from orchestration.summary import step_errors

    job = defs().resolve_job_def(ERASE_JOB)
    instance = DagsterInstance.get()
    run_id, log_path = _new_run(instance, settings, "erase")
    print(f"Erasing customer {customer_id!r}: run {run_id}, full log {log_path}", flush=True)
    progress = _Progress(instance, run_id, len(job.graph.nodes), sys.stdout)
    progress.start()
    result = _execute(
        job,
        instance,
        run_id,
        log_path,
        {"launched_by": "make erase"},
        run_config={"ops": {ERASE_STEP: {"config": {"customer_id": customer_id}}}},
    )
    progress.stop.set()
    progress.join()
    erased = result.output_for_node(ERASE_STEP) if result.is_node_success(ERASE_STEP) else None
    if erased is not None:
        print(
            f"Erasure list: {'added' if erased.newly_recorded else 'already held'} hash "
            f"{erased.customer_hash}"
        )
        print("\n".join(erased.lines()) or "  nothing held the id")
    if not result.success:
        reason = "\n".join(step_errors(instance, run_id).values())
        print(
            f"The erasure of {customer_id!r} did not finish (run {run_id}, log {log_path}): "
            f"{reason}",
            file=sys.stderr,
        )
        return 1
    if not erased.found:
        print(
            f"Customer id {customer_id!r} is unknown: no row of raw.customers, the order lines, "
            "web events, reviews, campaign sends, the quarantine or any other table holds it. "
            "Check the id; it was put on the erasure list anyway, so a later delivery of "
            f"{customer_id!r} is not loaded.",
            file=sys.stderr,
        )
        return 1
    print(
        f"Customer {customer_id!r} erased: no trace left in the warehouse, exports, reports "
        "or model files"
    )
    return 0


def ui(host: str, port: int) -> None:
    """Replace this process with `dagster dev` (webserver and daemon) for the same instance."""
    settings = get_settings()
    ensure_instance(settings.dagster_home)
    print(
        f"Dagster UI: http://{host}:{port}  (instance {settings.dagster_home}, "
        f"warehouse {settings.duckdb_path})",
        flush=True,
    )
    bin_dir = os.path.dirname(sys.executable)
    dagster = os.path.join(bin_dir, "dagster")
    # `dagster dev` re-parses the dbt project on start and on "Reload definitions" (DbtProject
    # .prepare_if_dev), which runs `dbt` from PATH: put this virtualenv's dbt first.
    os.environ["PATH"] = bin_dir + os.pathsep + os.environ.get("PATH", "")
    os.chdir(REPO_ROOT)
    os.execv(dagster, [dagster, "dev", "-w", "workspace.yaml", "-h", host, "-p", str(port)])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m orchestration.cli",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True)
    run_parser = commands.add_parser("run", help="refresh every asset and print a summary")
    run_parser.add_argument(
        "--customers",
        type=int,
        default=None,
        help="size of the synthetic shop generated when landing data is missing",
    )
    run_parser.add_argument(
        "--retrain",
        action="store_true",
        help="retrain every model now, even if its promoted version is recent",
    )
    run_parser.add_argument(
        "--days",
        default=None,
        help="reload only these days: YYYY-MM-DD or YYYY-MM-DD..YYYY-MM-DD (default: every day)",
    )
    ui_parser = commands.add_parser("ui", help="start the Dagster webserver and daemon")
    ui_parser.add_argument("--host", default="127.0.0.1")
    ui_parser.add_argument("--port", type=int, default=3000)
    commands.add_parser(
        "report", help="render the marketing report from the current warehouse, print its path"
    )
    erase_parser = commands.add_parser(
        "erase", help="erase one customer everywhere; their id goes on the erasure list"
    )
    erase_parser.add_argument("--customer", required=True, help="the customer id to erase")
    args = parser.parse_args(argv)
    try:  # a bad config is a clear message naming the file and the key, not a stack trace
        get_settings()
    except ConfigError as error:
        print(error, file=sys.stderr)
        return 2
    handlers: dict[str, Callable[[], int | None]] = {
        "run": lambda: run(args.customers, args.days, args.retrain),
        "ui": lambda: ui(args.host, args.port),
        "report": report,
        "erase": lambda: erase(args.customer),
    }
    return handlers[args.command]() or 0


if __name__ == "__main__":
    sys.exit(main())
