"""Every path, schema and name the platform uses, defined once.

Paths come from the environment so Dagster, dbt and the tests agree; relative values are resolved
from the repository root. DUCKDB_PATH is written back to the environment as an absolute path
because dbt's profile (dbt_project/profiles.yml) reads the same variable from a different folder.
"""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


def _path_from_env(variable: str, default: str) -> Path:
    path = Path(os.environ.get(variable) or default).expanduser()
    return path if path.is_absolute() else (REPO_ROOT / path).resolve()


DUCKDB_PATH = _path_from_env("DUCKDB_PATH", "data/warehouse.duckdb")
os.environ["DUCKDB_PATH"] = str(DUCKDB_PATH)

DATA_DIR = DUCKDB_PATH.parent
LANDING_DIR = _path_from_env("LANDING_DIR", str(DATA_DIR / "landing"))
TRUTH_DIR = _path_from_env(
    "TRUTH_DIR", str(DATA_DIR / "truth")
)  # synthetic shop only; never read by assets
MODEL_DIR = DATA_DIR / "models"
EXPORT_DIR = DATA_DIR / "exports"
REPORT_DIR = DATA_DIR / "reports"

STATE_DIR = REPO_ROOT / ".state"
DAGSTER_HOME = _path_from_env("DAGSTER_HOME", str(STATE_DIR / "dagster"))

DBT_PROJECT_DIR = REPO_ROOT / "dbt_project"
EXPECTATIONS_DIR = REPO_ROOT / "expectations"

# Every step that opens the DuckDB file claims a slot in this pool; the instance allows one slot,
# so a scheduled run, a UI launch and `make run` never collide on DuckDB's single-writer lock.
DUCKDB_POOL = "duckdb"

RAW_SCHEMA = "raw"
SCORES_SCHEMA = "scores"
SOURCE_TABLES = ("customers", "products", "orders", "order_items", "web_events")

# Scored tables written by Python assets (customer_360 is a dbt model in the same schema).
SEGMENTS_TABLE = "customer_segments"
CHURN_TABLE = "churn_scores"
RECOMMENDATIONS_TABLE = "recommendations"
CUSTOMER_360_TABLE = "customer_360"
SCORED_TABLES = (SEGMENTS_TABLE, CHURN_TABLE, RECOMMENDATIONS_TABLE, CUSTOMER_360_TABLE)

REFRESH_JOB = "refresh_all"
REFRESH_CRON = os.environ.get("REFRESH_CRON", "0 5 * * *")  # daily, 05:00
REFRESH_TIMEZONE = os.environ.get("REFRESH_TIMEZONE", "UTC")

N_RECOMMENDATIONS = 10
