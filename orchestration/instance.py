"""The persistent Dagster instance kept in the repository's ignored state folder."""

from __future__ import annotations

import os
from pathlib import Path

from orchestration.settings import DAGSTER_HOME, DUCKDB_POOL

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
"""


def ensure_instance(home: Path = DAGSTER_HOME) -> Path:
    """Create DAGSTER_HOME with the platform's dagster.yaml and point the environment at it."""
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    if not config.exists() or config.read_text() != INSTANCE_YAML:
        config.write_text(INSTANCE_YAML)
    os.environ["DAGSTER_HOME"] = str(home)
    return home
