"""`make benchmark SIZE=30k|300k|1m|<customers>`: the pipeline's cost at a shop size.

Generates the synthetic shop at that size in a temporary folder (the repository's warehouse,
Dagster instance and state are untouched) and runs, through Dagster exactly as `make run` does
(`python -m orchestration.cli run`): a full refresh on a cold warehouse, a second full refresh,
and a one-day refresh of the data's last day (`--days`). A background thread samples the RSS of
each run's whole process tree (the run, which runs dbt too, and any child) every 0.2 s; each
sample is attributed to the stage whose step was running (the steps' start and end times are read
from the run's Dagster instance afterwards; orchestration.summary.stage_of names the stage).

Then, on the same warehouse: the time to load the code location, the rows per raw table, and the
customer-feature dbt models side by side with a bare DuckDB `group by customer_id` over the same
order lines and a straightforward pandas computation of the same features
(orchestration/benchmark_features.py).

Prints one table and the targets (issue 11), met or missed, and saves everything as
benchmarks/<size>.json; the previous file of that size is compared first, so a regression shows.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import psutil
import yaml

from orchestration.benchmark_features import pandas_features
from orchestration.settings import (
    DBT_PROJECT_DIR,
    DEFAULT_DUCKDB_MEMORY_LIMIT,
    DUCKDB_MEMORY_LIMIT_VARIABLE,
    RAW_SCHEMA,
    REPO_ROOT,
)
from orchestration.summary import STAGES, stage_of
from simulator import ShopConfig

if TYPE_CHECKING:  # Dagster is imported when the first run has finished
    from dagster import DagsterInstance

RESULTS_DIR = REPO_ROOT / "benchmarks"
DEFAULT_SIZE = "30k"
SAMPLE_SECONDS = 0.2
MIB = 1024**2
GIB = 1024**3

# Beside orchestration.summary.STAGES: the time no step covers.
OUTSIDE_STEPS = "outside steps"  # process start, loading definitions, Dagster's own bookkeeping

RUNS = (
    ("full_1", "full refresh 1 (cold)"),
    ("full_2", "full refresh 2"),
    ("one_day", "one-day refresh"),
)

# Targets (issue 11). Sizes in customers for the ones that apply at one size only.
FULL_REFRESH_30K_SECONDS = 90.0
FULL_REFRESH_1M_SECONDS = 15 * 60.0
PEAK_MEMORY_1M_BYTES = 8 * GIB
ONE_DAY_SHARE = 0.20
CODE_LOCATION_SECONDS = 5.0
CODE_LOCATION_SAMPLES = 3  # fresh processes; the median is reported
DBT_OVER_DUCKDB_MAX = 5.0
PANDAS_OVER_DBT_MIN = 3.0
# Each stage's time from 300k to 1m grows no faster than the data (3.33x the customers).
GROWTH_SIZES = ("300k", "1m")
GROWTH_MAX = 3.5
GROWTH_MIN_SECONDS = 5.0  # a stage shorter than this at both sizes is too short to compare
GROWTH_RUNS = ("full_2", "one_day")

FEATURE_MODELS = ("customer_feature_snapshots", "customer_features")
# `make run`'s command, with the run log kept in the benchmark's folder instead of the
# repository's .state (Settings.state_dir); everything else is orchestration.cli unchanged.
CLI_BOOTSTRAP = (
    "import sys; from pathlib import Path; import orchestration.settings as s; "
    "s.Settings.state_dir = property(lambda self: Path(sys.argv[1])); "
    "from orchestration.cli import main; sys.exit(main(sys.argv[2:]))"
)
RUN_ID = re.compile(r"run ([0-9a-f-]{36}) in the instance at")


# ----------------------------------------------------------------------------------------------
# Pure helpers (tests/test_benchmark.py)


def parse_size(text: str) -> int:
    """Customers for a SIZE: "30k" -> 30,000, "1m" -> 1,000,000, "1.5m", "3000", "30_000"."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([km]?)\s*", text.replace("_", "").lower())
    if not match:
        raise ValueError(f"SIZE={text!r}: expected a number of customers such as 3000, 30k or 1m")
    number, suffix = match.groups()
    customers = float(number) * {"": 1, "k": 1_000, "m": 1_000_000}[suffix]
    if customers < 1 or customers != int(customers):
        raise ValueError(f"SIZE={text!r}: expected a whole number of customers, at least 1")
    return int(customers)


def size_label(customers: int) -> str:
    """The name of a size's result file: 30k, 300k, 1m; other counts as digits (2000)."""
    if customers >= 1_000_000 and customers % 1_000_000 == 0:
        return f"{customers // 1_000_000}m"
    if customers >= 10_000 and customers % 1_000 == 0:
        return f"{customers // 1_000}k"
    return str(customers)


@dataclass(frozen=True)
class StepWindow:
    """One step of a run: its stage and when it ran (seconds since the epoch)."""

    stage: str
    start: float
    end: float


def stage_seconds(windows: Iterable[StepWindow], total_seconds: float) -> dict[str, float]:
    """Wall time per stage (the sum of its steps), every stage of STAGES present, and the time no
    step covers (OUTSIDE_STEPS: total minus all steps, at least 0)."""
    seconds = dict.fromkeys(STAGES, 0.0)
    for window in windows:
        seconds[window.stage] = seconds.get(window.stage, 0.0) + (window.end - window.start)
    seconds[OUTSIDE_STEPS] = max(total_seconds - sum(seconds.values()), 0.0)
    return seconds


def stage_peaks(
    samples: Iterable[tuple[float, int]], windows: Sequence[StepWindow]
) -> dict[str, int]:
    """The peak of the samples (time, RSS bytes) taken while each stage's steps ran; a sample in
    no step's window counts for OUTSIDE_STEPS. Stages without a sample are left out."""
    ordered = sorted(windows, key=lambda window: window.start)
    peaks: dict[str, int] = {}
    for at, rss in samples:
        stage = next(
            (window.stage for window in ordered if window.start <= at <= window.end),
            OUTSIDE_STEPS,
        )
        peaks[stage] = max(peaks.get(stage, 0), rss)
    return peaks


def format_seconds(seconds: float | None) -> str:
    if seconds is None:
        return ""
    if seconds >= 100:
        return f"{seconds:,.0f} s"
    return f"{seconds:.1f} s" if seconds >= 1 else f"{seconds:.2f} s"


def format_bytes(value: int | None) -> str:
    if not value:
        return ""
    return f"{value / GIB:.2f} GiB" if value >= GIB else f"{value / MIB:,.0f} MiB"


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A Markdown table padded to line up in a terminal; numbers right-aligned."""
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]

    def line(cells: Sequence[str]) -> str:
        padded = [
            cell.ljust(width) if i == 0 else cell.rjust(width)
            for i, (cell, width) in enumerate(zip(cells, widths, strict=True))
        ]
        return "| " + " | ".join(padded) + " |"

    rule = "|" + "|".join(
        ("-" * (w + 2) if i == 0 else "-" * (w + 1) + ":") for i, w in enumerate(widths)
    )
    return "\n".join([line(header), rule + "|", *(line(row) for row in rows)])


# ----------------------------------------------------------------------------------------------
# Measuring processes


class TreeSampler(threading.Thread):
    """Samples the RSS summed over a process and all its descendants every SAMPLE_SECONDS."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.process = psutil.Process(pid)
        self.samples: list[tuple[float, int]] = []
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            self.sample()
            self.stop.wait(SAMPLE_SECONDS)

    def sample(self) -> None:
        try:
            processes = [self.process, *self.process.children(recursive=True)]
        except psutil.Error:
            return
        total = 0
        for process in processes:
            try:
                total += process.memory_info().rss
            except psutil.Error:
                continue  # ended between listing and reading
        if total:
            self.samples.append((time.time(), total))


@dataclass
class Measured:
    seconds: float
    samples: list[tuple[float, int]]
    output: str
    returncode: int

    @property
    def peak(self) -> int:
        return max((rss for _, rss in self.samples), default=0)


def measure(
    command: Sequence[str],
    env: dict[str, str],
    on_line: Callable[[str], None] | None = None,
    cwd: Path = REPO_ROOT,
) -> Measured:
    """Run a command in `cwd`, its output collected (and each line passed to on_line), the RSS
    of its process tree sampled; wall seconds from start to exit."""
    started = time.perf_counter()
    process = subprocess.Popen(
        command,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=cwd,
    )
    sampler = TreeSampler(process.pid)
    sampler.start()
    lines = []
    assert process.stdout is not None
    for line in process.stdout:
        lines.append(line)
        if on_line:
            on_line(line.rstrip("\n"))
    returncode = process.wait()
    seconds = time.perf_counter() - started
    sampler.stop.set()
    sampler.join()
    return Measured(seconds, sampler.samples, "".join(lines), returncode)


def _require_success(what: str, measured: Measured) -> None:
    if measured.returncode != 0:
        sys.exit(
            f"{what} failed (exit {measured.returncode}); its last output:\n{measured.output[-6000:]}"
        )


def _phase(message: str) -> None:
    print(f"[{datetime.now():%H:%M:%S}] {message}", flush=True)


def _forward_progress(line: str) -> None:
    if line.startswith("  [") or line.startswith("Refreshing days"):
        print("    " + line.strip(), flush=True)


# ----------------------------------------------------------------------------------------------
# The benchmark


@dataclass
class RunResult:
    name: str
    title: str
    run_id: str
    status: str
    total_seconds: float
    peak_bytes: int
    seconds: dict[str, float]
    peaks: dict[str, int]
    failed_steps: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {
            "title": self.title,
            "run_id": self.run_id,
            "status": self.status,
            "total_seconds": round(self.total_seconds, 3),
            "peak_rss_bytes": self.peak_bytes,
            "stages": {
                stage: {
                    "seconds": round(self.seconds.get(stage, 0.0), 3),
                    "peak_rss_bytes": self.peaks.get(stage),
                }
                for stage in (*STAGES, OUTSIDE_STEPS)
            },
            "failed_steps": self.failed_steps,
        }


class Benchmark:
    def __init__(self, customers: int, root: Path) -> None:
        self.customers = customers
        self.root = root
        self.python = sys.executable
        self.warehouse = root / "warehouse.duckdb"
        self.env = {
            **os.environ,
            "SHOP_CONFIG": str(root / "config.yml"),
            "DAGSTER_HOME": str(root / "dagster"),
            "DUCKDB_PATH": str(self.warehouse),
            "PYTHONUNBUFFERED": "1",
        }
        self._instance = None

    def write_config(self) -> None:
        config = yaml.safe_load((REPO_ROOT / "configs" / "synthetic.yml").read_text())
        config["data_dir"] = str(self.root)
        config["synthetic"] |= {
            "customers": self.customers,
            "landing_dir": str(self.root / "landing"),
            "truth_dir": str(self.root / "truth"),
        }
        for table, source in config["sources"].items():
            source["path"] = str(self.root / "landing" / f"{table}.parquet")
        (self.root / "config.yml").write_text(yaml.safe_dump(config))

    def generate(self) -> Measured:
        command = [
            self.python,
            "-m",
            "simulator",
            "--customers",
            str(self.customers),
            "--out",
            str(self.root / "landing"),
            "--truth",
            str(self.root / "truth"),
            "--no-progress",
        ]
        measured = measure(command, self.env)
        _require_success("The generator", measured)
        return measured

    @property
    def instance(self) -> DagsterInstance:
        """The benchmark's Dagster instance (DAGSTER_HOME in the temporary folder)."""
        if self._instance is None:
            os.environ["DAGSTER_HOME"] = self.env["DAGSTER_HOME"]
            from dagster import DagsterInstance

            self._instance = DagsterInstance.get()
        return self._instance

    def close(self) -> None:
        if self._instance is not None:
            self._instance.dispose()
            self._instance = None

    def refresh(self, name: str, title: str, extra: Sequence[str]) -> RunResult:
        command = [
            self.python,
            "-c",
            CLI_BOOTSTRAP,
            str(self.root / "state"),
            "run",
            *extra,
        ]
        measured = measure(command, self.env, _forward_progress)
        found = RUN_ID.search(measured.output)
        if not found:
            _require_success(title, measured)
            sys.exit(f"{title}: no run id in the output:\n{measured.output[-3000:]}")
        run_id = found.group(1)

        windows, failed = [], []
        for stats in self.instance.get_run_step_stats(run_id):
            if stats.start_time and stats.end_time:
                windows.append(
                    StepWindow(stage_of(stats.step_key), stats.start_time, stats.end_time)
                )
            if stats.status and stats.status.value != "SUCCESS":
                failed.append(f"{stats.step_key} ({stats.status.value.lower()})")
        run = self.instance.get_run_by_id(run_id)
        result = RunResult(
            name=name,
            title=title,
            run_id=run_id,
            status=run.status.value if run else "unknown",
            total_seconds=measured.seconds,
            peak_bytes=measured.peak,
            seconds=stage_seconds(windows, measured.seconds),
            peaks=stage_peaks(measured.samples, windows),
            failed_steps=failed,
        )
        if measured.returncode != 0 or failed:
            print(measured.output[-6000:])
            sys.exit(
                f"{title}: run {run_id} did not succeed ({', '.join(failed) or result.status}); "
                "--keep keeps the benchmark's folder (warehouse, run log) to look into it"
            )
        return result

    def code_location(self) -> dict[str, Any]:
        """A fresh process importing orchestration.definitions and building defs(), started
        CODE_LOCATION_SAMPLES times: the median, as one 4-second process on a shared machine
        varies by a second from one start to the next."""
        code = (
            "import time; started = time.perf_counter(); "
            "from orchestration.definitions import defs; defs(); "
            "print(time.perf_counter() - started)"
        )
        samples = []
        for _ in range(CODE_LOCATION_SAMPLES):
            measured = measure([self.python, "-c", code], self.env)
            _require_success("Loading the code location", measured)
            samples.append((measured, float(measured.output.strip().splitlines()[-1])))
        samples.sort(key=lambda sample: sample[0].seconds)
        median, in_process = samples[len(samples) // 2]
        return {
            "seconds": round(median.seconds, 3),
            "import_and_build_seconds": round(in_process, 3),
            "samples_seconds": [round(sample.seconds, 3) for sample, _ in samples],
            "peak_rss_bytes": max(sample.peak for sample, _ in samples),
        }

    def raw_rows(self) -> dict[str, int]:
        import duckdb

        with duckdb.connect(str(self.warehouse), read_only=True) as conn:
            tables = [
                name
                for (name,) in conn.execute(
                    "select table_name from information_schema.tables "
                    "where table_schema = ? and table_type = 'BASE TABLE' order by 1",
                    [RAW_SCHEMA],
                ).fetchall()
            ]
            return {
                table: conn.execute(f'select count(*) from "{RAW_SCHEMA}"."{table}"').fetchone()[0]
                for table in tables
            }

    def side_by_side(self) -> dict[str, Any]:
        from orchestration.settings import get_settings

        os.environ["SHOP_CONFIG"] = self.env["SHOP_CONFIG"]
        get_settings.cache_clear()
        dbt_vars = get_settings().config.dbt_vars()
        _phase("side by side 1/3: dbt run --select " + " ".join(FEATURE_MODELS))
        target = self.root / "dbt_side_by_side"
        command = [
            str(Path(self.python).with_name("dbt")),
            "run",
            "--select",
            *FEATURE_MODELS,
            "--vars",
            json.dumps(dbt_vars),
            "--project-dir",
            str(DBT_PROJECT_DIR),
            "--profiles-dir",
            str(DBT_PROJECT_DIR),
            "--target-path",
            str(target),
            "--log-path",
            str(self.root / "dbt_logs"),
        ]
        measured = measure(command, self.env)
        _require_success("dbt run of the feature models", measured)
        run_results = json.loads((target / "run_results.json").read_text())
        model_seconds = {
            result["unique_id"].rsplit(".", 1)[-1]: result["execution_time"]
            for result in run_results["results"]
        }
        dbt = {
            "models_seconds": round(sum(model_seconds.values()), 3),
            "per_model_seconds": {k: round(v, 3) for k, v in model_seconds.items()},
            "process_seconds": round(measured.seconds, 3),
            "peak_rss_bytes": measured.peak,
        }
        _phase("side by side 2/3: bare DuckDB group by customer_id over marts.fct_order_items")
        duckdb_seconds, groups = bare_group_by(self.warehouse)
        _phase("side by side 3/3: pandas, every feature of customer_feature_snapshots")
        pandas_result = pandas_features(self.warehouse)
        return {
            "dbt": dbt,
            "duckdb_group_by": {"seconds": round(duckdb_seconds, 3), "customers": groups},
            "pandas": pandas_result,
        }


BARE_GROUP_BY = """
select customer_id, count(*) as lines, sum(net_amount) as amount,
       min(ordered_at) as first_ordered_at, max(ordered_at) as last_ordered_at
from marts.fct_order_items
group by customer_id
"""


def bare_group_by(warehouse: Path) -> tuple[float, int]:
    """Seconds for the bare aggregation over the order lines (result fetched as Arrow)."""
    import duckdb

    with duckdb.connect(str(warehouse), read_only=True) as conn:
        started = time.perf_counter()
        table = conn.sql(BARE_GROUP_BY).to_arrow_table()  # (execute() would copy the rows)
        return time.perf_counter() - started, table.num_rows


# ----------------------------------------------------------------------------------------------
# Report


def machine_info() -> dict[str, Any]:
    return {
        "cpu_count": os.cpu_count(),
        "total_memory_bytes": psutil.virtual_memory().total,
        "platform": platform.platform(),
        "python": platform.python_version(),
    }


def git_commit() -> dict[str, Any]:
    def git(*args: str) -> str:
        result = subprocess.run(
            ["git", *args], cwd=REPO_ROOT, capture_output=True, text=True, check=False
        )
        return result.stdout.strip()

    # Changes to the code measured; earlier results saved in RESULTS_DIR are not code.
    changed = git(
        "status", "--porcelain", "--untracked-files=no", "--", ".", f":!{RESULTS_DIR.name}"
    )
    return {
        "commit": git("rev-parse", "HEAD"),
        "uncommitted_changes": bool(changed),
    }


def targets(result: dict[str, Any]) -> list[dict[str, Any]]:
    """Each target of issue 11 the benchmark can check: value, limit, met; None when the target
    is for another size."""
    customers = result["customers"]
    runs = result["runs"]
    full = runs["full_2"]["total_seconds"]
    one_day = runs["one_day"]["total_seconds"]
    peak = max(run["peak_rss_bytes"] for run in runs.values())
    side = result["side_by_side"]
    dbt_seconds = side["dbt"]["models_seconds"]
    checks = [
        (
            "full refresh (second) at 30k <= 90 s",
            customers == 30_000,
            full,
            FULL_REFRESH_30K_SECONDS,
            True,
            format_seconds,
        ),
        (
            "one-day refresh <= 20% of the full refresh",
            True,
            one_day / full,
            ONE_DAY_SHARE,
            True,
            lambda v: f"{v:.0%}",
        ),
        (
            "code location load < 5 s",
            True,
            result["code_location"]["seconds"],
            CODE_LOCATION_SECONDS,
            True,
            format_seconds,
        ),
        (
            "full refresh (second) at 1m <= 15 min",
            customers == 1_000_000,
            full,
            FULL_REFRESH_1M_SECONDS,
            True,
            format_seconds,
        ),
        (
            "peak memory at 1m <= 8 GiB",
            customers == 1_000_000,
            peak,
            PEAK_MEMORY_1M_BYTES,
            True,
            format_bytes,
        ),
        (
            "feature models / bare DuckDB group by <= 5",
            True,
            dbt_seconds / max(side["duckdb_group_by"]["seconds"], 1e-9),
            DBT_OVER_DUCKDB_MAX,
            True,
            lambda v: f"{v:.1f}x",
        ),
        (
            "pandas / feature models >= 3",
            True,
            side["pandas"]["compute_seconds"] / max(dbt_seconds, 1e-9),
            PANDAS_OVER_DBT_MIN,
            False,
            lambda v: f"{v:.1f}x",
        ),
    ]
    return [
        {
            "target": name,
            "value": value,
            "shown": show(value),
            "limit": limit,
            "met": (value <= limit if at_most else value >= limit) if applies else None,
        }
        for name, applies, value, limit, at_most, show in checks
    ]


def table(result: dict[str, Any]) -> str:
    runs = result["runs"]
    header = ["stage"]
    for run in runs.values():
        header += [f"{run['title']}", "peak RSS"]
    rows = []
    for stage in (*STAGES, OUTSIDE_STEPS):
        row = [stage]
        for run in runs.values():
            cell = run["stages"][stage]
            row += [format_seconds(cell["seconds"]), format_bytes(cell["peak_rss_bytes"])]
        rows.append(row)
    rows.append(
        ["total (process start to exit)"]
        + [
            cell
            for run in runs.values()
            for cell in (format_seconds(run["total_seconds"]), format_bytes(run["peak_rss_bytes"]))
        ]
    )
    blank = [""] * (len(header) - 3)
    generator = result["generator"]
    rows.append(
        [
            f"generator ({result['customers']:,} customers)",
            format_seconds(generator["seconds"]),
            format_bytes(generator["peak_rss_bytes"]),
            *blank,
        ]
    )
    code = result["code_location"]
    rows.append(
        [
            f"code location load (import + defs(), median of {len(code['samples_seconds'])})",
            format_seconds(code["seconds"]),
            format_bytes(code["peak_rss_bytes"]),
            *blank,
        ]
    )
    for name, count in result["raw_rows"].items():
        rows.append([f"rows {RAW_SCHEMA}.{name}", f"{count:,}", "", *blank])
    return markdown_table(header, rows)


def side_by_side_lines(result: dict[str, Any]) -> list[str]:
    side = result["side_by_side"]
    dbt, bare, pandas_ = side["dbt"], side["duckdb_group_by"], side["pandas"]
    lines = [
        f"  dbt models {' + '.join(FEATURE_MODELS)}: {format_seconds(dbt['models_seconds'])} "
        f"(dbt's own timing; the `dbt run` process, parse and start included: "
        f"{format_seconds(dbt['process_seconds'])}, peak {format_bytes(dbt['peak_rss_bytes'])})",
        f"  bare DuckDB group by customer_id over marts.fct_order_items (count, sum of "
        f"net_amount, min/max ordered_at; {bare['customers']:,} customers): "
        f"{bare['seconds']:.2f} s",
        f"  pandas, the model's {len(pandas_['features'])} features x {pandas_['rows']:,} customer "
        f"snapshots: {format_seconds(pandas_['compute_seconds'])} computing (+ "
        f"{format_seconds(pandas_['read_seconds'])} reading the tables from DuckDB, not counted)",
    ]
    mismatched = pandas_["mismatched_values"]
    lines.append(
        "    pandas and dbt agree on every value"
        if not mismatched
        else "    pandas differs from marts.customer_feature_snapshots: "
        + ", ".join(f"{name} {count:,}" for name, count in mismatched.items())
    )
    return lines


def growth(small: dict[str, Any], large: dict[str, Any]) -> list[dict[str, Any]]:
    """Each stage of the second full refresh and of the one-day refresh, and their totals, from
    the smaller size's result to the larger one's: seconds at each, the ratio, and whether it is
    at most GROWTH_MAX (None for a stage under GROWTH_MIN_SECONDS at both sizes)."""
    rows = []
    for name in GROWTH_RUNS:
        before, after = small["runs"][name], large["runs"][name]
        cells = [
            (stage, before["stages"][stage]["seconds"], after["stages"][stage]["seconds"])
            for stage in (*STAGES, OUTSIDE_STEPS)
        ]
        cells.append(("total", before["total_seconds"], after["total_seconds"]))
        for stage, then, now in cells:
            if max(then, now) < GROWTH_MIN_SECONDS:
                ratio, met = None, None
            else:
                ratio = now / then if then else float("inf")
                met = ratio <= GROWTH_MAX
            rows.append(
                {
                    "run": before["title"],
                    "stage": stage,
                    "small_seconds": then,
                    "large_seconds": now,
                    "ratio": ratio,
                    "met": met,
                }
            )
    return rows


def growth_lines(small: dict[str, Any], large: dict[str, Any]) -> list[str]:
    """The growth table, with what the two results are and how the data and the generator (code
    no commit of the pipeline changes: the machine's speed that hour) grew between them."""

    def data_rows(result: dict[str, Any]) -> int:
        return sum(result["raw_rows"].get(table, 0) for table in ("order_lines", "web_events"))

    lines = [
        f"Growth {small['size']} -> {large['size']} (at most {GROWTH_MAX}x per stage): "
        f"{small['size']} at {small['git']['commit'][:10]} ({small['date']}), "
        f"{large['size']} at {large['git']['commit'][:10]} ({large['date']})",
    ]
    if small["git"]["commit"] != large["git"]["commit"]:
        lines.append("  the two results are of different commits: compare with care")
    lines.append(
        f"  data: customers {large['customers'] / small['customers']:.2f}x, order lines and web "
        f"events {data_rows(large) / max(data_rows(small), 1):.2f}x; the generator took "
        f"{large['generator']['seconds'] / small['generator']['seconds']:.2f}x as long"
    )
    verdicts = {True: "met", False: "MISSED", None: "too short to compare"}
    rows = [
        [
            row["run"],
            row["stage"],
            format_seconds(row["small_seconds"]),
            format_seconds(row["large_seconds"]),
            f"{row['ratio']:.2f}x" if row["ratio"] is not None else "",
            verdicts[row["met"]],
        ]
        for row in growth(small, large)
    ]
    header = ["run", "stage", small["size"], large["size"], "ratio", ""]
    lines.append(markdown_table(header, rows))
    return lines


def comparison_rows(previous: dict[str, Any], result: dict[str, Any]) -> list[list[str]]:
    """The previous result's totals beside the new ones, with new / previous."""

    def totals(data: dict[str, Any]) -> dict[str, tuple[float, Callable[[float], str]]]:
        values: dict[str, tuple[float, Callable[[float], str]]] = {
            "generator wall": (data["generator"]["seconds"], format_seconds),
            "generator peak": (data["generator"]["peak_rss_bytes"], format_bytes),
        }
        for run in data["runs"].values():
            values[f"{run['title']} wall"] = (run["total_seconds"], format_seconds)
            values[f"{run['title']} peak"] = (run["peak_rss_bytes"], format_bytes)
        values["code location load"] = (data["code_location"]["seconds"], format_seconds)
        side = data["side_by_side"]
        values["feature models (dbt)"] = (side["dbt"]["models_seconds"], format_seconds)
        values["bare DuckDB group by"] = (side["duckdb_group_by"]["seconds"], format_seconds)
        values["pandas features"] = (side["pandas"]["compute_seconds"], format_seconds)
        return values

    try:
        before = totals(previous)
    except (KeyError, TypeError):
        return []
    rows = []
    for name, (now, show) in totals(result).items():
        if name not in before:
            continue
        then = before[name][0]
        ratio = f"{now / then:.2f}" if then else ""
        rows.append([name, show(then), show(now), ratio])
    return rows


def run_benchmark(customers: int, keep: bool = False) -> dict[str, Any]:
    folder = tempfile.mkdtemp(prefix="shop-benchmark-")
    root = Path(folder)
    started = time.perf_counter()
    bench = Benchmark(customers, root)
    try:
        bench.write_config()
        _phase(f"generating the synthetic shop, {customers:,} customers, in {root}")
        generated = bench.generate()
        _phase(
            f"generated in {format_seconds(generated.seconds)}, peak {format_bytes(generated.peak)}"
        )
        last_day = ShopConfig().end_date.isoformat()
        runs = {}
        for (name, title), extra in zip(RUNS, ([], [], ["--days", last_day]), strict=True):
            _phase(f"{title}: python -m orchestration.cli run {' '.join(extra)}".rstrip())
            runs[name] = bench.refresh(name, title, extra)
            _phase(
                f"{title}: {format_seconds(runs[name].total_seconds)}, "
                f"peak {format_bytes(runs[name].peak_bytes)}"
            )
        _phase(f"loading the code location in a fresh process, {CODE_LOCATION_SAMPLES} times")
        code = bench.code_location()
        shown = ", ".join(format_seconds(seconds) for seconds in code["samples_seconds"])
        _phase(f"code location loaded in {format_seconds(code['seconds'])} (median of {shown})")
        raw_rows = bench.raw_rows()
        side = bench.side_by_side()
        _phase("side by side done")
        result = {
            "size": size_label(customers),
            "customers": customers,
            "date": datetime.now(UTC).isoformat(timespec="seconds"),
            "git": git_commit(),
            "machine": machine_info(),
            "benchmark_seconds": round(time.perf_counter() - started, 1),
            "generator": {
                "seconds": round(generated.seconds, 3),
                "peak_rss_bytes": generated.peak,
            },
            "runs": {name: run.as_json() for name, run in runs.items()},
            "code_location": code,
            "raw_rows": raw_rows,
            "side_by_side": side,
        }
        result["targets"] = targets(result)
        return result
    finally:
        bench.close()
        if keep:
            print(f"Kept the benchmark's folder: {root}")
        else:
            import shutil

            shutil.rmtree(root, ignore_errors=True)


def report(result: dict[str, Any], previous: dict[str, Any] | None, path: Path) -> None:
    machine = result["machine"]
    print(
        f"\n=== Benchmark, {result['customers']:,} customers: {machine['cpu_count']} CPUs, "
        f"{machine['total_memory_bytes'] / GIB:.1f} GiB, commit {result['git']['commit'][:10]}"
        f"{' (uncommitted changes)' if result['git']['uncommitted_changes'] else ''} ===\n"
    )
    print(
        "Wall time and peak RSS of the whole process tree (the run and any child process), "
        "per stage;\n'outside steps' is process start, loading definitions and Dagster's "
        "bookkeeping between steps.\n"
    )
    print(table(result))
    print("\nCustomer features side by side, on this warehouse")
    for line in side_by_side_lines(result):
        print(line)
    print("\nTargets (issue 11)")
    for target in result["targets"]:
        verdict = {True: "met", False: "MISSED", None: "not checked at this size"}[target["met"]]
        print(f"  {target['target']:<45} {target['shown']:>12}  {verdict}")
    if previous:
        rows = comparison_rows(previous, result)
        if rows:
            print(
                f"\nAgainst the previous {path.name} ({previous.get('date', '?')}, commit "
                f"{previous.get('git', {}).get('commit', '?')[:10]})"
            )
            print(markdown_table(["", "previous", "now", "now / previous"], rows))
    print(f"\nSaved: {path}")
    if result["size"] in GROWTH_SIZES:
        small, large = (RESULTS_DIR / f"{size}.json" for size in GROWTH_SIZES)
        if small.exists() and large.exists():
            print()
            for line in growth_lines(json.loads(small.read_text()), json.loads(large.read_text())):
                print(line)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m orchestration.benchmark",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--size",
        "--customers",
        default=DEFAULT_SIZE,
        help="customers: 30k (default), 300k, 1m, or any count such as 3000",
    )
    parser.add_argument(
        "--keep", action="store_true", help="keep the temporary folder (warehouse, logs)"
    )
    parser.add_argument(
        "--lines",
        metavar="FILE_SIZE",
        help="instead of the pipeline runs: the line-numbering benchmark on a generated CSV of "
        "this size (200MB, 2GB; orchestration/benchmark_lines.py), saved as "
        "benchmarks/lines-<size>.json",
    )
    parser.add_argument(
        "--lines-dir",
        help="folder for --lines' CSV and warehouse, kept (a file of the same size is reused); "
        "default: a temporary folder, removed",
    )
    parser.add_argument(
        "--lines-memory-limit",
        help="DuckDB memory_limit for --lines' warehouse connection (e.g. 8GB; DuckDB spills to "
        "<warehouse>.tmp beyond it); default: the platform's, as its steps open the warehouse "
        f"(${DUCKDB_MEMORY_LIMIT_VARIABLE}, else {DEFAULT_DUCKDB_MEMORY_LIMIT.replace('%', '%%')} "
        "of RAM)",
    )
    parser.add_argument(
        "--fresh-clone",
        action="store_true",
        help="instead of the pipeline runs: the first `make run` on a fresh clone of the "
        "committed HEAD, install included (orchestration/benchmark_fresh.py), saved as "
        "benchmarks/fresh-clone.json",
    )
    args = parser.parse_args(argv)
    if args.fresh_clone:
        from orchestration.benchmark_fresh import main_fresh

        return main_fresh(keep=args.keep)
    if args.lines:
        from orchestration.benchmark_lines import main_lines, parse_bytes

        try:
            parse_bytes(args.lines)
        except ValueError as error:
            parser.error(str(error))
        return main_lines(args.lines, args.lines_dir, RESULTS_DIR, args.lines_memory_limit)
    try:
        customers = parse_size(args.size)
    except ValueError as error:
        parser.error(str(error))
    path = RESULTS_DIR / f"{size_label(customers)}.json"
    previous = json.loads(path.read_text()) if path.exists() else None
    result = run_benchmark(customers, keep=args.keep)
    RESULTS_DIR.mkdir(exist_ok=True)
    path.write_text(json.dumps(result, indent=2) + "\n")
    report(result, previous, path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
