"""`make benchmark FRESH=1`: the first `make run` on a fresh clone, install included (issue 11:
at most 4 minutes on the 2-core machine).

Clones the repository's committed HEAD into a temporary folder (uncommitted changes are not in
the clone, and the result says so) and runs `make run` there as a new user would: only `python3`
on the PATH, no virtual environment active, none of the platform's variables set, and pip's cache
off (`PIP_NO_CACHE_DIR`), so every package is downloaded as on a fresh machine. The output of
`make` is read as it arrives, and the commands `make` echoes mark the phases: creating the venv
and installing the pinned stack, `dbt parse`, then the pipeline (`orchestration.cli run`:
generating the default shop and its first full refresh, split at the run's "Refreshing days"
line). The RSS of the whole process tree is sampled as in `make benchmark`.

Prints the phases and the target, met or missed, and saves benchmarks/fresh-clone.json.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from orchestration.benchmark import (
    RESULTS_DIR,
    _phase,
    _require_success,
    format_bytes,
    format_seconds,
    git_commit,
    machine_info,
    markdown_table,
    measure,
)
from orchestration.settings import REPO_ROOT

RESULT_NAME = "fresh-clone.json"
FIRST_RUN_SECONDS = 4 * 60.0  # the target, install included

# Phases, in order, each starting at the first line of `make`'s output that contains its marker
# (the command make echoes, or the run's first line); the last ends when `make` exits.
PHASES = (
    ("install", "-m venv"),  # make echoes `test -x .venv/bin/python || python3 -m venv .venv`
    ("dbt parse", "dbt parse"),
    ("generate the shop", "-m orchestration.cli run"),
    ("full refresh", "Refreshing days"),
)
# What a new user's shell does not have: a venv of ours, the platform's variables, a test's.
CLEARED = ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME", "DAGSTER_HOME")
CLEARED_PREFIXES = ("DUCKDB_", "SHOP_", "PYTEST", "DBT_", "PIP_")


@dataclass
class PhaseClock:
    """The time each phase's marker first appears in the output, from the command's start."""

    started: float
    marks: dict[str, float]

    def see(self, line: str) -> None:
        for name, marker in PHASES:
            if name not in self.marks and marker in line:
                self.marks[name] = time.perf_counter() - self.started
                _phase(f"{name} ...")

    def seconds(self, total: float) -> dict[str, float | None]:
        """Each phase's duration; None for a phase whose marker never appeared."""
        seen = [(name, self.marks[name]) for name, _ in PHASES if name in self.marks]
        ends = [start for _, start in seen[1:]] + [total]
        durations: dict[str, float | None] = {name: None for name, _ in PHASES}
        for (name, start), end in zip(seen, ends, strict=True):
            durations[name] = round(end - start, 3)
        return durations


def fresh_environment(home: Path) -> dict[str, str]:
    """The environment of a new user's shell: this one without the platform's variables, a venv
    on the PATH or a pip cache; HOME in the benchmark's folder, so nothing cached there is
    found either."""
    venv_bins = {str(Path(sys.prefix) / "bin"), str(REPO_ROOT / ".venv" / "bin")}
    path = os.pathsep.join(
        entry for entry in os.environ.get("PATH", "").split(os.pathsep) if entry not in venv_bins
    )
    env = {
        name: value
        for name, value in os.environ.items()
        if name not in CLEARED and not name.startswith(CLEARED_PREFIXES)
    }
    return {
        **env,
        "PATH": path,
        "HOME": str(home),
        "PIP_NO_CACHE_DIR": "1",
        "PYTHONUNBUFFERED": "1",
    }


def run_fresh(keep: bool = False) -> dict[str, Any]:
    root = Path(tempfile.mkdtemp(prefix="shop-benchmark-fresh-"))
    clone = root / "clone"
    try:
        _phase(f"cloning {REPO_ROOT} (committed HEAD) into {clone}")
        subprocess.run(["git", "clone", "--quiet", str(REPO_ROOT), str(clone)], check=True)
        (root / "home").mkdir()
        env = fresh_environment(root / "home")
        _phase("make run (install included), as a new user on a fresh clone")
        clock = PhaseClock(time.perf_counter(), {})
        measured = measure(["make", "run"], env, on_line=clock.see, cwd=clone)
        _require_success("make run on the fresh clone", measured)
        phases = clock.seconds(measured.seconds)
        _phase(f"make run finished in {format_seconds(measured.seconds)}")
        return {
            "date": datetime.now(UTC).isoformat(timespec="seconds"),
            "git": git_commit(),
            "machine": machine_info(),
            "command": "make run",
            "pip_cache": False,
            "total_seconds": round(measured.seconds, 3),
            "peak_rss_bytes": measured.peak,
            "phases_seconds": phases,
            "target": {
                "target": "first make run on a fresh clone, install included <= 4 min",
                "value": round(measured.seconds, 3),
                "limit": FIRST_RUN_SECONDS,
                "met": measured.seconds <= FIRST_RUN_SECONDS,
            },
        }
    finally:
        if keep:
            print(f"Kept the benchmark's folder: {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)


def report_fresh(result: dict[str, Any], path: Path) -> None:
    git = result["git"]
    print(
        f"\n=== The first make run on a fresh clone of {git['commit'][:10]}, install included "
        f"(pip's cache off): {result['machine']['cpu_count']} CPUs ==="
    )
    if git["uncommitted_changes"]:
        print("(the working copy has uncommitted changes: the clone has the committed HEAD only)")
    rows = [
        [name, format_seconds(seconds) if seconds is not None else "not seen"]
        for name, seconds in result["phases_seconds"].items()
    ]
    rows.append(["total (make run, start to exit)", format_seconds(result["total_seconds"])])
    rows.append(["peak RSS, whole process tree", format_bytes(result["peak_rss_bytes"])])
    print(markdown_table(["phase", "wall"], rows))
    target = result["target"]
    verdict = "met" if target["met"] else "MISSED"
    print(f"\n  {target['target']:<62} {format_seconds(target['value']):>8}  {verdict}")
    print(f"\nSaved: {path}")


def main_fresh(keep: bool = False) -> int:
    """`--fresh-clone`: run, print, save benchmarks/fresh-clone.json."""
    result = run_fresh(keep=keep)
    RESULTS_DIR.mkdir(exist_ok=True)
    path = RESULTS_DIR / RESULT_NAME
    path.write_text(json.dumps(result, indent=2) + "\n")
    report_fresh(result, path)
    return 0
