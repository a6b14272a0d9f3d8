"""dbt in Dagster: the project, the translator that keys models by warehouse schema and table,
and the dbt CLI resource, which runs dbt in the step's own process. The assets built from them are
in orchestration/defs/transform.py."""

import contextlib
import ctypes
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator, Mapping, Sequence
from functools import cached_property
from importlib.metadata import version
from pathlib import Path
from typing import Any

import dagster as dg
import dagster_dbt.core.resource
from dagster_dbt import (
    DagsterDbtTranslator,
    DagsterDbtTranslatorSettings,
    DbtCliInvocation,
    DbtCliResource,
    DbtProject,
)
from dagster_dbt.dbt_project import DagsterDbtProjectPreparer
from packaging.version import Version

from orchestration.settings import DBT_PROJECT_DIR

# Folders of the project's top level that dbt writes (its target, logs and installed packages),
# and Python's caches at any depth: not written by whoever edits the project.
DBT_OUTPUT_DIRS = ("target", "logs", "dbt_packages")
PYTHON_CACHE_DIR = "__pycache__"


def manifest_is_current(project: DbtProject) -> bool:
    """The manifest exists and no file or folder of the dbt project (its output folders aside)
    changed after it was written: a folder's time covers a file added, removed or renamed."""
    manifest = project.manifest_path
    if not manifest.exists():
        return False
    written = manifest.stat().st_mtime
    root = Path(project.project_dir)
    skipped = {root / name for name in DBT_OUTPUT_DIRS}
    stack = [root]
    while stack:
        for entry in os.scandir(stack.pop()):
            path = Path(entry.path)
            if entry.is_dir() and (path in skipped or entry.name == PYTHON_CACHE_DIR):
                continue
            if entry.stat().st_mtime > written:
                return False
            if entry.is_dir():
                stack.append(path)
    return True


class ParseWhenChanged(DagsterDbtProjectPreparer):
    """Under `dagster dev`, dagster-dbt parses the project in every process that loads the
    definitions: the code server on start and on "Reload definitions", and every run worker it
    starts, about 6 s each. This parses only when the project changed since the manifest was
    written, as `make setup` does."""

    def prepare(self, project: DbtProject) -> None:
        if not manifest_is_current(project):
            super().prepare(project)


dbt_project = DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR)
# Only acts under `dagster dev`; `make` runs `dbt parse` at set-up and when the project changed.
ParseWhenChanged().prepare_if_dev(dbt_project)


class ShopDbtTranslator(DagsterDbtTranslator):
    """Models are keyed `<schema>/<model>` and grouped by schema, so the UI mirrors the warehouse."""

    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> dg.AssetKey:
        if dbt_resource_props["resource_type"] == "model":
            return dg.AssetKey([dbt_resource_props["schema"], dbt_resource_props["name"]])
        return super().get_asset_key(dbt_resource_props)

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        if dbt_resource_props["resource_type"] == "model":
            return dbt_resource_props["schema"]
        return super().get_group_name(dbt_resource_props)


translator = ShopDbtTranslator(
    settings=DagsterDbtTranslatorSettings(
        enable_asset_checks=True, enable_source_tests_as_checks=False
    )
)


class InProcessDbt:
    """What `DbtCliInvocation` uses of `subprocess.Popen`, for a dbt command run by dbt's own
    programmatic entry point (`dbtRunner`) in a thread of this process instead of a new Python.

    A dbt process imports dbt before its first model: 5-6 s on the 2-core machine, twice a run.
    In the step's process the import is paid once per run, and cheaper (Dagster has already
    imported much of what dbt needs). dbt's JSON log lines, which a dbt process prints on its
    standard output, arrive on `stdout` through dbt's own capture stream, so dagster-dbt reads
    them as it reads a process's. `returncode` is the dbt CLI's: 0 success, 1 a node failed or
    a test found rows, 2 dbt raised. The environment is the command's for as long as dbt runs
    (dbt reads its flags and `env_var()` from it), and dbt's DuckDB connection is closed when it
    ends, so the step's own connections and other processes can open the warehouse."""

    def __init__(self, args: Sequence[str], env: Mapping[str, str]) -> None:
        self.args = list(args)
        self.returncode: int | None = None
        read, write = os.pipe()
        self.stdout = os.fdopen(read, "rb")
        self._lines = os.fdopen(write, "w", encoding="utf-8", buffering=1)
        self._thread = threading.Thread(
            target=self._run, args=(dict(env),), name="dbt", daemon=True
        )
        self._thread.start()

    def _run(self, env: dict[str, str]) -> None:
        try:
            with environment(env):
                from dbt.cli.main import dbtRunner
                from dbt_common.events.functions import (
                    capture_stdout_logs,
                    stop_capture_stdout_logs,
                )

                capture_stdout_logs(self._lines)
                try:
                    result = dbtRunner().invoke(self.args[1:])  # args[0] is the executable
                finally:
                    stop_capture_stdout_logs()
                    _close_dbt_connections()
            self.returncode = 0 if result.success else 2 if result.exception else 1
        except BaseException as error:  # noqa: BLE001 - the step reads it as dbt's output
            self._lines.write(f"dbt stopped: {error!r}\n")
            self.returncode = 2
        finally:
            self._lines.close()

    def poll(self) -> int | None:
        return None if self._thread.is_alive() else self.returncode

    def wait(self, timeout: float | None = None) -> int | None:
        self._thread.join(timeout)
        if self._thread.is_alive():
            raise subprocess.TimeoutExpired(self.args, timeout or 0)
        return self.returncode

    def send_signal(self, _signal: int) -> None:
        """Stop dbt as Ctrl-C stops a dbt process: KeyboardInterrupt in its thread, raised when
        the thread next runs Python (a DuckDB statement in progress finishes first)."""
        if self._thread.is_alive() and self._thread.ident is not None:
            ctypes.pythonapi.PyThreadState_SetAsyncExc(
                ctypes.c_ulong(self._thread.ident), ctypes.py_object(KeyboardInterrupt)
            )

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)

    kill = terminate


@contextlib.contextmanager
def environment(env: Mapping[str, str]) -> Iterator[None]:
    """`os.environ` holds the variables of `env` inside the block; those it changed are restored
    after it, and only those."""
    changed = {
        name: os.environ.get(name) for name, value in env.items() if os.environ.get(name) != value
    }
    os.environ.update({name: env[name] for name in changed})
    try:
        yield
    finally:
        for name, value in changed.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _close_dbt_connections() -> None:
    """Close what dbt leaves open in the process after a command: its adapters' connections and
    dbt-duckdb's database handle, which holds the warehouse file's lock."""
    from dbt.adapters.duckdb.connections import DuckDBConnectionManager
    from dbt.adapters.factory import reset_adapters

    reset_adapters()
    database = DuckDBConnectionManager._ENV  # dbt-duckdb's environment: the database handle
    if database is not None:
        database.close()
    DuckDBConnectionManager.close_all_connections()


class InProcessDbtCliInvocation(DbtCliInvocation):
    """dagster-dbt's invocation, with dbt run by `InProcessDbt` instead of a process."""

    @classmethod
    def run(  # type: ignore[override]
        cls, args: Sequence[str], env: dict[str, str], dbt_project: DbtProject | None, **kwargs: Any
    ) -> DbtCliInvocation:
        return cls(process=InProcessDbt(args, env), project=dbt_project, **kwargs)


class ShopDbtCliResource(DbtCliResource):
    """dagster-dbt's resource, running dbt in the step's process (InProcessDbt; 4-11 s a run on
    the smallest shops, README "dbt in the step's process") and without two costs paid before
    every dbt command, about 11 s a run: it runs `dbt --version` in a subprocess to learn the
    version (5 s: it imports dbt), and it builds a dbt adapter in the step's process (2 s a
    command) used only by `fetch_column_metadata` and `fetch_row_counts`, which this project does
    not call. The version is the installed
    dbt-core's. dagster-dbt has no in-process mode, so `cli` swaps the invocation class that its
    resource module starts, for as long as the call lasts."""

    @cached_property
    def _cli_version(self) -> Version:
        return Version(version("dbt-core"))

    def _initialize_dbt_core_adapter(self, args: Sequence[str]) -> None:
        return None

    def cli(self, args: Sequence[str], **kwargs: Any) -> DbtCliInvocation:
        module = dagster_dbt.core.resource
        started = module.DbtCliInvocation
        module.DbtCliInvocation = InProcessDbtCliInvocation
        try:
            return super().cli(args, **kwargs)
        finally:
            module.DbtCliInvocation = started


# The dbt installed beside this interpreter, so the venv need not be on PATH.
dbt_resource = ShopDbtCliResource(
    project_dir=dbt_project, dbt_executable=str(Path(sys.executable).with_name("dbt"))
)
