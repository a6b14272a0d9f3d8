"""Every path, schema and name the platform uses, defined once.

Everything deployment-specific comes from the config file named by SHOP_CONFIG (default
configs/synthetic.yml), so Dagster, dbt and the tests agree. DUCKDB_PATH is written to the
environment as an absolute path because dbt's profile (dbt_project/profiles.yml) reads it.
"""

from __future__ import annotations

import os
from pathlib import Path

from landing import CANONICAL_COLUMNS, load_config

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CONFIG = REPO_ROOT / "configs" / "synthetic.yml"

# The deployment: sources, model settings, where data lives (`make run CONFIG=...` sets SHOP_CONFIG).
CONFIG_PATH = Path(os.environ.get("SHOP_CONFIG") or DEFAULT_CONFIG).expanduser().resolve()
CONFIG = load_config(CONFIG_PATH)

DATA_DIR = CONFIG.resolve(CONFIG.data_dir)
DUCKDB_PATH = DATA_DIR / "warehouse.duckdb"
os.environ["DUCKDB_PATH"] = str(DUCKDB_PATH)  # dbt's profile reads it
MODEL_DIR = DATA_DIR / "models"
EXPORT_DIR = DATA_DIR / "exports"
REPORT_DIR = DATA_DIR / "reports"
# The synthetic shop's generated landing files and hidden truth (tests read the truth; assets never).
LANDING_DIR = CONFIG.resolve(CONFIG.synthetic.landing_dir) if CONFIG.synthetic else None
TRUTH_DIR = CONFIG.resolve(CONFIG.synthetic.truth_dir) if CONFIG.synthetic else None

STATE_DIR = REPO_ROOT / ".state" / CONFIG.name
DAGSTER_HOME = Path(os.environ.get("DAGSTER_HOME") or STATE_DIR / "dagster").resolve()

DBT_PROJECT_DIR = REPO_ROOT / "dbt_project"
EXPECTATIONS_DIR = REPO_ROOT / "expectations"

# Every step that opens the DuckDB file claims a slot in this pool; the instance allows one slot,
# so a scheduled run, a UI launch and `make run` never collide on DuckDB's single-writer lock.
DUCKDB_POOL = "duckdb"

RAW_SCHEMA = "raw"
SCORES_SCHEMA = "scores"
SOURCE_TABLES = tuple(CANONICAL_COLUMNS)  # raw tables; each exists, empty if not configured

MODEL_RUNS_TABLE = "model_runs"  # every training run and its promotion decision (history)
# The scored tables and their columns are declared in dbt: see orchestration/lib/scores.py.

REFRESH_JOB = "refresh_all"
REFRESH_CRON = os.environ.get("REFRESH_CRON", "0 5 * * *")  # daily, 05:00
REFRESH_TIMEZONE = os.environ.get("REFRESH_TIMEZONE", "UTC")
