"""Test session set-up: a private warehouse, landing folder and Dagster instance in a temp dir,
removed at the end when no test failed (kept, its path printed, to look into a failure).

The environment is set before anything imports orchestration.settings, so every asset, dbt and
the checks use the temporary warehouse. The whole graph is materialized once per session on a
small generated shop; the tests then read what it produced, and the generator's hidden truth.

`make test` runs the suite on every core (pytest-xdist, one worker process per core, a test
module at a time on one worker): the workers share the session's folder, and the first to need
the shop or the pipeline run makes it while the others wait for it (`_once`), so both happen
once per session whatever the number of workers. The modules with whole pipeline runs are handed
out first, longest first (`LONGEST_FIRST`), so the longest do not start last.
"""

import os
import shutil
import tempfile
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from filelock import FileLock

# Modules that run whole pipelines or Dagster processes, the longest first (README, "Tests").
LONGEST_FIRST = (
    "test_concurrency.py",
    "test_gallery.py",
    "test_byod.py",
    "test_faults.py",
    "test_erasure.py",
    "test_ui.py",
)


# The `pytest` command's run id, which names the session's folder. The command's own process
# chooses it (a worker inherits it and is given the same one by xdist, pytest_configure), so the
# command knows the folder its workers share, and removes it when no test failed.
os.environ.setdefault("PYTEST_XDIST_TESTRUNUID", uuid.uuid4().hex)


def _session_dir() -> Path:
    """The session's folder: one per `pytest` command, shared by its xdist workers."""
    run = os.environ["PYTEST_XDIST_TESTRUNUID"]
    folder = Path(tempfile.gettempdir()) / f"shop-analytics-tests-{run}"
    folder.mkdir(exist_ok=True)
    return folder


_SESSION_DIR = _session_dir()
TEST_SHOP_CUSTOMERS = 4000
TEST_SHOP_PRODUCTS = 300
# The shipped synthetic config with the session's folders and a smaller shop.
_config = yaml.safe_load((Path(__file__).parent.parent / "configs" / "synthetic.yml").read_text())
_config["data_dir"] = str(_SESSION_DIR)
_config["synthetic"].update(
    customers=TEST_SHOP_CUSTOMERS,
    products=TEST_SHOP_PRODUCTS,
    seed=7,
    landing_dir=str(_SESSION_DIR / "landing"),
    truth_dir=str(_SESSION_DIR / "truth"),
)
for _table, _source in _config["sources"].items():
    _source["path"] = str(_SESSION_DIR / "landing" / f"{_table}.parquet")
SESSION_CONFIG = _SESSION_DIR / "config.yml"
_staging = SESSION_CONFIG.with_name(f"config.{os.getpid()}.tmp")  # every worker writes the same
_staging.write_text(yaml.safe_dump(_config, sort_keys=False))
os.replace(_staging, SESSION_CONFIG)
os.environ["SHOP_CONFIG"] = str(SESSION_CONFIG)
os.environ["DAGSTER_HOME"] = str(_SESSION_DIR / "dagster")
for _variable in ("DUCKDB_PATH", "LANDING_DIR", "TRUTH_DIR"):
    os.environ.pop(_variable, None)


def _once(name: str, make: Callable[[], str]) -> str:
    """What `make` returned, made by the first worker of the session to get here; the others
    wait for it. A `make` that raised is tried again by the next worker to get here."""
    made = _SESSION_DIR / f"{name}.made"
    with FileLock(_SESSION_DIR / f"{name}.lock"):
        if not made.exists():
            made.write_text(make())
    return made.read_text()


def _is_worker(config: pytest.Config) -> bool:
    return hasattr(config, "workerinput")


def pytest_configure(config: pytest.Config) -> None:
    """The `pytest` command hands its run id to xdist, which gives it to every worker."""
    if not _is_worker(config) and hasattr(config.option, "testrunuid"):
        config.option.testrunuid = os.environ["PYTEST_XDIST_TESTRUNUID"]


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """The `pytest` command (after its workers) removes the session's folder (about 65 MB) when
    no test failed, and keeps it to look into otherwise."""
    if _is_worker(session.config):
        return
    if exitstatus in (pytest.ExitCode.OK, pytest.ExitCode.NO_TESTS_COLLECTED):
        shutil.rmtree(_SESSION_DIR, ignore_errors=True)


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    if not _is_worker(config) and _SESSION_DIR.exists():
        terminalreporter.write_line(f"Kept the test session's folder: {_SESSION_DIR}")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The modules of LONGEST_FIRST first, in that order; the others after them, as collected."""
    rank = {name: index for index, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))


@pytest.fixture(scope="session")
def landing():
    """A small generated shop in the session's landing folder (truth beside it)."""
    from orchestration.settings import get_settings
    from simulator import ShopConfig, generate

    settings = get_settings()

    def make() -> str:
        generate(
            ShopConfig(customers=TEST_SHOP_CUSTOMERS, products=TEST_SHOP_PRODUCTS, seed=7),
            settings.landing_dir,
            settings.truth_dir,
            progress=False,
        )
        return str(settings.landing_dir)

    return Path(_once("landing", make))


@pytest.fixture(scope="session")
def pipeline_run(landing):
    """Every asset materialized through Dagster on the small shop, once per session: the run's
    result as `execute_in_process` gives it, read back from the session's instance (the same in
    the worker that ran it and in the others)."""
    from dagster import DagsterInstance, ExecuteInProcessResult

    from orchestration.definitions import defs
    from orchestration.defs.partitions import all_days_tags
    from orchestration.instance import ensure_instance
    from orchestration.settings import REFRESH_JOB, get_settings

    ensure_instance()
    instance = DagsterInstance.get()
    job = defs().resolve_job_def(REFRESH_JOB)

    def make() -> str:
        tags = all_days_tags(get_settings().config)
        return job.execute_in_process(instance=instance, raise_on_error=False, tags=tags).run_id

    run_id = _once("pipeline_run", make)
    events = [entry.dagster_event for entry in instance.all_logs(run_id) if entry.is_dagster_event]
    return ExecuteInProcessResult(events, instance.get_run_by_id(run_id), None, job)


@pytest.fixture(scope="session")
def warehouse(pipeline_run):
    import duckdb

    from orchestration.settings import get_settings

    conn = duckdb.connect(str(get_settings().duckdb_path), read_only=True)
    yield conn
    conn.close()


@pytest.fixture(scope="session")
def truth(pipeline_run):
    import pandas as pd

    from orchestration.settings import get_settings

    return pd.read_parquet(get_settings().truth_dir / "customers_truth.parquet")


def config_with_data_dir(data_dir: Path) -> Path:
    """The session's config (same landing files) with its own warehouse folder, for tests that
    run the platform in a subprocess; returns the new config file's path."""
    config = yaml.safe_load(SESSION_CONFIG.read_text())
    config["data_dir"] = str(data_dir)
    path = Path(data_dir) / "config.yml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path
